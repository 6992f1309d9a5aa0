// SPDX-License-Identifier: LGPL-2.1-or-later
#include <stdarg.h>
#include <stdio.h>
#include <libdevmapper.h>

#include "base/cslock.h"
#include "base/log.h"
#include "host/dmlog.h"

static void dm_log_cb(int level, const char *file, int line, int dm_errno, const char *f, ...) _printf_(5, 6);

static void dm_log_cb(int level, const char *file, int line, int dm_errno, const char *f, ...)
{
	char msg[1024];
	va_list ap;
	int prio;

	(void)file;
	(void)line;
	(void)dm_errno;
	level &= 0x7; /* _LOG_STDERR and friends live in the upper bits */
	/* libdevmapper levels follow syslog numbering (3 err, 4 warn, 5 notice, 6 info, 7 debug). */
	prio = level <= 3 ? LOG_ERR : level == 4 ? LOG_WARNING : LOG_DEBUG;
	if (prio > log_get_max_level())
		return;
	va_start(ap, f);
	vsnprintf(msg, sizeof(msg), f, ap);
	va_end(ap);
	log_full_errno(prio, 0, "libdevmapper: %s", msg);
}

void dmlog_setup(void)
{
	CS_LOCKED;
	dm_log_with_errno_init(dm_log_cb);
}
