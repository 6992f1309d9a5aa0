// SPDX-License-Identifier: LGPL-2.1-or-later
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/log.h"

static int max_level = LOG_INFO;
static bool journal_prefix;
static const char *log_ident = "volkey";

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
	[LOG_ERR] = "error",   [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
};

int log_level_from_string(const char *s)
{
	if (!s || !*s)
		return -EINVAL;
	if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
		return s[0] - '0';
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	if (strcasecmp(s, "err") == 0)
		return LOG_ERR;
	if (strcasecmp(s, "warn") == 0)
		return LOG_WARNING;
	return -EINVAL;
}

/* journald sets JOURNAL_STREAM=<dev>:<ino> for the stream it reads; only trust
 * it when that is really our stderr (a child with redirected stderr inherits it). */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return st.st_dev == (dev_t)dev && st.st_ino == (ino_t)ino;
}

void log_setup(const char *ident)
{
	const char *e = getenv("VOLKEY_LOG_LEVEL");

	if (ident)
		log_ident = ident;
	journal_prefix = stderr_is_journal();
	if (e) {
		int l = log_level_from_string(e);
		if (l >= 0)
			max_level = l;
		else
			log_warning("Ignoring VOLKEY_LOG_LEVEL=%s: not a level name or 0..7", e);
	}
}

void log_set_max_level(int level)
{
	if (level >= LOG_EMERG && level <= LOG_DEBUG)
		max_level = level;
}

int log_get_max_level(void)
{
	return max_level;
}

void log_set_journal_prefix(bool on)
{
	journal_prefix = on;
}

int log_internal(int level, int error, const char *file, int line, const char *fmt, ...)
{
	int saved = errno;
	int e = error < 0 ? -error : error;
	char msg[2048];
	va_list ap;

	if (level > max_level)
		goto out;

	/* %m in fmt means the error we were given, not whatever errno is now. */
	errno = e;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One entry per line: never let a message split into several. */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';

	if (journal_prefix) {
		if (max_level >= LOG_DEBUG)
			fprintf(stderr, "<%d>%s (%s:%d)\n", level, msg, file, line);
		else
			fprintf(stderr, "<%d>%s\n", level, msg);
	} else if (level == LOG_INFO || level == LOG_NOTICE) {
		fprintf(stderr, "%s: %s\n", log_ident, msg);
	} else if (max_level >= LOG_DEBUG) {
		fprintf(stderr, "%s: %s: %s (%s:%d)\n", log_ident, level_names[level], msg, file, line);
	} else {
		fprintf(stderr, "%s: %s: %s\n", log_ident, level_names[level], msg);
	}
out:
	errno = saved;
	return e ? -e : 0;
}
