/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The token PIN from the URI's pin-source: a file (path or file: URI) inside
 * [pkcs11] pin_dir that is a regular file owned by root or by us and not
 * accessible by group or others. For CloudHSM the PIN is "user:password". */
#pragma once

#include <stddef.h>
#include "base/errbuf.h"
#include "conf/config.h"
#include "keys/kctx.h"

#define P11_PIN_MAX 256

/* The PIN in secret memory (NUL-terminated, one trailing newline removed) and its
 * length. Errors: -EINVAL (no or unsupported source, empty file), -EPERM (mode or
 * owner), -ENOENT and other open errors; the context says which file and why. */
int p11_pin_read(struct kctx *c, const char *source, char **ret_pin, size_t *ret_len);
/* Opens the file a pin-source names, only if its real path is inside [pkcs11]
 * pin_dir (checked on the resolved path, and again on the descriptor). Errors:
 * -EPERM (outside, with a one-line reason naming the path), -EINVAL (not a
 * path or file: URI), -ENOENT and other open errors (only for paths inside). */
int p11_pin_open(const struct volkey_config *cfg, const char *source, int *ret_fd, struct errbuf *e);
