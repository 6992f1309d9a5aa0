// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/log.h"
#include "base/thread.h"
#include "base/timeutil.h"
#include "boot/statusfile.h"
#include "volkeyd/metrics.h"
#include "volume/status_doc.h"
#include "volume/status_prom.h"
#include "volume/volume_status.h"

static const struct volkey_config *cfg;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static pthread_t thread;
static bool running, stopping, kicked;
static int last_error; /* logged once per kind, not at every write */

void metrics_write_now(void)
{
	struct json_object *vols = NULL, *rec, *doc;
	int r;

	if (!cfg || !cfg->metrics_textfile[0])
		return;
	/* no node_exporter here: not even the scan of the devices */
	{
		char dir[sizeof(cfg->metrics_textfile)];
		char *slash;
		struct stat st;

		snprintf(dir, sizeof(dir), "%s", cfg->metrics_textfile);
		slash = strrchr(dir, '/');
		if (slash && slash != dir)
			*slash = '\0';
		if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
			r = -ENOENT;
			goto report;
		}
	}
	if (status_volumes_all(&vols) < 0 && !vols)
		return;
	rec = statusfile_json();
	doc = status_doc_new(vols, rec, cfg);
	r = status_prom_write_file(doc, cfg->metrics_textfile);
	json_object_put(doc);
	json_object_put(rec);
report:
	if (r < 0 && r != last_error) {
		if (r == -ENOENT)
			log_info("metrics: the directory of %s does not exist (node_exporter's textfile collector is not set up): not written",
				 cfg->metrics_textfile);
		else
			log_warning("metrics: cannot write %s: %s", cfg->metrics_textfile, strerror(-r));
	} else if (r == 0 && last_error)
		log_info("metrics: %s written again", cfg->metrics_textfile);
	last_error = r;
}

static void *loop(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&mu);
	while (!stopping) {
		struct timespec ts = deadline_after_ms(cfg->metrics_interval_s * 1000);

		while (!stopping && !kicked && pthread_cond_timedwait(&cond, &mu, &ts) != ETIMEDOUT)
			;
		if (kicked) {
			/* a device's outcome: give the rest of a burst a second */
			ts = deadline_after_ms(1000);
			while (!stopping && pthread_cond_timedwait(&cond, &mu, &ts) != ETIMEDOUT)
				;
		}
		if (stopping)
			break;
		kicked = false;
		pthread_mutex_unlock(&mu);
		metrics_write_now();
		pthread_mutex_lock(&mu);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

int metrics_start(const struct volkey_config *c)
{
	int r;

	cfg = c;
	if (!c->metrics_textfile[0])
		return 0;
	kicked = true;
	r = thread_start(&thread, loop, NULL, false);
	running = r == 0;
	return r;
}

void metrics_kick(void)
{
	pthread_mutex_lock(&mu);
	kicked = true;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&mu);
}

void metrics_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&mu);
	stopping = true;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&mu);
	pthread_join(thread, NULL);
	running = false;
}
