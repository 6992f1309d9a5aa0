// SPDX-License-Identifier: LGPL-2.1-or-later
#include "base/timeutil.h"

struct timespec deadline_after_ms(long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

double monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

time_t rfc3339_epoch(const char *s)
{
	struct tm tm = { 0 };
	const char *end;

	if (!s || !(end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) || *end)
		return -1;
	return timegm(&tm);
}

double rfc3339_age_days(const char *s)
{
	time_t t = rfc3339_epoch(s);

	return t < 0 ? -1 : difftime(time(NULL), t) / 86400.0;
}
