/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Absolute CLOCK_REALTIME deadlines for pthread_cond_timedwait(). */
#pragma once

#include <time.h>

/* Now plus ms, normalized. */
struct timespec deadline_after_ms(long ms);
/* CLOCK_MONOTONIC in milliseconds (for durations and rates). */
double monotonic_ms(void);
