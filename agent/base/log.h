/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The logger: one line per message on stderr. Under journald (JOURNAL_STREAM
 * names our stderr) each line starts with a "<N>" syslog priority prefix, which
 * journald turns into the entry's PRIORITY; on a terminal or in a pipe it reads
 * "volkey: error: ...". The level comes from log_set_max_level() (--debug) or
 * the VOLKEY_LOG_LEVEL environment variable (a name or 0..7).
 * Library code returns -errno and does not print; the tool logs once, at the
 * boundary, with the cause. */
#pragma once

#include <syslog.h>
#include <stdbool.h>
#include "base/macro.h"

void log_setup(const char *ident);
void log_set_max_level(int level);
int log_get_max_level(void);
int log_level_from_string(const char *s);
/* Where the prefix goes: auto-detected by log_setup(); tests force it. */
void log_set_journal_prefix(bool on);

/* Logs fmt (with %m meaning strerror(-error) when error != 0) and returns
 * -abs(error) when error != 0, else 0, so callers can `return log_...(r, ...)`. */
int log_internal(int level, int error, const char *file, int line, const char *fmt, ...) _printf_(5, 6);

#define log_full_errno(level, error, ...) log_internal(level, error, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)
