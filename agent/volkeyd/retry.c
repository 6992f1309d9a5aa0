// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/exitcode.h"
#include "base/log.h"
#include "base/thread.h"
#include "volkeyd/retry.h"

#define RETRY_MAX_DEVICES 128

struct entry {
	char dev[256];
	long attempts;      /* retries armed so far */
	long long due_ms;   /* CLOCK_MONOTONIC; 0 when not armed */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;
static struct entry entries[RETRY_MAX_DEVICES];
static int nentries;
static bool stopping, started;
static struct policy pol;
static void (*submit_fn)(const char *);
static pthread_t thread;

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool retry_transient(int err)
{
	return err < 0 && errno_transient(err);
}

static struct entry *find(const char *dev)
{
	for (int i = 0; i < nentries; i++)
		if (!strcmp(entries[i].dev, dev))
			return &entries[i];
	return NULL;
}

long retry_delay_ms(const struct policy *p, long attempt, bool jitter)
{
	long long d = p->retry_base_ms;

	for (long i = 0; i < attempt && d < p->retry_cap_ms; i++)
		d *= 2;
	if (d > p->retry_cap_ms)
		d = p->retry_cap_ms;
	if (jitter)
		d = (long long)arc4random_uniform((uint32_t)d + 1);
	return d < 100 ? 100 : (long)d;
}

long retry_schedule(const char *dev)
{
	struct entry *e;
	long d;

	pthread_mutex_lock(&mu);
	if (!started || stopping || !pol.retry) {
		pthread_mutex_unlock(&mu);
		return -1;
	}
	e = find(dev);
	if (!e) {
		if (nentries == RETRY_MAX_DEVICES) {
			pthread_mutex_unlock(&mu);
			return -1;
		}
		e = &entries[nentries++];
		memset(e, 0, sizeof(*e));
		snprintf(e->dev, sizeof(e->dev), "%s", dev);
	}
	if (pol.retry_max && e->attempts >= pol.retry_max) {
		pthread_mutex_unlock(&mu);
		return -2;
	}
	d = retry_delay_ms(&pol, e->attempts++, true);
	e->due_ms = mono_ms() + d;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	return d;
}

void retry_forget(const char *dev)
{
	struct entry *e;

	pthread_mutex_lock(&mu);
	e = find(dev);
	if (e) {
		*e = entries[nentries - 1];
		nentries--;
	}
	pthread_mutex_unlock(&mu);
}

static void *loop(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	while (!stopping) {
		long long now = mono_ms(), next = 0;
		char due[256] = "";

		for (int i = 0; i < nentries; i++) {
			if (!entries[i].due_ms)
				continue;
			if (entries[i].due_ms <= now) {
				snprintf(due, sizeof(due), "%s", entries[i].dev);
				entries[i].due_ms = 0;
				break;
			}
			if (!next || entries[i].due_ms < next)
				next = entries[i].due_ms;
		}
		if (due[0]) {
			pthread_mutex_unlock(&mu);
			log_debug("%s: retrying", due);
			submit_fn(due);
			pthread_mutex_lock(&mu);
			continue;
		}
		if (next) {
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += (next - now) / 1000;
			ts.tv_nsec += ((next - now) % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&cv, &mu, &ts);
		} else {
			pthread_cond_wait(&cv, &mu);
		}
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

int retry_start(const struct policy *p, void (*submit)(const char *dev))
{
	pthread_condattr_t ca;
	int r;

	pol = *p;
	submit_fn = submit;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cv, &ca);
	pthread_condattr_destroy(&ca);
	if (!pol.retry)
		return 0;
	r = thread_start(&thread, loop, NULL, false);
	if (r == 0)
		started = true;
	return r;
}

void retry_stop(void)
{
	pthread_mutex_lock(&mu);
	stopping = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	if (started)
		pthread_join(thread, NULL);
	started = false;
}
