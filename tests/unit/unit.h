/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A minimal unit-test harness: TEST(name) { ... } registers a test; CHECK()
 * records a failure with file:line and goes on; each binary prints one line per
 * test and closes with "N passed, N failed". */
#pragma once

#include <stdio.h>
#include <string.h>

typedef void (*unit_fn)(void);
void unit_register(const char *name, unit_fn fn);
void unit_fail(const char *file, int line, const char *expr);
/* Path of a fixture directory under tests/unit/fixtures (from $UNIT_FIXTURES or the source tree). */
const char *unit_fixture(const char *name);

#define TEST(name)                                                      \
	static void test_##name(void);                                  \
	__attribute__((constructor)) static void register_##name(void)  \
	{                                                               \
		unit_register(#name, test_##name);                      \
	}                                                               \
	static void test_##name(void)

#define CHECK(expr)                                        \
	do {                                               \
		if (!(expr))                               \
			unit_fail(__FILE__, __LINE__, #expr); \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                                  \
	do {                                                                                \
		long long _a = (a), _b = (b);                                               \
		if (_a != _b) {                                                             \
			char _m[256];                                                       \
			snprintf(_m, sizeof(_m), "%s == %s (%lld != %lld)", #a, #b, _a, _b); \
			unit_fail(__FILE__, __LINE__, _m);                                  \
		}                                                                           \
	} while (0)

void unit_fail_streq(const char *file, int line, const char *ea, const char *eb, const char *a, const char *b);
#define CHECK_STREQ(a, b)                                                  \
	do {                                                               \
		const char *_a = (a), *_b = (b);                           \
		if (!_a || !_b || strcmp(_a, _b) != 0)                     \
			unit_fail_streq(__FILE__, __LINE__, #a, #b, _a, _b); \
	} while (0)
