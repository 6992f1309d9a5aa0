/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The token PIN from the URI's pin-source: a file (path or file: URI) that is
 * a regular file owned by root or by us and not accessible by group or others.
 * For CloudHSM the PIN is "user:password". */
#pragma once

#include <stddef.h>
#include "keys/kctx.h"

#define P11_PIN_MAX 256

/* The PIN in secret memory (NUL-terminated, one trailing newline removed) and its
 * length. Errors: -EINVAL (no or unsupported source, empty file), -EPERM (mode or
 * owner), -ENOENT and other open errors; the context says which file and why. */
int p11_pin_read(struct kctx *c, const char *source, char **ret_pin, size_t *ret_len);
