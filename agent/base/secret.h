/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one allocator for secrets: keys, passphrases, PINs, plaintext from a KMS.
 * Each allocation is its own anonymous mapping, locked in RAM (never swapped),
 * excluded from core dumps (MADV_DONTDUMP) and from forked children
 * (MADV_WIPEONFORK), zeroed when allocated and wiped before it is unmapped.
 * A plain free() or memset() of a secret is a defect. */
#pragma once

#include <stddef.h>
#include <stdbool.h>
#include "base/macro.h"

/* Zeroed buffer of size bytes (size > 0), or NULL with errno set: ENOMEM when
 * memory cannot be mapped or locked (RLIMIT_MEMLOCK), EINVAL for size 0. */
void *secret_alloc(size_t size);
/* Copy of the first size bytes of src into a new secret buffer. */
void *secret_dup(const void *src, size_t size);
/* Wipes and releases p (NULL is fine). Aborts on a pointer it did not allocate. */
void secret_free(void *p);
/* Usable size of p, as asked for at allocation. */
size_t secret_size(const void *p);
/* Constant-time comparison of n bytes: true when equal. */
bool secret_memeq(const void *a, const void *b, size_t n);
/* Wipe n bytes of any memory (e.g. a stack buffer) so the compiler cannot elide it. */
void secret_wipe(void *p, size_t n);

static inline void secret_freep(void *p)
{
	secret_free(*(void **)p);
}
#define _cleanup_secret_ _cleanup_(secret_freep)
