/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The documented exit codes of every volkey command, mapped from -errno in one
 * place (docs/exit-codes.md lists the same table; a unit test keeps them equal). */
#pragma once

#include <stdbool.h>

enum volkey_exit {
	EXIT_OK = 0,
	EXIT_USAGE = 1,       /* bad parameters, bad input, bad configuration */
	EXIT_DENIED = 2,      /* no permission, or wrong key / key refused */
	EXIT_NOMEM = 3,       /* out of memory, or secret memory cannot be locked */
	EXIT_DEVICE = 4,      /* device or file missing, or not what was expected */
	EXIT_BUSY = 5,        /* device in use, or already exists */
	EXIT_UNAVAILABLE = 6, /* key service or network unreachable or timed out */
	EXIT_UNSUPPORTED = 7, /* not supported by this kernel, device or build */
	EXIT_DATA = 8,        /* corrupted header, token or answer */
	EXIT_FAILURE_OTHER = 10, /* anything else (I/O error, internal error) */
	/* Outcomes of commands over many volumes (rotate --all), not errno mappings: */
	EXIT_NOTHING_DUE = 11, /* nothing was due, nothing was done */
	EXIT_PARTIAL = 12,     /* some volumes done, some failed */
	EXIT_CHECK_FAILED = 13, /* bench --check: encrypted/raw below the minimum */
};

struct exit_code_info {
	int code;
	const char *name;
	const char *meaning;
};

/* r is 0 or -errno (a positive errno is accepted too). */
int exit_code_from_errno(int r);
/* Whether a failure with this -errno may pass by itself: the key service, the
 * credentials endpoint or the network was unreachable, timed out, throttled or
 * failed inside; not a refusal (access denied, disabled or unknown key, bad data). */
bool errno_transient(int err);
/* The table, terminated by an entry with name == NULL. */
const struct exit_code_info *exit_code_table(void);
