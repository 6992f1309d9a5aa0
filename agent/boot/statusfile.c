// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "base/macro.h"
#include "base/exitcode.h"
#include "boot/statusfile.h"
#include "keys/kms_stats.h"
#include "volume/luks_token.h"

#define MAX_DEVICES 128

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct device_outcome devices[MAX_DEVICES];
static int ndevices;
static unsigned long generations; /* the last generation statusfile_working() gave */
static char path[256];
static bool ready;
static char started[32];

int statusfile_init(const char *p)
{
	char dir[256], *slash;

	snprintf(path, sizeof(path), "%s", p);
	snprintf(dir, sizeof(dir), "%s", p);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return negative_errno();
	}
	rfc3339_now(started, sizeof(started));
	return 0;
}

static void add(struct json_object *o, const char *k, const char *v)
{
	if (v && *v)
		json_object_object_add(o, k, json_object_new_string(v));
}

/* With mu held. */
static struct json_object *build_json(void)
{
	struct json_object *root = json_object_new_object(), *agent = json_object_new_object();
	struct json_object *arr = json_object_new_array();

	json_object_object_add(agent, "pid", json_object_new_int(getpid()));
	json_object_object_add(agent, "ready", json_object_new_boolean(ready));
	add(agent, "started", started);
	json_object_object_add(agent, "kms", kms_stats_json());
	json_object_object_add(root, "agent", agent);
	for (int i = 0; i < ndevices; i++) {
		const struct device_outcome *d = &devices[i];
		struct json_object *o = json_object_new_object();
		add(o, "device", d->device);
		add(o, "class", d->cls);
		add(o, "id", d->id);
		add(o, "state", d->state);
		add(o, "detail", d->detail);
		add(o, "mapping", d->mapping);
		add(o, "mountpoint", d->mountpoint);
		add(o, "luks_uuid", d->luks_uuid);
		add(o, "at", d->at);
		if (d->token >= 0)
			json_object_object_add(o, "token", json_object_new_int(d->token));
		json_object_object_add(o, "seconds", json_object_new_double(d->seconds));
		if (!strcmp(d->state, "failed")) {
			json_object_object_add(o, "exit_code", json_object_new_int(exit_code_from_errno(d->error)));
			json_object_object_add(o, "transient", json_object_new_boolean(errno_transient(d->error)));
		}
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "devices", arr);
	return root;
}

struct json_object *statusfile_json(void)
{
	struct json_object *j;

	pthread_mutex_lock(&mu);
	j = build_json();
	pthread_mutex_unlock(&mu);
	return j;
}

/* With mu held. */
static void write_file(void)
{
	struct json_object *root = build_json();
	char tmp[300];
	const char *s;
	int fd;

	s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	/* Never through what is at the temp name (a planted symlink, a stale
	 * file): removed (a symlink itself, not its target), then created anew. */
	fd = unlink(tmp) < 0 && errno != ENOENT ? -1 :
		open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd >= 0) {
		size_t n = strlen(s);
		bool ok = write(fd, s, n) == (ssize_t)n && write(fd, "\n", 1) == 1;
		ok &= close(fd) == 0;
		if (ok)
			rename(tmp, path);
		else
			unlink(tmp);
	}
	json_object_put(root);
}

static struct device_outcome *slot(const char *device)
{
	for (int i = 0; i < ndevices; i++)
		if (!strcmp(devices[i].device, device))
			return &devices[i];
	if (ndevices == MAX_DEVICES)
		return NULL;
	memset(&devices[ndevices], 0, sizeof(devices[0]));
	devices[ndevices].token = -1;
	return &devices[ndevices++];
}

bool statusfile_put(const struct device_outcome *o)
{
	struct device_outcome *d = NULL;

	pthread_mutex_lock(&mu);
	for (int i = 0; i < ndevices; i++)
		if (!strcmp(devices[i].device, o->device))
			d = &devices[i];
	/* no record: removed since; another generation: started again since */
	if (d && d->generation == o->generation) {
		*d = *o;
		rfc3339_now(d->at, sizeof(d->at));
		if (path[0])
			write_file();
	} else
		d = NULL;
	pthread_mutex_unlock(&mu);
	return d != NULL;
}

unsigned long statusfile_working(const char *device)
{
	struct device_outcome *d;
	unsigned long g;

	pthread_mutex_lock(&mu);
	g = ++generations;
	d = slot(device);
	if (d) {
		memset(d, 0, sizeof(*d));
		d->token = -1;
		d->generation = g;
		snprintf(d->device, sizeof(d->device), "%s", device);
		snprintf(d->state, sizeof(d->state), "working");
	}
	if (path[0])
		write_file();
	pthread_mutex_unlock(&mu);
	return g;
}

void statusfile_set_ready(bool r)
{
	pthread_mutex_lock(&mu);
	ready = r;
	if (path[0])
		write_file();
	pthread_mutex_unlock(&mu);
}

bool statusfile_get(const char *device, struct device_outcome *ret)
{
	bool found = false;

	pthread_mutex_lock(&mu);
	for (int i = 0; i < ndevices && !found; i++)
		if (!strcmp(devices[i].device, device)) {
			*ret = devices[i];
			found = true;
		}
	pthread_mutex_unlock(&mu);
	return found;
}

void statusfile_state(const char *device, char *buf, size_t n)
{
	struct device_outcome o;

	snprintf(buf, n, "%s", statusfile_get(device, &o) ? o.state : "");
}

int statusfile_count(const char *state)
{
	int n = 0;

	pthread_mutex_lock(&mu);
	for (int i = 0; i < ndevices; i++)
		n += !strcmp(devices[i].state, state);
	pthread_mutex_unlock(&mu);
	return n;
}

void statusfile_forget(const char *device)
{
	pthread_mutex_lock(&mu);
	for (int i = 0; i < ndevices; i++)
		if (!strcmp(devices[i].device, device)) {
			devices[i] = devices[--ndevices];
			if (path[0])
				write_file();
			break;
		}
	pthread_mutex_unlock(&mu);
}
