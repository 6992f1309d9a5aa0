// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "unit.h"

#define MAX_TESTS 256

static struct {
	const char *name;
	unit_fn fn;
} tests[MAX_TESTS];
static int ntests;
static int current_failures;

void unit_register(const char *name, unit_fn fn)
{
	if (ntests == MAX_TESTS) {
		fprintf(stderr, "unit: too many tests\n");
		abort();
	}
	tests[ntests].name = name;
	tests[ntests].fn = fn;
	ntests++;
}

void unit_fail(const char *file, int line, const char *expr)
{
	fprintf(stderr, "  %s:%d: check failed: %s\n", file, line, expr);
	current_failures++;
}

void unit_fail_streq(const char *file, int line, const char *ea, const char *eb, const char *a, const char *b)
{
	fprintf(stderr, "  %s:%d: check failed: %s == %s (\"%s\" != \"%s\")\n", file, line, ea, eb,
		a ? a : "(null)", b ? b : "(null)");
	current_failures++;
}

const char *unit_fixture(const char *name)
{
	static char buf[4096];
	const char *base = getenv("UNIT_FIXTURES");

	snprintf(buf, sizeof(buf), "%s/%s", base ? base : "tests/unit/fixtures", name);
	return buf;
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0;

	for (int i = 0; i < ntests; i++) {
		if (argc > 1 && strcmp(argv[1], tests[i].name) != 0)
			continue;
		current_failures = 0;
		tests[i].fn();
		if (current_failures) {
			printf("FAIL %s\n", tests[i].name);
			failed++;
		} else {
			printf("ok   %s\n", tests[i].name);
			passed++;
		}
	}
	if (passed + failed == 0) {
		fprintf(stderr, "unit: no test ran\n");
		return 1;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
