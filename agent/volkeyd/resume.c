// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "boot/statusfile.h"
#include "volkeyd/resume.h"
#include "volume/rotate.h"
#include "volume/rotlog.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int running;
static bool stopping;

static void report(const struct rotate_event *ev, void *userdata)
{
	(void)userdata;
	rotate_journal(ev);
}

static int progress(const struct rotate_progress *p, void *userdata)
{
	const char *dev = userdata;
	bool stop;

	if (p->report)
		log_info("%s: re-encryption %.1f%% (%.1f MiB/s)", dev,
			 p->size ? 100.0 * (double)p->offset / (double)p->size : 0, p->rate / 1048576.0);
	pthread_mutex_lock(&mu);
	stop = stopping;
	pthread_mutex_unlock(&mu);
	return stop;
}

void resume_reencryption(const char *dev, const struct volkey_config *cfg, struct device_outcome *o)
{
	struct rotate_opts ro = {
		.kind = ROTATE_VOLUME_KEY,
		.token = -1,
		.progress_interval_ms = 60000,
		.report = report,
		.progress = progress,
		.userdata = (void *)dev,
	};
	struct errbuf e = { { 0 } };
	char detail[sizeof(o->detail)];
	int r;

	if ((strcmp(o->state, "unlocked") && strcmp(o->state, "already-open")) ||
	    volume_reencrypt_pending(dev) <= 0)
		return;
	pthread_mutex_lock(&mu);
	if (stopping) {
		pthread_mutex_unlock(&mu);
		return;
	}
	running++;
	pthread_mutex_unlock(&mu);
	log_info("%s: an interrupted re-encryption under a new volume key: resuming it online", dev);
	snprintf(detail, sizeof(detail), "%s", o->detail);
	snprintf(o->detail, sizeof(o->detail), "%s; resuming the interrupted re-encryption", detail);
	statusfile_put(o);
	r = volume_rotate(dev, &ro, cfg, &e);
	if (r < 0)
		log_error("%s", e.msg);
	else
		log_info("%s: re-encryption under a new volume key finished", dev);
	snprintf(o->detail, sizeof(o->detail), "%s; re-encryption %s", detail,
		 r < 0 ? (r == -EINTR ? "paused (volkeyd stopping)" : e.msg) : "finished");
	statusfile_put(o);
	pthread_mutex_lock(&mu);
	running--;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

void resume_stop_all(long timeout_ms)
{
	struct timespec ts = deadline_after_ms(timeout_ms);

	pthread_mutex_lock(&mu);
	stopping = true;
	while (running > 0)
		if (pthread_cond_timedwait(&cv, &mu, &ts) != 0)
			break;
	pthread_mutex_unlock(&mu);
}

void resume_wait_all(void)
{
	pthread_mutex_lock(&mu);
	while (running > 0)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
}
