// SPDX-License-Identifier: LGPL-2.1-or-later
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <openssl/crypto.h>

#include "base/secret.h"

#define SECRET_MAGIC 0x766b7365637265ULL /* "vksecre" */

struct secret_hdr {
	uint64_t magic;
	size_t size;     /* what the caller asked for */
	size_t map_len;  /* whole mapping, header included */
	uint64_t pad;    /* keeps the payload 32-byte aligned */
};

static size_t page_size(void)
{
	static size_t ps;
	if (!ps) {
		long v = sysconf(_SC_PAGESIZE);
		ps = v > 0 ? (size_t)v : 4096;
	}
	return ps;
}

/* ASan intercepts mlock()/munlock() and makes them no-ops; the ASan build must
 * exercise the real locking (the tests check VmLck), so go to the kernel directly. */
#if defined(__SANITIZE_ADDRESS__)
#define lock_pages(p, n) ((int)syscall(SYS_mlock, (p), (n)))
#define unlock_pages(p, n) ((int)syscall(SYS_munlock, (p), (n)))
#else
#define lock_pages(p, n) mlock((p), (n))
#define unlock_pages(p, n) munlock((p), (n))
#endif

static struct secret_hdr *hdr_of(const void *p)
{
	struct secret_hdr *h = (struct secret_hdr *)((uintptr_t)p - sizeof(struct secret_hdr));
	if (h->magic != SECRET_MAGIC)
		abort(); /* not ours, or already freed: never continue with a bad pointer */
	return h;
}

void *secret_alloc(size_t size)
{
	size_t ps = page_size(), len;
	struct secret_hdr *h;
	void *m;

	if (size == 0) {
		errno = EINVAL;
		return NULL;
	}
	if (size > SIZE_MAX - sizeof(*h) - ps) {
		errno = ENOMEM;
		return NULL;
	}
	len = (sizeof(*h) + size + ps - 1) / ps * ps;
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	/* Dump exclusion and locking are part of the contract: fail if unavailable. */
	if (madvise(m, len, MADV_DONTDUMP) < 0 || lock_pages(m, len) < 0) {
		int e = errno == EPERM ? ENOMEM : errno;
		munmap(m, len);
		errno = e;
		return NULL;
	}
	/* Best effort: older kernels (< 4.14) lack it; the mapping stays private. */
	(void)madvise(m, len, MADV_WIPEONFORK);
	h = m;
	h->magic = SECRET_MAGIC;
	h->size = size;
	h->map_len = len;
	return h + 1;
}

void *secret_dup(const void *src, size_t size)
{
	void *p = secret_alloc(size);
	if (p)
		memcpy(p, src, size);
	return p;
}

size_t secret_size(const void *p)
{
	return p ? hdr_of(p)->size : 0;
}

void secret_wipe(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}

void secret_free(void *p)
{
	struct secret_hdr *h;
	size_t len;
	int saved = errno;

	if (!p)
		return;
	h = hdr_of(p);
	len = h->map_len;
	OPENSSL_cleanse(h, len); /* payload and header: no stale magic either */
	(void)unlock_pages(h, len);
	munmap(h, len);
	errno = saved;
}

bool secret_memeq(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}
