// SPDX-License-Identifier: LGPL-2.1-or-later
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "base/cslock.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static __thread int depth;
/* guarded by mu */
static struct cs_lock_stats stats;
static uint64_t held_since;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void take(void)
{
	uint64_t t0;

	if (pthread_mutex_trylock(&mu) == 0) {
		stats.acquired++;
	} else {
		t0 = now_ns();
		pthread_mutex_lock(&mu);
		stats.acquired++;
		stats.contended++;
		stats.wait_ns += now_ns() - t0;
	}
	held_since = now_ns();
}

static void give(void)
{
	stats.hold_ns += now_ns() - held_since;
	pthread_mutex_unlock(&mu);
}

void cs_lock(void)
{
	if (depth++ == 0)
		take();
}

void cs_unlock(void)
{
	if (depth <= 0)
		abort(); /* unbalanced: a bug, never silently ignored */
	if (--depth == 0)
		give();
}

int cs_suspend(void)
{
	int d = depth;

	if (d > 0) {
		depth = 0;
		give();
	}
	return d;
}

void cs_resume(int d)
{
	if (d > 0) {
		take();
		depth = d;
	}
}

void cs_yield(void)
{
	int d = cs_suspend();

	if (d > 0) {
		sched_yield();
		cs_resume(d);
	}
}

bool cs_held(void)
{
	return depth > 0;
}

void cs_lock_stats(struct cs_lock_stats *ret)
{
	if (depth > 0) {
		*ret = stats;
		return;
	}
	pthread_mutex_lock(&mu);
	*ret = stats;
	pthread_mutex_unlock(&mu);
}

void __sanitizer_print_stack_trace(void) __attribute__((weak));

void cs_check_held(const char *fn)
{
	char msg[160];
	int n;

	if (depth > 0)
		return;
	n = snprintf(msg, sizeof(msg), "volkey: %s called without the libcryptsetup/libdevmapper lock\n", fn);
	if (write(STDERR_FILENO, msg, (size_t)n) < 0) {
		/* nothing more to say */
	}
	if (__sanitizer_print_stack_trace)
		__sanitizer_print_stack_trace();
	abort();
}
