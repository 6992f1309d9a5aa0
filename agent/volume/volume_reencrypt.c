// SPDX-License-Identifier: LGPL-2.1-or-later
/* rotate --volume-key: the data re-encrypted under a new volume key by
 * libcryptsetup's LUKS2 re-encryption, online when the volume is mapped (the
 * filesystem stays mounted and busy) and offline otherwise.
 *
 * Preparation gives every volkey token a second keyslot holding its same secret
 * for the new key (announced by a pending token, so a crash leaves no orphan);
 * libcryptsetup then records the re-encryption in the header and moves through
 * the data one hotzone at a time with the chosen resilience (checksum, journal,
 * none). When it finishes it removes the old key's keyslots, which leaves each
 * token with its new keyslot. Interrupted (kill, power cut, Ctrl-C) it resumes
 * from the header: `volkey rotate --volume-key` again, or volkeyd at boot. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <json-c/json.h>

#include "base/aead.h"
#include "base/cslock.h"
#include "base/fileio.h"
#include "base/log.h"
#include "base/secret.h"
#include "base/testhook.h"
#include "base/timeutil.h"
#include "volume/rotate.h"
#include "volume/volume.h"

/* The helper devices libcryptsetup stacks under NAME during an online
 * re-encryption; left behind when the process running it was killed. */
static int leftover_helpers(const char *name, char *buf, size_t n)
{
	static const char *const suffix[] = { "-overlay", "-hotzone-forward", "-hotzone-backward" };
	size_t off = 0;
	int found = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(suffix); i++) {
		char path[300];
		snprintf(path, sizeof(path), "/dev/mapper/%s%s", name, suffix[i]);
		if (access(path, F_OK) == 0 && off < n) {
			off += (size_t)snprintf(buf + off, n - off, "%s%s%s", found ? ", " : "", name, suffix[i]);
			found++;
		}
	}
	return found;
}

int volume_vk_rotated(struct volume *v, char *buf, size_t n)
{
	CS_LOCKED;
	for (int i = 0; i < v->ntokens; i++) {
		const char *json = NULL, *created;
		struct json_object *o, *m;
		bool ok;

		if (!streq_ptr(v->tokens[i].type, VOLKEY_VK_TOKEN_TYPE) ||
		    crypt_token_json_get(v->cd, v->tokens[i].id, &json) < 0 || !(o = json_tokener_parse(json)))
			continue;
		/* {"type":"volkey-volume-key","keyslots":[],"created":"YYYY-MM-DDTHH:MM:SSZ"} */
		ok = json_object_object_get_ex(o, "created", &m) && json_object_is_type(m, json_type_string) &&
		     strlen(created = json_object_get_string(m)) == 20;
		if (ok)
			snprintf(buf, n, "%s", created);
		json_object_put(o);
		if (ok)
			return 0;
	}
	return -ENOENT;
}

static int write_vk_marker(struct volume *v, struct errbuf *e)
{
	CS_LOCKED;
	char now[32], json[160];
	int id = CRYPT_ANY_TOKEN, r;

	for (int i = 0; i < v->ntokens; i++)
		if (streq_ptr(v->tokens[i].type, VOLKEY_VK_TOKEN_TYPE))
			id = v->tokens[i].id;
	rfc3339_now(now, sizeof(now));
	snprintf(json, sizeof(json), "{\"type\":\"" VOLKEY_VK_TOKEN_TYPE "\",\"keyslots\":[],\"created\":\"%s\"}",
		 now);
	r = crypt_token_json_set(v->cd, id, json);
	return r < 0 ? err_fail(e, r, "%s: cannot record the re-encryption's time: %s", v->path, strerror(-r)) : 0;
}

/* Every active keyslot must be a volkey token's, or it would be lost: the new
 * volume key can only be put in keyslots whose secret volkey can unwrap. */
static int check_carry_over(struct volume *v, const struct rotate_opts *o, struct errbuf *e)
{
	CS_LOCKED;
	for (int k = 0; k < crypt_keyslot_max(CRYPT_LUKS2); k++) {
		crypt_keyslot_info ki = crypt_keyslot_status(v->cd, k);
		const struct token_entry *owner = NULL;

		if (ki != CRYPT_SLOT_ACTIVE && ki != CRYPT_SLOT_ACTIVE_LAST)
			continue;
		for (int i = 0; i < v->ntokens && !owner; i++)
			if (v->tokens[i].keyslot == k && v->tokens[i].role != TOKEN_PENDING)
				owner = &v->tokens[i];
		if (owner && owner->role == TOKEN_VOLKEY)
			continue;
		if (owner && owner->role == TOKEN_RECOVERY && o->recovery_phrase) {
			if (crypt_activate_by_passphrase(v->cd, NULL, k, o->recovery_phrase, o->recovery_len, 0) < 0)
				return err_fail(e, -EKEYREJECTED,
						"%s: the recovery passphrase given does not open recovery keyslot %d; "
						"nothing was changed",
						v->path, k);
			continue;
		}
		if (owner && owner->role == TOKEN_RECOVERY && o->drop_recovery)
			continue; /* goes with the old key at the end of the data pass */
		if (owner && owner->role == TOKEN_RECOVERY)
			return err_fail(e, -EPERM,
					"%s: keyslot %d is a recovery key, which cannot be carried over to a new volume "
					"key without its phrase: give it with --recovery-phrase-stdin, or remove it "
					"(volkey unbind --token %d), rotate, then add a new one (volkey recovery-key)",
					v->path, k, owner->id);
		return err_fail(e, -EPERM,
				"%s: keyslot %d is not a volkey token's (%s); re-encryption would lose it. Remove it or "
				"use cryptsetup reencrypt, which asks for every passphrase",
				v->path, k, owner ? owner->type : "no token");
	}
	return 0;
}

/* Gives every volkey token a keyslot of newvk with its own secret. Returns the
 * new keyslot of the first token (for init) in *ret_new, its secret in *ret_pass. */
static int prepare(struct volume *v, const struct volkey_config *cfg, const struct rotate_opts *o, int *ret_old, int *ret_new, void **ret_pass,
		   size_t *ret_len, struct errbuf *e)
{
	CS_LOCKED;
	_cleanup_secret_ void *newvk = NULL;
	int ids[VOLKEY_MAX_TOKENS], n = 0, r, vklen;

	vklen = crypt_get_volume_key_size(v->cd);
	if (vklen <= 0)
		return err_fail(e, -EINVAL, "%s: unknown volume key size", v->path);
	newvk = secret_alloc((size_t)vklen);
	if (!newvk)
		return err_fail(e, -ENOMEM, "cannot allocate secret memory");
	r = random_bytes(newvk, (size_t)vklen);
	if (r < 0)
		return err_fail(e, r, "cannot draw a random volume key");
	for (int i = 0; i < v->ntokens; i++)
		if (v->tokens[i].role == TOKEN_VOLKEY)
			ids[n++] = v->tokens[i].id;
	if (n == 0)
		return err_fail(e, -ENOENT, "%s: no readable volkey token", v->path);
	for (int i = 0; i < n; i++) {
		struct unlock_result u = { .token = -1 };
		struct errbuf why = { { 0 } };
		char proof[48];
		int k2 = -1, p;

		/* Each token's own secret: a token whose key is unreachable now would lose its way in. */
		r = volume_unlock(v, cfg, ids[i], &u, &why);
		if (r < 0)
			return err_fail(e, r, "token %d cannot be unwrapped now, so it could not open the new key; nothing "
					      "was changed: %s",
					ids[i], why.msg);
		snprintf(proof, sizeof(proof), "\"proof_token\":%d", ids[i]);
		p = r = volume_keyslot_add(v, "reencrypt", newvk, (size_t)vklen, u.secret, u.len,
					   CRYPT_VOLUME_KEY_NO_SEGMENT | CRYPT_VOLUME_KEY_DIGEST_REUSE, proof, &k2, e);
		if (r >= 0) {
			r = crypt_token_assign_keyslot(v->cd, ids[i], k2);
			if (r < 0)
				err_fail(e, r, "%s: cannot assign keyslot %d to token %d: %s", v->path, k2, ids[i],
					 strerror(-r));
		}
		if (r >= 0) {
			test_crash_point("reencrypt-assigned");
			r = crypt_token_json_set(v->cd, p, NULL);
		}
		if (r >= 0 && i == 0) {
			*ret_old = u.keyslot;
			*ret_new = k2;
			*ret_pass = TAKE_PTR(u.secret);
			*ret_len = u.len;
		}
		unlock_result_clear(&u);
		if (r < 0)
			return r;
	}
	/* The recovery keyslots, with the phrase the user gave (checked already). */
	for (int i = 0; i < v->ntokens && o->recovery_phrase; i++) {
		const struct token_entry *t = &v->tokens[i];
		int k2 = -1, p, id = t->id;

		if (t->role != TOKEN_RECOVERY || t->keyslot < 0)
			continue;
		p = r = volume_keyslot_add(v, "reencrypt-recovery", newvk, (size_t)vklen, o->recovery_phrase, o->recovery_len,
					   CRYPT_VOLUME_KEY_NO_SEGMENT | CRYPT_VOLUME_KEY_DIGEST_REUSE, NULL, &k2, e);
		if (r >= 0) {
			r = crypt_token_assign_keyslot(v->cd, id, k2);
			if (r < 0)
				err_fail(e, r, "%s: cannot assign keyslot %d to token %d: %s", v->path, k2, id,
					 strerror(-r));
		}
		if (r >= 0)
			r = crypt_token_json_set(v->cd, p, NULL);
		if (r < 0)
			return r;
		/* v->tokens is unchanged in memory (no reload yet): t stays valid. */
	}
	return volume_reload_tokens(v, e);
}

struct run_state {
	const struct rotate_opts *o;
	double t0, last;
	uint64_t start;
	bool stopped;
	bool half;
};

static int progress_cb(uint64_t size, uint64_t offset, void *usrptr)
{
	struct run_state *s = usrptr;
	double now = monotonic_ms();
	struct rotate_progress p = { .size = size, .offset = offset, .eta_s = -1, .done = offset >= size };

	/* Between two pieces libcryptsetup is idle: the other devices' threads get their turn. */
	cs_yield();
	if (!s->half && size && offset >= size / 2) {
		s->half = true;
		test_crash_point("reencrypt-half");
	}
	if (!s->o->progress)
		return 0;
	/* Asked every piece whether to stop; told to report only every interval. */
	p.report = p.done || s->last <= 0 || now - s->last >= (double)s->o->progress_interval_ms;
	if (p.report)
		s->last = now;
	if (offset > s->start && now > s->t0) {
		p.rate = (double)(offset - s->start) * 1000.0 / (now - s->t0);
		p.eta_s = p.rate > 0 ? (double)(size - offset) / p.rate : -1;
	}
	if (s->o->progress(&p, s->o->userdata)) {
		s->stopped = true;
		return 1;
	}
	return 0;
}

static bool resilience_ok(const char *r)
{
	return !r || streq_ptr(r, "checksum") || streq_ptr(r, "journal") || streq_ptr(r, "none");
}

int volume_reencrypt_pending(const char *device)
{
	CS_LOCKED;
	struct crypt_device *cd = NULL;
	crypt_reencrypt_info ri;

	if (crypt_init(&cd, device) < 0)
		return -ENODEV;
	if (crypt_load(cd, CRYPT_LUKS2, NULL) < 0) {
		crypt_free(cd);
		return 0;
	}
	ri = crypt_reencrypt_status(cd, NULL);
	crypt_free(cd);
	return ri == CRYPT_REENCRYPT_CLEAN || ri == CRYPT_REENCRYPT_CRASH;
}

int volume_reencrypt(const char *device, const struct rotate_opts *o, const struct volkey_config *cfg,
		     struct errbuf *e)
{
	CS_LOCKED;
	_cleanup_secret_ void *pass = NULL;
	struct unlock_result u = { .token = -1 };
	struct run_state st = { .o = o };
	char name[128] = "", cipher[32], mode[48], msg[256];
	crypt_reencrypt_info ri;
	bool mapped, fresh = false;
	struct volume v;
	size_t passlen = 0;
	int r, kold = -1, knew = -1;

	if (!resilience_ok(o->resilience))
		return err_fail(e, -EINVAL, "--resilience %s: use checksum, journal or none", o->resilience);
	r = volume_load_for_change(device, cfg, &v, e);
	if (r < 0)
		return r;
	if (volume_count_volkey(&v) == 0) {
		r = err_fail(e, -ENOENT, "%s: no volkey token: not a volkey volume", device);
		goto out;
	}
	mapped = volume_active_mapping(device, v.uuid, name, sizeof(name)) > 0;
	ri = crypt_reencrypt_status(v.cd, NULL);
	if (ri == CRYPT_REENCRYPT_INVALID) {
		r = err_fail(e, -EUCLEAN, "%s: its re-encryption metadata is invalid", device);
		goto out;
	}
	if (ri == CRYPT_REENCRYPT_NONE) {
		struct crypt_params_luks2 luks2 = { .sector_size = (uint32_t)crypt_get_sector_size(v.cd) };
		struct crypt_params_reencrypt params = {
			.mode = CRYPT_REENCRYPT_REENCRYPT,
			.direction = CRYPT_REENCRYPT_FORWARD,
			.resilience = o->resilience ? o->resilience : "checksum",
			.hash = o->hash ? o->hash : "sha256",
			.luks2 = &luks2,
			.max_hotzone_size = o->hotzone_bytes / 512,
			.flags = CRYPT_REENCRYPT_INITIALIZE_ONLY,
		};

		r = volume_drop_stale_prep(&v, e);
		if (r >= 0)
			r = volume_finish_secret_rotation(&v, cfg, e);
		if (r >= 0)
			r = check_carry_over(&v, o, e);
		if (r < 0)
			goto out;
		snprintf(cipher, sizeof(cipher), "%s", crypt_get_cipher(v.cd));
		snprintf(mode, sizeof(mode), "%s", crypt_get_cipher_mode(v.cd));
		r = prepare(&v, cfg, o, &kold, &knew, &pass, &passlen, e);
		if (r < 0)
			goto out;
		test_crash_point("reencrypt-prepared");
		r = crypt_reencrypt_init_by_passphrase(v.cd, mapped ? name : NULL, pass, passlen, kold, knew, cipher,
						       mode, &params);
		if (r < 0) {
			err_fail(e, r, "%s: cannot start the re-encryption: %s", device, strerror(-r));
			goto out;
		}
		test_crash_point("reencrypt-init");
		fresh = true;
		log_info("%s: re-encryption under a new volume key started (%s, resilience %s)", device,
			 mapped ? "online" : "offline", params.resilience);
	} else {
		/* Resume: any token's secret opens both keys. */
		r = volume_unlock(&v, cfg, -1, &u, e);
		if (r < 0)
			goto out;
		pass = TAKE_PTR(u.secret);
		passlen = u.len;
	}
	{
		struct crypt_params_reencrypt params = {
			.resilience = fresh ? NULL : o->resilience,
			.hash = fresh ? NULL : o->hash,
			.max_hotzone_size = o->hotzone_bytes / 512,
			.flags = CRYPT_REENCRYPT_RESUME_ONLY,
		};
		char helpers[300];

		r = crypt_reencrypt_init_by_passphrase(v.cd, mapped ? name : NULL, pass, passlen, CRYPT_ANY_SLOT,
						       CRYPT_ANY_SLOT, NULL, NULL, &params);
		if (r == -EBUSY && mapped) {
			err_fail(e, r, "%s: its re-encryption is running in another process", device);
			goto out;
		}
		if (r < 0 && mapped && leftover_helpers(name, helpers, sizeof(helpers)) > 0) {
			/* libcryptsetup 2.6 cannot take over a killed process's online
			 * re-encryption while the mapping stays up (docs/rotation.md). */
			r = err_fail(e, -EBUSY,
				 "%s: the process that re-encrypted it online was killed (left %s); it resumes once the "
				 "volume is reopened: unmount it, 'volkey close %s', 'volkey open %s', then run this again "
				 "(or reboot: volkeyd resumes it)",
				 device, helpers, name, device);
			goto out;
		}
		if (r < 0) {
			err_fail(e, r, "%s: cannot resume the re-encryption: %s", device, strerror(-r));
			goto out;
		}
		if (!fresh)
			log_info("%s: resuming an interrupted re-encryption (%s)", device, mapped ? "online" : "offline");
	}
	st.t0 = monotonic_ms();
	r = crypt_reencrypt_run(v.cd, progress_cb, &st);
	if (r < 0) {
		err_fail(e, r, "%s: re-encryption stopped: %s; run the same command again to resume", device,
			 strerror(-r));
		goto out;
	}
	volume_done(&v);
	r = volume_load(device, &v, e);
	if (r < 0)
		return r;
	if (crypt_reencrypt_status(v.cd, NULL) != CRYPT_REENCRYPT_NONE) {
		r = err_fail(e, st.stopped ? -EINTR : -EIO,
			     "%s: re-encryption %s; run 'volkey rotate %s --volume-key' to resume", device,
			     st.stopped ? "paused" : "did not finish", device);
		goto out;
	}
	test_crash_point("reencrypt-finished");
	r = write_vk_marker(&v, e);
	if (r >= 0)
		r = volume_reload_tokens(&v, e);
	if (r < 0)
		goto out;
	/* Every token must open the new key on its own. */
	for (int i = 0; i < v.ntokens && r >= 0; i++) {
		struct unlock_result check = { .token = -1 };
		if (v.tokens[i].role != TOKEN_VOLKEY)
			continue;
		r = volume_unlock(&v, cfg, v.tokens[i].id, &check, e);
		unlock_result_clear(&check);
	}
	if (r < 0)
		goto out;
	snprintf(msg, sizeof(msg), "data re-encrypted under a new volume key (%s)", mapped ? "online" : "offline");
	rotate_report(o, &(struct rotate_event){ .kind = ROTATE_VOLUME_KEY, .device = device, .uuid = v.uuid,
						 .token = -1, .request_ids = "", .message = msg });
out:
	if (r < 0)
		rotate_report(o, &(struct rotate_event){ .kind = ROTATE_VOLUME_KEY, .device = device, .uuid = v.uuid,
							 .token = -1, .request_ids = "", .r = r, .message = e->msg });
	unlock_result_clear(&u);
	volume_done(&v);
	return r < 0 ? r : 0;
}
