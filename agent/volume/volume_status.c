// SPDX-License-Identifier: LGPL-2.1-or-later
#include <dirent.h>
#include <math.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <blkid/blkid.h>

#include "base/cslock.h"
#include "base/fileio.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "volume/volume.h"
#include "volume/volume_status.h"

static const struct {
	uint32_t flag;
	const char *name;
} flag_names[] = {
	{ CRYPT_ACTIVATE_READONLY, "readonly" },
	{ CRYPT_ACTIVATE_ALLOW_DISCARDS, "allow_discards" },
	{ CRYPT_ACTIVATE_SAME_CPU_CRYPT, "same_cpu_crypt" },
	{ CRYPT_ACTIVATE_SUBMIT_FROM_CRYPT_CPUS, "submit_from_crypt_cpus" },
	{ CRYPT_ACTIVATE_NO_READ_WORKQUEUE, "no_read_workqueue" },
	{ CRYPT_ACTIVATE_NO_WRITE_WORKQUEUE, "no_write_workqueue" },
};

struct json_object *activation_flags_json(uint32_t flags)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < ARRAY_SIZE(flag_names); i++)
		if (flags & flag_names[i].flag)
			json_object_array_add(a, json_object_new_string(flag_names[i].name));
	return a;
}

static void put_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

static void put_int(struct json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

static void put_days(struct json_object *o, const char *k, double days)
{
	json_object_object_add(o, k, days >= 0 ? json_object_new_double(floor(days * 100) / 100) : NULL);
}

static struct json_object *token_json(const struct token_entry *t)
{
	struct json_object *o = json_object_new_object();

	put_int(o, "id", t->id);
	put_str(o, "type", t->type);
	switch (t->role) {
	case TOKEN_VOLKEY: {
		struct json_object *ctx = json_object_new_object();
		const char *colon = strchr(t->t.key_uri, ':');
		char kind[32];

		snprintf(kind, sizeof(kind), "%.*s", colon ? (int)(colon - t->t.key_uri) : 0, t->t.key_uri);
		put_int(o, "keyslot", t->keyslot);
		put_str(o, "backend", kind);
		put_str(o, "key_uri", t->t.key_uri);
		put_str(o, "key_ref", t->t.key_ref);
		/* KMS names the key's ARN in each answer, and the token keeps it */
		put_str(o, "key_arn", !strncmp(t->t.key_uri, "aws-kms:arn:", 12) ? t->t.key_uri + 8 :
				      !strncmp(t->t.key_ref, "arn:", 4)         ? t->t.key_ref : NULL);
		put_int(o, "generation", (int64_t)t->t.generation);
		put_str(o, "created", t->t.created);
		if (t->t.rewrapped[0])
			put_str(o, "rewrapped", t->t.rewrapped);
		put_days(o, "secret_age_days", rfc3339_age_days(t->t.created));
		if (t->t.has_keyslot2)
			put_int(o, "keyslot_new_key", t->t.keyslot2);
		for (size_t i = 0; i < t->t.binding->n; i++)
			put_str(ctx, t->t.binding->pairs[i].key, t->t.binding->pairs[i].value);
		json_object_object_add(o, "context", ctx);
		break;
	}
	case TOKEN_BAD:
		put_str(o, "error", t->why);
		break;
	case TOKEN_RECOVERY:
		put_int(o, "keyslot", t->keyslot);
		break;
	case TOKEN_PENDING:
		put_int(o, "keyslot", t->keyslot);
		put_str(o, "note", "interrupted keyslot change; the next bind, unbind or recovery-key finishes it");
		break;
	case TOKEN_OTHER:
		break;
	}
	return o;
}

static const char *keyslot_role(const struct volume *v, int k, char *buf, size_t n)
{
	CS_LOCKED;
	for (int i = 0; i < v->ntokens; i++) {
		const struct token_entry *t = &v->tokens[i];
		if (t->keyslot != k && crypt_token_is_assigned(v->cd, t->id, k) != 0)
			continue;
		switch (t->role) {
		case TOKEN_VOLKEY:
		case TOKEN_BAD:
			snprintf(buf, n, "token %d", t->id);
			return buf;
		case TOKEN_RECOVERY:
			return "recovery";
		case TOKEN_PENDING:
			return "pending";
		case TOKEN_OTHER:
			snprintf(buf, n, "%s token %d", t->type, t->id);
			return buf;
		}
	}
	return "passphrase";
}

static struct json_object *keyslots_json(const struct volume *v)
{
	CS_LOCKED;
	struct json_object *a = json_object_new_array();
	char buf[96];

	for (int k = 0; k < crypt_keyslot_max(CRYPT_LUKS2); k++) {
		crypt_keyslot_info ki = crypt_keyslot_status(v->cd, k);
		struct crypt_pbkdf_type pbkdf;
		struct json_object *o;

		if (ki != CRYPT_SLOT_ACTIVE && ki != CRYPT_SLOT_ACTIVE_LAST && ki != CRYPT_SLOT_UNBOUND)
			continue;
		o = json_object_new_object();
		put_int(o, "id", k);
		put_str(o, "role", keyslot_role(v, k, buf, sizeof(buf)));
		if (crypt_keyslot_get_pbkdf(v->cd, k, &pbkdf) == 0) {
			put_str(o, "pbkdf", pbkdf.type);
			put_int(o, "iterations", pbkdf.iterations);
		}
		json_object_array_add(a, o);
	}
	return a;
}

static struct json_object *mappings_json(const char *device)
{
	CS_LOCKED;
	struct json_object *a = json_object_new_array();
	char dir[96], sub[400];
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (stat(device, &st) < 0 || !S_ISBLK(st.st_mode))
		return a;
	snprintf(dir, sizeof(dir), "/sys/dev/block/%u:%u/holders", major(st.st_rdev), minor(st.st_rdev));
	d = opendir(dir);
	if (!d)
		return a;
	while ((de = readdir(d))) {
		_cleanup_free_ char *name = NULL;
		struct crypt_active_device cad;
		struct crypt_device *cd = NULL;
		struct json_object *o;

		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s/dm/name", dir, de->d_name);
		if (read_first_line(NULL, sub, &name) < 0)
			continue;
		o = json_object_new_object();
		put_str(o, "name", name);
		put_str(o, "kernel_name", de->d_name);
		if (crypt_init_by_name(&cd, name) == 0 && crypt_get_active_device(cd, name, &cad) == 0)
			json_object_object_add(o, "flags", activation_flags_json(cad.flags));
		crypt_free(cd);
		json_object_array_add(a, o);
	}
	closedir(d);
	return a;
}

/* The volume's ages as rotation counts them (volume_rotation_age): the oldest
 * secret, the longest since a wrap (a rewrap, or the creation), the volume key
 * since its last re-encryption or else since the oldest secret. */
static void ages_json(struct json_object *o, const struct volume *v, const char *vk_rotated)
{
	struct json_object *arns = json_object_new_array();
	double secret = -1, wrap = -1, vk;
	const char *last_rewrap = NULL, *oldest = NULL;

	for (int i = 0; i < v->ntokens; i++) {
		const struct token_entry *t = &v->tokens[i];
		const char *w;
		double d;

		if (t->role != TOKEN_VOLKEY)
			continue;
		if ((d = rfc3339_age_days(t->t.created)) > secret) {
			secret = d;
			oldest = t->t.created;
		}
		w = t->t.rewrapped[0] ? t->t.rewrapped : t->t.created;
		if ((d = rfc3339_age_days(w)) > wrap)
			wrap = d;
		if (t->t.rewrapped[0] && (!last_rewrap || strcmp(t->t.rewrapped, last_rewrap) > 0))
			last_rewrap = t->t.rewrapped;
		json_object_array_add(arns, json_object_new_string(!strncmp(t->t.key_uri, "aws-kms:arn:", 12) ?
									   t->t.key_uri + 8 :
								   !strncmp(t->t.key_ref, "arn:", 4) ? t->t.key_ref :
												       t->t.key_uri));
	}
	vk = vk_rotated[0] ? rfc3339_age_days(vk_rotated) : secret;
	json_object_object_add(o, "key_arns", arns);
	put_days(o, "secret_age_days", secret);
	put_str(o, "oldest_secret_created", oldest);
	put_str(o, "last_rewrap", last_rewrap);
	put_days(o, "wrap_age_days", wrap);
	put_days(o, "volume_key_age_days", vk);
}

int volume_status_json(const char *device, struct json_object **ret, struct errbuf *e)
{
	CS_LOCKED;
	struct json_object *o, *tokens;
	struct volume v;
	uint32_t pflags = 0;
	char cipher[96];
	int r;

	r = volume_load(device, &v, e);
	if (r < 0)
		return r;
	o = json_object_new_object();
	put_str(o, "device", device);
	put_str(o, "luks_uuid", v.uuid);
	put_str(o, "format", streq_ptr(v.subsystem, VOLKEY_SUBSYSTEM)		      ? "complete"
			     : streq_ptr(v.subsystem, VOLKEY_SUBSYSTEM_PROVISIONING) ? "interrupted"
										      : "not volkey");
	snprintf(cipher, sizeof(cipher), "%s-%s", strna(crypt_get_cipher(v.cd)), strna(crypt_get_cipher_mode(v.cd)));
	put_str(o, "cipher", cipher);
	put_int(o, "volume_key_bits", crypt_get_volume_key_size(v.cd) * 8);
	put_int(o, "sector_size", crypt_get_sector_size(v.cd));
	tokens = json_object_new_array();
	for (int i = 0; i < v.ntokens; i++)
		json_object_array_add(tokens, token_json(&v.tokens[i]));
	json_object_object_add(o, "tokens", tokens);
	json_object_object_add(o, "keyslots", keyslots_json(&v));
	{
		crypt_reencrypt_info ri = crypt_reencrypt_status(v.cd, NULL);
		char when[32];
		if (ri != CRYPT_REENCRYPT_NONE)
			put_str(o, "reencryption", ri == CRYPT_REENCRYPT_CLEAN ? "interrupted (resumable)" :
						   ri == CRYPT_REENCRYPT_CRASH ? "crashed (resumable after recovery)" :
										 "invalid");
		if (volume_vk_rotated(&v, when, sizeof(when)) == 0)
			put_str(o, "volume_key_rotated", when);
		else
			when[0] = '\0';
		ages_json(o, &v, when);
	}
	{
		struct image_marker m;
		int ir = volume_image_marker(&v, &m, NULL);
		if (ir != 0) {
			struct json_object *im = json_object_new_object();
			char summary[160];

			if (ir < 0)
				snprintf(summary, sizeof(summary), "marker unreadable");
			else if (m.state == IMAGE_TEMPLATE)
				snprintf(summary, sizeof(summary), "template, not re-keyed (first-boot re-key pending)");
			else
				snprintf(summary, sizeof(summary), "re-key in progress (step: %s)",
					 volkey_image_state_name(m.state));
			put_str(im, "state", ir < 0 ? "invalid" : volkey_image_state_name(m.state));
			if (ir > 0)
				put_str(im, "marked", m.created);
			if (ir > 0 && m.state >= IMAGE_NEW_SECRETS) {
				put_str(im, "old_uuid", m.old_uuid);
				put_str(im, "new_uuid", m.new_uuid);
			}
			put_str(im, "summary", summary);
			json_object_object_add(o, "image", im);
		}
	}
	if (crypt_persistent_flags_get(v.cd, CRYPT_FLAGS_ACTIVATION, &pflags) == 0)
		json_object_object_add(o, "persistent_flags", activation_flags_json(pflags));
	{
		struct json_object *m = mappings_json(device);
		json_object_object_add(o, "mapped", json_object_new_boolean(json_object_array_length(m) > 0));
		json_object_object_add(o, "mappings", m);
	}
	volume_done(&v);
	*ret = o;
	return 0;
}

static bool is_volkey(const char *path)
{
	CS_LOCKED;
	blkid_probe pr = blkid_new_probe_from_filename(path);
	const char *type = NULL, *sub = NULL;
	bool yes = false;
	char buf[64] = "";

	if (!pr)
		return false;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_LABEL);
	if (blkid_do_safeprobe(pr) == 0 && blkid_probe_lookup_value(pr, "TYPE", &type, NULL) == 0 &&
	    strcmp(type, "crypto_LUKS") == 0) {
		/* libblkid does not expose the LUKS2 subsystem: ask libcryptsetup. */
		struct crypt_device *cd = NULL;
		if (crypt_init(&cd, path) == 0 && crypt_load(cd, CRYPT_LUKS2, NULL) == 0) {
			sub = crypt_get_subsystem(cd);
			snprintf(buf, sizeof(buf), "%s", sub ? sub : "");
		}
		crypt_free(cd);
		yes = !strcmp(buf, VOLKEY_SUBSYSTEM) || !strcmp(buf, VOLKEY_SUBSYSTEM_PROVISIONING);
	}
	blkid_free_probe(pr);
	return yes;
}

int volume_find_all(char ***ret)
{
	char **list = calloc(1, sizeof(char *));
	size_t n = 0;
	struct dirent *de;
	DIR *d;

	if (!list)
		return -ENOMEM;
	d = opendir("/sys/class/block");
	if (d) {
		while ((de = readdir(d))) {
			char path[300], size_path[300];
			_cleanup_free_ char *size = NULL;
			char **nl;

			if (de->d_name[0] == '.' || !strncmp(de->d_name, "ram", 3))
				continue;
			snprintf(size_path, sizeof(size_path), "/sys/class/block/%s/size", de->d_name);
			if (read_first_line(NULL, size_path, &size) < 0 || !strcmp(size, "0"))
				continue;
			snprintf(path, sizeof(path), "/dev/%s", de->d_name);
			if (!is_volkey(path))
				continue;
			nl = realloc(list, (n + 2) * sizeof(char *));
			if (!nl)
				break;
			list = nl;
			list[n] = strdup(path);
			if (list[n])
				n++;
			list[n] = NULL;
		}
		closedir(d);
	}
	*ret = list;
	return (int)n;
}

int status_volumes_all(struct json_object **ret)
{
	struct json_object *all = json_object_new_array();
	char **list = NULL;
	int n, r = 0;

	n = volume_find_all(&list);
	if (n < 0) {
		json_object_put(all);
		return n;
	}
	for (int i = 0; i < n; i++) {
		struct errbuf e = { { 0 } };
		struct json_object *o = NULL;

		if (volume_status_json(list[i], &o, &e) < 0) {
			log_warning("%s", e.msg);
			r = -EIO;
		} else
			json_object_array_add(all, o);
		free(list[i]);
	}
	free(list);
	*ret = all;
	return r;
}
