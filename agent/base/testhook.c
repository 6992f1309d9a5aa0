// SPDX-License-Identifier: LGPL-2.1-or-later
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/testhook.h"

void test_crash_point(const char *step)
{
	const char *at = getenv("VOLKEY_TEST_CRASH_AT");

	if (at && strcmp(at, step) == 0) {
		kill(getpid(), SIGKILL);
	}
}

void test_pause_point(const char *step)
{
	const char *at = getenv("VOLKEY_TEST_PAUSE_AT");

	if (at && strcmp(at, step) == 0)
		raise(SIGSTOP);
}
