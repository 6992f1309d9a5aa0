/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Absolute CLOCK_REALTIME deadlines for pthread_cond_timedwait(). */
#pragma once

#include <time.h>

/* Now plus ms, normalized. */
struct timespec deadline_after_ms(long ms);
/* CLOCK_MONOTONIC in milliseconds (for durations and rates). */
double monotonic_ms(void);
/* "YYYY-MM-DDTHH:MM:SSZ" as seconds since the epoch; -1 when not that shape. */
time_t rfc3339_epoch(const char *s);
/* Days since such a time (fractional); -1 when not that shape. */
double rfc3339_age_days(const char *s);
