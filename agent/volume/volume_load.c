// SPDX-License-Identifier: LGPL-2.1-or-later
/* Loading a volkey volume's header and classifying its tokens (a pending token's
 * keyslot among them); its active mapping. Finishing pending changes is
 * volume_pending.c's. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <json-c/json.h>

#include "base/cslock.h"
#include "base/fileio.h"
#include "base/log.h"
#include "volume/volume.h"

static void crypt_log_cb(int level, const char *msg, void *usrptr)
{
	size_t n = strlen(msg);
	(void)usrptr;
	/* libcryptsetup explains its own view of each try ("No key available with this
	 * passphrase"); volkey logs the cause once, so these are debug detail. */
	log_debug("libcryptsetup%s: %.*s", level == CRYPT_LOG_ERROR ? " error" : "",
		  (int)(n && msg[n - 1] == '\n' ? n - 1 : n), msg);
}

void volume_log_setup(void)
{
	CS_LOCKED;
	crypt_set_log_callback(NULL, crypt_log_cb, NULL);
}

int volume_set_fast_pbkdf(struct crypt_device *cd)
{
	CS_LOCKED;
	const struct crypt_pbkdf_type pbkdf = {
		.type = CRYPT_KDF_PBKDF2,
		.hash = "sha512",
		.iterations = VOLKEY_PBKDF_ITERATIONS,
		.flags = CRYPT_PBKDF_NO_BENCHMARK,
	};
	return crypt_set_pbkdf_type(cd, &pbkdf);
}

/* A pending token: {"type":"volkey-pending","keyslots":[] or ["K"],"keyslot":K,"op":...}. */
static int pending_keyslot(const char *json, int *ret)
{
	struct json_object *o, *v;
	int r = -EBADMSG;

	if (!json || strlen(json) > VOLKEY_TOKEN_JSON_MAX)
		return -EBADMSG;
	o = json_tokener_parse(json);
	if (o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "type", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    strcmp(json_object_get_string(v), VOLKEY_PENDING_TOKEN_TYPE) == 0 &&
	    json_object_object_get_ex(o, "keyslot", &v) && json_object_is_type(v, json_type_int) &&
	    json_object_get_int(v) >= 0 && json_object_get_int(v) < 32) {
		*ret = json_object_get_int(v);
		r = 0;
	}
	json_object_put(o);
	return r;
}

/* The keyslot a token is assigned to in the header, whatever its JSON says, or -1. */
static int assigned_keyslot(struct crypt_device *cd, int token)
{
	CS_LOCKED;
	for (int k = 0; k < crypt_keyslot_max(CRYPT_LUKS2); k++)
		if (crypt_token_is_assigned(cd, token, k) == 0)
			return k;
	return -1;
}

static void entry_clear(struct token_entry *t)
{
	volkey_token_clear(&t->t);
	memset(t, 0, sizeof(*t));
}

static int load_token(struct volume *v, int id, const char *type, struct token_entry *t)
{
	CS_LOCKED;
	const char *json = NULL;
	int r;

	t->id = id;
	t->keyslot = -1;
	snprintf(t->type, sizeof(t->type), "%s", type ? type : "");
	r = crypt_token_json_get(v->cd, id, &json);
	if (r < 0)
		return r;
	if (streq_ptr(type, VOLKEY_TOKEN_TYPE)) {
		r = volkey_token_parse(json, strlen(json), &t->t, t->why, sizeof(t->why));
		if (r < 0) {
			t->role = TOKEN_BAD;
			t->rc = r;
			t->keyslot = assigned_keyslot(v->cd, id);
		} else {
			t->role = TOKEN_VOLKEY;
			t->keyslot = t->t.keyslot;
		}
	} else if (streq_ptr(type, VOLKEY_RECOVERY_TOKEN_TYPE)) {
		t->role = volkey_recovery_token_parse(json, &t->keyslot) < 0 ? TOKEN_OTHER : TOKEN_RECOVERY;
	} else if (streq_ptr(type, VOLKEY_PENDING_TOKEN_TYPE)) {
		t->role = pending_keyslot(json, &t->keyslot) < 0 ? TOKEN_OTHER : TOKEN_PENDING;
	} else {
		t->role = TOKEN_OTHER;
	}
	return 0;
}

int volume_reload_tokens(struct volume *v, struct errbuf *e)
{
	CS_LOCKED;
	int r;

	for (int i = 0; i < v->ntokens; i++)
		entry_clear(&v->tokens[i]);
	v->ntokens = 0;
	for (int id = 0; id < VOLKEY_MAX_TOKENS; id++) {
		const char *type = NULL;
		crypt_token_info ti = crypt_token_status(v->cd, id, &type);

		if (ti == CRYPT_TOKEN_INACTIVE || ti == CRYPT_TOKEN_INVALID)
			continue;
		r = load_token(v, id, type, &v->tokens[v->ntokens]);
		if (r < 0)
			return err_fail(e, r, "%s: cannot read LUKS2 token %d: %s", v->path, id, strerror(-r));
		v->ntokens++;
	}
	return 0;
}

int volume_load(const char *path, struct volume *v, struct errbuf *e)
{
	CS_LOCKED;
	struct stat st;
	const char *s;
	int r;

	memset(v, 0, sizeof(*v));
	snprintf(v->path, sizeof(v->path), "%s", path);
	if (stat(path, &st) < 0)
		return err_fail(e, negative_errno(), "%s: %s", path, strerror(errno));
	if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode))
		return err_fail(e, -ENOTBLK, "%s: not a block device or regular file", path);
	r = crypt_init(&v->cd, path);
	if (r < 0)
		return err_fail(e, r, "%s: cannot open device: %s", path, strerror(-r));
	r = crypt_load(v->cd, CRYPT_LUKS2, NULL);
	if (r < 0) {
		/* -EIO: too small to hold a header, or unreadable where one would be. */
		if (r == -EINVAL || r == -ENOENT || r == -EIO)
			r = err_fail(e, -ENODEV, "%s: not a LUKS2 volume", path);
		else
			r = err_fail(e, r, "%s: cannot read the LUKS2 header: %s", path, strerror(-r));
		volume_done(v);
		return r;
	}
	s = crypt_get_uuid(v->cd);
	snprintf(v->uuid, sizeof(v->uuid), "%s", s ? s : "");
	s = crypt_get_subsystem(v->cd);
	snprintf(v->subsystem, sizeof(v->subsystem), "%s", s ? s : "");
	r = volume_reload_tokens(v, e);
	if (r < 0)
		volume_done(v);
	return r;
}

void volume_done(struct volume *v)
{
	CS_LOCKED;
	for (int i = 0; i < v->ntokens; i++)
		entry_clear(&v->tokens[i]);
	v->ntokens = 0;
	crypt_free(v->cd);
	v->cd = NULL;
}

int volume_count_volkey(const struct volume *v)
{
	int n = 0;

	for (int i = 0; i < v->ntokens; i++)
		n += v->tokens[i].role == TOKEN_VOLKEY || v->tokens[i].role == TOKEN_BAD;
	return n;
}

const struct token_entry *volume_token(const struct volume *v, int id)
{
	for (int i = 0; i < v->ntokens; i++)
		if (v->tokens[i].id == id)
			return &v->tokens[i];
	return NULL;
}

bool volume_keyslot_referenced(const struct volume *v, int keyslot)
{
	CS_LOCKED;
	for (int i = 0; i < v->ntokens; i++) {
		const struct token_entry *t = &v->tokens[i];
		if (t->role == TOKEN_PENDING)
			continue;
		if (t->keyslot == keyslot || crypt_token_is_assigned(v->cd, t->id, keyslot) == 0)
			return true;
	}
	return false;
}

/* Does the dm device kname (dm-N) sit on the block device want, directly or
 * through other dm devices? bottom gets the first non-dm device under it. */
static bool dm_sits_on(const char *kname, dev_t want, char *bottom, size_t bn, int depth)
{
	char dir[128], sub[400];
	struct dirent *de;
	bool on = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "/sys/class/block/%s/slaves", kname);
	if (depth > 8 || !(d = opendir(dir)))
		return false;
	while (!on && (de = readdir(d))) {
		_cleanup_free_ char *mm = NULL;
		unsigned ma, mi;

		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "/sys/class/block/%s/dev", de->d_name);
		if (read_first_line(NULL, sub, &mm) == 0 && sscanf(mm, "%u:%u", &ma, &mi) == 2 &&
		    makedev(ma, mi) == want)
			on = true;
		if (strncmp(de->d_name, "dm-", 3) != 0) {
			if (bottom && !bottom[0])
				snprintf(bottom, bn, "/dev/%s", de->d_name);
		} else if (dm_sits_on(de->d_name, want, bottom, bn, depth + 1))
			on = true;
	}
	closedir(d);
	return on;
}

/* The mappings of the LUKS2 volume uuid: dm devices whose uuid is
 * CRYPT-LUKS2-<uuid without dashes>-<their own name>. Looked up among all dm
 * devices, not the disk's holders: during an online re-encryption libcryptsetup
 * stacks the mapping on helper devices (NAME-hotzone-*, NAME-overlay). A mapping
 * counts as device's only when it sits on device (its dm slaves, down to the
 * major:minor): a copy of the header elsewhere (a restored snapshot) has the
 * same uuid. mine: 1 for a mapping on device, 0 for one elsewhere. */
static int find_mapping(const char *device, const char *uuid, bool mine, char *name, size_t n, char *other,
			size_t on)
{
	char want[64], sub[300];
	struct dirent *de;
	struct stat st;
	size_t w = 0;
	int found = 0;
	DIR *d;

	/* not a block device (an image file): its loop device is not known here, any mapping counts */
	if (stat(device, &st) < 0 || !S_ISBLK(st.st_mode))
		st.st_rdev = 0;
	w = (size_t)snprintf(want, sizeof(want), "CRYPT-LUKS2-");
	for (const char *p = uuid; *p && w + 2 < sizeof(want); p++)
		if (*p != '-')
			want[w++] = *p;
	want[w++] = '-';
	want[w] = '\0';
	d = opendir("/sys/block");
	if (!d)
		return 0;
	while (!found && (de = readdir(d))) {
		_cleanup_free_ char *dmuuid = NULL, *dmname = NULL;
		char bottom[64] = "";
		bool exact;

		if (strncmp(de->d_name, "dm-", 3) != 0)
			continue;
		snprintf(sub, sizeof(sub), "/sys/block/%s/dm/uuid", de->d_name);
		if (read_first_line(NULL, sub, &dmuuid) < 0 || strncmp(dmuuid, want, 12) != 0)
			continue;
		/* A mapping made before `volkey rekey` switched the header's UUID keeps
		 * the old one in its dm uuid until it is closed: on this very device, any
		 * LUKS2 mapping is this volume's. */
		exact = strncmp(dmuuid, want, w) == 0;
		if (!exact && !(mine && st.st_rdev && strlen(dmuuid) > 12 + 33 && dmuuid[12 + 32] == '-'))
			continue;
		snprintf(sub, sizeof(sub), "/sys/block/%s/dm/name", de->d_name);
		if (read_first_line(NULL, sub, &dmname) < 0 || strcmp(dmuuid + (exact ? w : 12 + 33), dmname) != 0)
			continue;
		if (st.st_rdev && dm_sits_on(de->d_name, st.st_rdev, bottom, sizeof(bottom), 0) != mine)
			continue;
		if (!st.st_rdev && !mine)
			continue;
		snprintf(name, n, "%s", dmname);
		if (other)
			snprintf(other, on, "%s", bottom[0] ? bottom : "?");
		found = 1;
	}
	closedir(d);
	return found;
}

int volume_active_mapping(const char *device, const char *uuid, char *name, size_t n)
{
	return find_mapping(device, uuid, true, name, n, NULL, 0);
}

int volume_mapped_elsewhere(const char *device, const char *uuid, char *name, size_t n, char *other, size_t on)
{
	return find_mapping(device, uuid, false, name, n, other, on);
}
