// SPDX-License-Identifier: LGPL-2.1-or-later
#include <stdarg.h>
#include <stdio.h>

#include "base/errbuf.h"

static void put(struct errbuf *e, const char *fmt, va_list ap)
{
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	for (char *p = e->msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

int err_fail(struct errbuf *e, int r, const char *fmt, ...)
{
	va_list ap;

	if (e && !e->msg[0]) {
		va_start(ap, fmt);
		put(e, fmt, ap);
		va_end(ap);
	}
	return r;
}

int err_set(struct errbuf *e, int r, const char *fmt, ...)
{
	va_list ap;

	if (e) {
		va_start(ap, fmt);
		put(e, fmt, ap);
		va_end(ap);
	}
	return r;
}
