// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <time.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/jsonget.h"
#include "base/log.h"
#include "base/macro.h"
#include "base/timeutil.h"
#include "volume/status_doc.h"

const char *const status_states[] = {
	"format-interrupted", /* format died before its last step: finish or redo it */
	"failed",             /* the agent's last unlock failed for good (refused, bad header...) */
	"key-unreachable",    /* the agent's last unlock failed for want of the key service */
	"reencrypting",       /* a volume-key re-encryption or a first-boot re-key is under way or interrupted */
	"rekey-pending",      /* an image's volume, not re-keyed yet */
	"rotation-due",       /* older than [rotation] allows */
	"open",               /* mapped */
	"locked",             /* not mapped */
};
const int status_nstates = ARRAY_SIZE(status_states);

#define jget json_member
#define jstr json_member_str

static double jnum(struct json_object *o, const char *k)
{
	double x;

	return json_member_num(o, k, &x) ? x : -1;
}

/* The agent's record of this volume: the one for its device node, else one
 * with its LUKS UUID (the node the agent saw may have another name). The node
 * wins: a disk attached with a copied UUID must not take another volume's record. */
static struct json_object *agent_device(struct json_object *agent, struct json_object *vol)
{
	struct json_object *devs = jget(agent, "devices"), *by_uuid = NULL;
	const char *uuid = jstr(vol, "luks_uuid"), *dev = jstr(vol, "device");

	if (!devs || !json_object_is_type(devs, json_type_array))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(devs); i++) {
		struct json_object *d = json_object_array_get_idx(devs, i);
		if (!json_object_is_type(d, json_type_object))
			continue;
		if (dev && streq_ptr(jstr(d, "device"), dev))
			return d;
		if (uuid && !by_uuid && streq_ptr(jstr(d, "luks_uuid"), uuid))
			by_uuid = d;
	}
	return by_uuid;
}

static struct json_object *last_unlock(struct json_object *d)
{
	struct json_object *o;
	const char *st = jstr(d, "state");

	/* "working" is not an outcome; "untouched" was not an unlock */
	if (!st || !strcmp(st, "working") || !strcmp(st, "untouched"))
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "outcome", json_object_new_string(st));
	json_object_object_add(o, "at", jstr(d, "at") ? json_object_new_string(jstr(d, "at")) : NULL);
	json_object_object_add(o, "seconds", jnum(d, "seconds") >= 0 ? json_object_new_double(jnum(d, "seconds")) : NULL);
	if (jget(d, "token"))
		json_object_object_add(o, "token", json_object_get(jget(d, "token")));
	json_object_object_add(o, "detail", json_object_new_string(jstr(d, "detail") ? jstr(d, "detail") : ""));
	if (!strcmp(st, "failed"))
		json_object_object_add(o, "transient", json_object_new_boolean(jget(d, "transient") &&
										json_object_get_boolean(jget(d, "transient"))));
	return o;
}

/* Which of [rotation]'s limits the volume is past: an array of kinds. */
static struct json_object *rotation_due(struct json_object *vol, const struct volkey_config *cfg, char *why, size_t n)
{
	const struct {
		const char *kind, *field;
		long limit;
	} k[] = {
		{ "rewrap", "wrap_age_days", cfg->rotation_rewrap_days },
		{ "secret", "secret_age_days", cfg->rotation_secret_days },
		{ "volume-key", "volume_key_age_days", cfg->rotation_volume_key_days },
	};
	struct json_object *due = json_object_new_array();

	why[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(k); i++) {
		double age = jnum(vol, k[i].field);
		if (k[i].limit > 0 && age > (double)k[i].limit) {
			size_t l = strlen(why);
			json_object_array_add(due, json_object_new_string(k[i].kind));
			snprintf(why + l, n - l, "%s%s is %.0f days old (limit %ld)", l ? "; " : "", k[i].kind, floor(age),
				 k[i].limit);
		}
	}
	return due;
}

static void decide(struct json_object *vol, struct json_object *agent, const struct volkey_config *cfg)
{
	struct json_object *d = agent_device(agent, vol), *lu = d ? last_unlock(d) : NULL, *due, *img = jget(vol, "image");
	bool mapped = jget(vol, "mapped") && json_object_get_boolean(jget(vol, "mapped"));
	const char *state, *outcome = jstr(lu, "outcome");
	char why[256], detail[768];

	due = rotation_due(vol, cfg, why, sizeof(why));
	if (streq_ptr(jstr(vol, "format"), "interrupted")) {
		state = "format-interrupted";
		snprintf(detail, sizeof(detail), "format did not finish: volkey format again or let the agent finish it");
	} else if (!mapped && streq_ptr(outcome, "failed")) {
		bool transient = json_object_get_boolean(jget(lu, "transient"));
		state = transient ? "key-unreachable" : "failed";
		snprintf(detail, sizeof(detail), "%s", strna(jstr(lu, "detail")));
	} else if (jstr(vol, "reencryption") || (img && !streq_ptr(jstr(img, "state"), "template"))) {
		state = "reencrypting";
		snprintf(detail, sizeof(detail), "%s", jstr(vol, "reencryption") ? jstr(vol, "reencryption") :
							       strna(jstr(img, "summary")));
	} else if (img) {
		state = "rekey-pending";
		snprintf(detail, sizeof(detail), "%s", strna(jstr(img, "summary")));
	} else if (json_object_array_length(due)) {
		state = "rotation-due";
		snprintf(detail, sizeof(detail), "%s (%s)", why, mapped ? "open" : "locked");
	} else {
		state = mapped ? "open" : "locked";
		snprintf(detail, sizeof(detail), "%s", mapped ? "unlocked and mapped" : "not mapped");
	}
	json_object_object_add(vol, "state", json_object_new_string(state));
	json_object_object_add(vol, "state_detail", json_object_new_string(detail));
	json_object_object_add(vol, "rotation_due", due);
	json_object_object_add(vol, "last_unlock", lu);
}

/* The agent part of the document: its record's agent object, and whether that
 * volkeyd still runs (the record outlives a stopped agent in /run). */
static struct json_object *agent_json(struct json_object *agent)
{
	struct json_object *a = jget(agent, "agent"), *o;
	char comm_path[64];
	_cleanup_free_ char *comm = NULL;
	double pid = jnum(a, "pid");
	bool running = false;

	if (!a || !json_object_is_type(a, json_type_object))
		return NULL;
	if (pid > 1 && pid < 1 << 22) {
		snprintf(comm_path, sizeof(comm_path), "/proc/%d/comm", (int)pid);
		running = read_first_line(NULL, comm_path, &comm) == 0 && !strcmp(comm, "volkeyd");
	}
	o = json_object_new_object();
	json_object_object_add(o, "running", json_object_new_boolean(running));
	json_object_object_add(o, "ready", json_object_new_boolean(jget(a, "ready") && json_object_get_boolean(jget(a, "ready"))));
	json_object_object_add(o, "pid", pid > 0 && pid < 1 << 22 ? json_object_new_int((int)pid) : NULL);
	json_object_object_add(o, "started", jstr(a, "started") ? json_object_new_string(jstr(a, "started")) : NULL);
	json_object_object_add(o, "kms", jget(a, "kms") && json_object_is_type(jget(a, "kms"), json_type_object) ?
						 json_object_get(jget(a, "kms")) : json_object_new_object());
	return o;
}

struct json_object *status_doc_new(struct json_object *volumes, struct json_object *agent,
				   const struct volkey_config *cfg)
{
	struct json_object *doc = json_object_new_object(), *host = json_object_new_object();
	struct json_object *policy = json_object_new_object();
	char now[32], hostname[256] = "";

	{
		time_t t = time(NULL);
		struct tm tm;
		strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	}
	gethostname(hostname, sizeof(hostname) - 1);
	json_object_object_add(doc, "schema_version", json_object_new_int(STATUS_SCHEMA_VERSION));
	json_object_object_add(doc, "generated", json_object_new_string(now));
	json_object_object_add(host, "hostname", json_object_new_string(hostname));
	json_object_object_add(doc, "host", host);
	json_object_object_add(policy, "rewrap_max_age_days", json_object_new_int64(cfg->rotation_rewrap_days));
	json_object_object_add(policy, "secret_max_age_days", json_object_new_int64(cfg->rotation_secret_days));
	json_object_object_add(policy, "volume_key_max_age_days", json_object_new_int64(cfg->rotation_volume_key_days));
	json_object_object_add(doc, "policy", policy);
	for (size_t i = 0; i < json_object_array_length(volumes); i++)
		decide(json_object_array_get_idx(volumes, i), agent, cfg);
	json_object_object_add(doc, "volumes", volumes);
	json_object_object_add(doc, "agent", agent_json(agent));
	return doc;
}
