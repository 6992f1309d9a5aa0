// SPDX-License-Identifier: GPL-2.0-or-later
/* The secret allocator: zeroed on allocation, locked (VmLck), not dumped (smaps
 * "dd"), wiped before release (checked inside a munmap wrapper), constant-time compare. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "base/secret.h"
#include "unit.h"

/* Linked with -Wl,--wrap=munmap: every munmap in the program comes here first. */
int __real_munmap(void *addr, size_t len);
int __wrap_munmap(void *addr, size_t len);

/* volatile: glibc declares munmap as a leaf function, so without it the compiler
 * may move these stores across the call, never expecting the wrapper to read them. */
static void *volatile watch_addr;
static volatile size_t watch_len;
static volatile int watch_seen, watch_dirty_bytes;

int __wrap_munmap(void *addr, size_t len)
{
	if (watch_addr && addr == watch_addr) {
		const unsigned char *p = addr;
		watch_seen++;
		watch_dirty_bytes = 0;
		for (size_t i = 0; i < len; i++)
			if (p[i])
				watch_dirty_bytes++;
		watch_len = len;
	}
	return __real_munmap(addr, len);
}

static long status_kb(const char *field)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, strlen(field)) == 0 && line[strlen(field)] == ':')
			v = strtol(line + strlen(field) + 1, NULL, 10);
	fclose(f);
	return v;
}

/* The VmFlags line of the smaps entry that contains addr. */
static int smaps_flags(const void *addr, char *flags, size_t n)
{
	char line[512];
	uintptr_t a = (uintptr_t)addr, lo, hi;
	int in = 0, found = -1;
	FILE *f = fopen("/proc/self/smaps", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = a >= lo && a < hi;
		else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			snprintf(flags, n, "%.200s", line + 8);
			found = 0;
			break;
		}
	}
	fclose(f);
	return found;
}

TEST(alloc_is_zeroed_and_sized)
{
	unsigned char *p = secret_alloc(100);
	int nonzero = 0;

	CHECK(p != NULL);
	if (!p)
		return;
	for (int i = 0; i < 100; i++)
		nonzero |= p[i];
	CHECK_EQ_INT(nonzero, 0);
	CHECK_EQ_INT(secret_size(p), 100);
	CHECK_EQ_INT((uintptr_t)p % 16, 0);
	secret_free(p);
}

TEST(zero_size_is_refused)
{
	errno = 0;
	CHECK(secret_alloc(0) == NULL);
	CHECK_EQ_INT(errno, EINVAL);
}

TEST(memory_is_locked_while_held)
{
	long before = status_kb("VmLck"), during, after;
	void *p = secret_alloc(3 * 4096); /* header + 3 pages: 4 pages locked */

	CHECK(p != NULL);
	during = status_kb("VmLck");
	secret_free(p);
	after = status_kb("VmLck");
	CHECK(before >= 0);
	CHECK_EQ_INT(during - before, 16);
	CHECK_EQ_INT(after, before);
}

TEST(memory_is_excluded_from_core_dumps)
{
	char flags[256] = "";
	void *p = secret_alloc(32);

	CHECK(p != NULL);
	CHECK_EQ_INT(smaps_flags(p, flags, sizeof(flags)), 0);
	CHECK(strstr(flags, " dd") != NULL); /* MADV_DONTDUMP */
	CHECK(strstr(flags, " lo") != NULL); /* mlock'ed */
	secret_free(p);
}

TEST(free_wipes_before_unmapping)
{
	unsigned char *p = secret_alloc(4000);

	CHECK(p != NULL);
	if (!p)
		return;
	memset(p, 0xA5, 4000);
	/* The mapping starts one header before the payload, on a page boundary. */
	watch_addr = (void *)((uintptr_t)p & ~(uintptr_t)4095);
	watch_seen = 0;
	watch_dirty_bytes = -1;
	secret_free(p);
	watch_addr = NULL;
	CHECK_EQ_INT(watch_seen, 1);
	CHECK_EQ_INT(watch_dirty_bytes, 0);
	CHECK(watch_len >= 4096);
}

TEST(the_wrapper_would_see_an_unwiped_mapping)
{
	/* Guard against a test that cannot fail: the same wrapper flags dirty memory. */
	unsigned char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(m != MAP_FAILED);
	for (int i = 0; i < 10; i++)
		((volatile unsigned char *)m)[i] = 0x5A; /* volatile: not a dead store */
	watch_addr = m;
	watch_dirty_bytes = 0;
	munmap(m, 4096);
	watch_addr = NULL;
	CHECK_EQ_INT(watch_dirty_bytes, 10);
}

TEST(dup_copies)
{
	const char key[] = "0123456789abcdef";
	char *d = secret_dup(key, sizeof(key));

	CHECK(d != NULL);
	CHECK(d && memcmp(d, key, sizeof(key)) == 0);
	secret_free(d);
}

TEST(memeq_is_exact)
{
	unsigned char a[32], b[32];

	memset(a, 7, sizeof(a));
	memcpy(b, a, sizeof(b));
	CHECK(secret_memeq(a, b, 32));
	b[31] ^= 1;
	CHECK(!secret_memeq(a, b, 32));
	b[31] ^= 1;
	b[0] ^= 0x80;
	CHECK(!secret_memeq(a, b, 32));
	CHECK(secret_memeq(a, b, 0));
}

TEST(wipe_clears_plain_buffers)
{
	char buf[64];

	memset(buf, 'x', sizeof(buf));
	secret_wipe(buf, sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i++)
		if (buf[i]) {
			CHECK(!"buffer not wiped");
			break;
		}
}

TEST(free_null_is_a_no_op)
{
	secret_free(NULL);
	CHECK_EQ_INT(secret_size(NULL), 0);
}

TEST(cleanup_attribute_frees)
{
	long before = status_kb("VmLck");
	{
		_cleanup_secret_ void *p = secret_alloc(10);
		CHECK(p != NULL);
		CHECK(status_kb("VmLck") > before);
	}
	CHECK_EQ_INT(status_kb("VmLck"), before);
}
