/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A one-line explanation that library code hands back to the tool, which logs
 * it once. Functions fill it and return -errno: `return err_fail(e, -EBUSY, ...)`. */
#pragma once

#include <stddef.h>
#include "base/macro.h"

struct errbuf {
	char msg[768];
};

/* Sets the message (first writer wins unless overwrite is used) and returns r. */
int err_fail(struct errbuf *e, int r, const char *fmt, ...) _printf_(3, 4);
/* Same, replacing any earlier message. */
int err_set(struct errbuf *e, int r, const char *fmt, ...) _printf_(3, 4);
