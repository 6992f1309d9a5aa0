// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/jsonget.h"
#include "base/macro.h"
#include "base/timeutil.h"
#include "volume/status_doc.h"
#include "volume/status_prom.h"

#define jget json_member
#define jstr json_member_str
#define jnum json_member_num

/* A label value as the exposition format wants it: \, " and newline escaped.
 * What comes from a disk (a token's key URI) is hostile: control bytes go too. */
static void label(FILE *f, const char *name, const char *v, bool first)
{
	fprintf(f, "%s%s=\"", first ? "" : ",", name);
	for (const unsigned char *p = (const unsigned char *)(v ? v : ""); *p; p++) {
		if (*p == '\\' || *p == '"')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p < 0x20 || *p == 0x7f)
			fputc('?', f);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void vol_labels(FILE *f, struct json_object *v)
{
	label(f, "device", jstr(v, "device"), true);
	label(f, "luks_uuid", jstr(v, "luks_uuid"), false);
}

static void sample(FILE *f, const char *name, struct json_object *v, const char *extra_name, const char *extra,
		   double value)
{
	fprintf(f, "%s{", name);
	vol_labels(f, v);
	if (extra_name)
		label(f, extra_name, extra, false);
	fprintf(f, "} %.12g\n", value);
}

/* A volkey token of the volume, by index, or NULL. */
#define FOR_TOKENS(v, t)                                                                              \
	for (size_t _i = 0, _n = jget(v, "tokens") ? json_object_array_length(jget(v, "tokens")) : 0; \
	     _i < _n && ((t) = json_object_array_get_idx(jget(v, "tokens"), _i), 1); _i++)            \
		if (streq_ptr(jstr(t, "type"), "volkey") && jstr(t, "key_uri"))

static void token_sample(FILE *f, const char *name, struct json_object *v, struct json_object *t, double value)
{
	char id[16];

	snprintf(id, sizeof(id), "%d", json_object_get_int(jget(t, "id")));
	sample(f, name, v, "token", id, value);
}

int status_prom_write(struct json_object *doc, FILE *f)
{
	struct json_object *vols = jget(doc, "volumes"), *agent = jget(doc, "agent"), *t, *kms;
	size_t n = vols ? json_object_array_length(vols) : 0;
	double x;

	head(f, "volkey_volume_info", "gauge", "A volkey volume (always 1); its labels describe it.");
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(vols, i);
		fprintf(f, "volkey_volume_info{");
		vol_labels(f, v);
		label(f, "cipher", jstr(v, "cipher"), false);
		label(f, "state", jstr(v, "state"), false);
		fprintf(f, "} 1\n");
	}
	head(f, "volkey_volume_state", "gauge", "1 for the volume's state, 0 for the others (docs/status-schema.json).");
	for (size_t i = 0; i < n; i++)
		for (int s = 0; s < status_nstates; s++)
			sample(f, "volkey_volume_state", json_object_array_get_idx(vols, i), "state", status_states[s],
			       streq_ptr(jstr(json_object_array_get_idx(vols, i), "state"), status_states[s]));
	head(f, "volkey_volume_rotation_due", "gauge", "1 when the kind is older than [rotation] allows.");
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(vols, i), *due = jget(v, "rotation_due");
		static const char *const kinds[] = { "rewrap", "secret", "volume-key" };
		for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
			bool yes = false;
			for (size_t j = 0; due && j < json_object_array_length(due); j++)
				yes |= streq_ptr(json_object_get_string(json_object_array_get_idx(due, j)), kinds[k]);
			sample(f, "volkey_volume_rotation_due", v, "kind", kinds[k], yes);
		}
	}
	head(f, "volkey_volume_mapped", "gauge", "1 when the volume is unlocked and mapped.");
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(vols, i);
		sample(f, "volkey_volume_mapped", v, NULL, NULL, json_object_get_boolean(jget(v, "mapped")));
	}
	head(f, "volkey_token_info", "gauge", "A volkey token (always 1): its backend and key.");
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(vols, i);
		FOR_TOKENS(v, t)
		{
			fprintf(f, "volkey_token_info{");
			vol_labels(f, v);
			fprintf(f, ",token=\"%d\"", json_object_get_int(jget(t, "id")));
			label(f, "backend", jstr(t, "backend"), false);
			label(f, "key", jstr(t, "key_arn") ? jstr(t, "key_arn") : jstr(t, "key_uri"), false);
			fprintf(f, "} 1\n");
		}
	}
	head(f, "volkey_secret_created_timestamp_seconds", "gauge",
	     "When the token's keyslot secret was made (Unix time).");
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(vols, i);
		FOR_TOKENS(v, t)
		if (rfc3339_epoch(jstr(t, "created")) >= 0)
			token_sample(f, "volkey_secret_created_timestamp_seconds", v, t,
				     (double)rfc3339_epoch(jstr(t, "created")));
	}
	head(f, "volkey_secret_wrapped_timestamp_seconds", "gauge",
	     "When the token's secret was last wrapped by its key: the last rewrap, else its creation (Unix time).");
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(vols, i);
		FOR_TOKENS(v, t)
		{
			const char *w = jstr(t, "rewrapped") ? jstr(t, "rewrapped") : jstr(t, "created");
			if (rfc3339_epoch(w) >= 0)
				token_sample(f, "volkey_secret_wrapped_timestamp_seconds", v, t, (double)rfc3339_epoch(w));
		}
	}
	head(f, "volkey_volume_key_rotated_timestamp_seconds", "gauge",
	     "When the volume key was last rotated (re-encryption); before any, its oldest secret's creation (Unix time).");
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(vols, i);
		const char *w = jstr(v, "volume_key_rotated") ? jstr(v, "volume_key_rotated") :
								  jstr(v, "oldest_secret_created");
		if (rfc3339_epoch(w) >= 0)
			sample(f, "volkey_volume_key_rotated_timestamp_seconds", v, NULL, NULL, (double)rfc3339_epoch(w));
	}
	head(f, "volkey_unlock_success", "gauge", "1 when volkeyd's last unlock of the volume this boot succeeded, else 0.");
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(vols, i), *lu = jget(v, "last_unlock");
		if (lu)
			sample(f, "volkey_unlock_success", v, NULL, NULL, !streq_ptr(jstr(lu, "outcome"), "failed"));
	}
	head(f, "volkey_unlock_duration_seconds", "gauge", "How long volkeyd's last unlock of the volume took.");
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(vols, i), *lu = jget(v, "last_unlock");
		if (lu && jnum(lu, "seconds", &x))
			sample(f, "volkey_unlock_duration_seconds", v, NULL, NULL, x);
	}
	head(f, "volkey_unlock_timestamp_seconds", "gauge", "When volkeyd's last unlock of the volume ended (Unix time).");
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(vols, i), *lu = jget(v, "last_unlock");
		if (lu && rfc3339_epoch(jstr(lu, "at")) >= 0)
			sample(f, "volkey_unlock_timestamp_seconds", v, NULL, NULL, (double)rfc3339_epoch(jstr(lu, "at")));
	}
	head(f, "volkey_agent_up", "gauge", "1 when volkeyd runs (its record in /run names a live volkeyd).");
	fprintf(f, "volkey_agent_up %d\n", agent && json_object_get_boolean(jget(agent, "running")));
	head(f, "volkey_agent_ready", "gauge", "1 once volkeyd has handled the devices present at its start.");
	fprintf(f, "volkey_agent_ready %d\n", agent && json_object_get_boolean(jget(agent, "ready")));
	kms = jget(agent, "kms");
	head(f, "volkey_kms_requests_total", "counter", "HTTP requests volkeyd made to KMS since it started, by operation.");
	if (kms && json_object_is_type(kms, json_type_object)) {
		json_object_object_foreach(kms, op, o)
		if (jnum(o, "requests", &x)) {
			fprintf(f, "volkey_kms_requests_total{");
			label(f, "operation", op, true);
			fprintf(f, "} %.12g\n", x);
		}
	}
	head(f, "volkey_kms_errors_total", "counter",
	     "Failed KMS requests of volkeyd since it started, by operation and error (KMS error type, unreachable, tls, malformed).");
	if (kms && json_object_is_type(kms, json_type_object)) {
		json_object_object_foreach(kms, op2, o2)
		{
			struct json_object *errs = jget(o2, "errors");
			if (!errs || !json_object_is_type(errs, json_type_object))
				continue;
			json_object_object_foreach(errs, err, cnt)
			{
				fprintf(f, "volkey_kms_errors_total{");
				label(f, "operation", op2, true);
				label(f, "error", err, false);
				fprintf(f, "} %.12g\n", json_object_get_double(cnt));
			}
		}
	}
	fflush(f);
	return ferror(f) ? -EIO : 0;
}

int status_prom_write_file(struct json_object *doc, const char *path)
{
	char dir[PATH_MAX], tmp[PATH_MAX + 16];
	const char *slash = strrchr(path, '/');
	_cleanup_fclose_ FILE *f = NULL;
	struct stat st;
	int fd, r;

	if (!slash || slash == path || (size_t)(slash - path) >= sizeof(dir))
		return -EINVAL;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (stat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	/* node_exporter reads only *.prom: the temp name is not one. Never through
	 * what is at that name (a planted symlink): removed, then made anew. */
	snprintf(tmp, sizeof(tmp), "%s/.volkey.prom.tmp", dir);
	if (unlink(tmp) < 0 && errno != ENOENT)
		return -errno;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	(void)fchmod(fd, 0644); /* volkeyd's UMask is 0077: node_exporter must read it */
	f = fdopen(fd, "w");
	if (!f) {
		r = -errno;
		close(fd);
		unlink(tmp);
		return r;
	}
	r = status_prom_write(doc, f);
	if (r == 0 && (fflush(f) != 0 || fsync(fileno(f)) < 0))
		r = -errno;
	if (fclose(TAKE_PTR(f)) != 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}
