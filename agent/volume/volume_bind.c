// SPDX-License-Identifier: LGPL-2.1-or-later
/* bind: add a way in (a key URI); unbind: remove one, never the last.
 * Both announce the keyslot they touch with a volkey-pending token first, so a
 * crash at any step leaves a volume that unlocks as before and a pending token
 * that the next bind/unbind/recovery-key cleans up. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/cslock.h"
#include "base/log.h"
#include "base/secret.h"
#include "base/testhook.h"
#include "keys/backend.h"
#include "keys/keytrust.h"
#include "volume/volume.h"

int volume_bind(const char *device, const char *uri_text, const struct volkey_config *cfg, struct errbuf *e)
{
	CS_LOCKED;
	_cleanup_(key_uri_freep) struct key_uri *uri = NULL;
	_cleanup_(kctx_freep) struct kctx *c = NULL;
	_cleanup_secret_ void *vk = NULL, *secret = NULL;
	_cleanup_free_ char *json = NULL;
	struct unlock_result u = { .token = -1 };
	struct errbuf why = { { 0 } };
	struct wrapped w = { 0 };
	struct volume v;
	size_t vklen = 0;
	int r, k, p;

	r = key_uri_load(uri_text, cfg, &uri, &why);
	if (r < 0)
		return err_fail(e, r, "%s: %s; nothing was written", device, why.msg);
	r = volume_load_for_change(device, cfg, &v, e);
	if (r < 0)
		return r;
	for (int i = 0; i < v.ntokens; i++)
		if (v.tokens[i].role == TOKEN_VOLKEY && strcmp(v.tokens[i].t.key_uri, uri->text) == 0) {
			r = err_fail(e, -EEXIST, "%s: already bound to %s (token %d)", device, uri->text,
				     v.tokens[i].id);
			goto out;
		}
	r = volume_get_volume_key(&v, cfg, &vk, &vklen, &u, e);
	if (r < 0)
		goto out;
	r = kctx_new(cfg, &c);
	if (r < 0)
		goto out;
	/* The new secret is bound like the token that unlocked: same volume, same context. */
	r = key_wrap_new(c, uri, volume_token(&v, u.token)->t.binding, VOLUME_SECRET_BYTES, &secret, &w);
	if (r < 0) {
		err_fail(e, r, "%s: cannot wrap a secret with %s: %s; nothing was written", device, uri->text,
			 kctx_error(c));
		goto out;
	}
	p = r = volume_keyslot_add(&v, "bind", vk, vklen, secret, VOLUME_SECRET_BYTES, 0, NULL, &k, e);
	if (r < 0)
		goto out;
	{
		struct volkey_token t = {
			.version = VOLKEY_TOKEN_VERSION,
			.keyslot = k,
			.key_uri = uri->text,
			.key_ref = w.key_ref,
			.wrapped = w,
			.binding = volume_token(&v, u.token)->t.binding,
			.generation = 1,
		};
		rfc3339_now(t.created, sizeof(t.created));
		r = volkey_token_format(&t, &json);
	}
	if (r < 0) {
		err_fail(e, r, "%s: cannot build the token: %s", device, strerror(-r));
		volume_keyslot_drop(&v, k, p, NULL);
		goto out;
	}
	r = volume_token_commit(&v, p, k, json, e);
	if (r < 0)
		goto out;
	test_crash_point("bind-token");
	/* Verify through the real path before calling it done. */
	{
		struct unlock_result check = { .token = -1 };
		r = volume_unlock(&v, cfg, p, &check, e);
		unlock_result_clear(&check);
	}
	if (r < 0) {
		/* The new token does not unlock: turn it back into a pending token that owns
		 * its keyslot, and drop both. */
		char pj[256];
		log_debug("bind verification failed, rolling back token %d", p);
		volume_pending_json(k, true, "bind-rollback", pj, sizeof(pj));
		if (crypt_token_json_set(v.cd, p, pj) >= 0)
			volume_keyslot_drop(&v, k, p, NULL);
		goto out;
	}
	test_crash_point("bind-verify");
	r = p;
out:
	wrapped_clear(&w);
	unlock_result_clear(&u);
	volume_done(&v);
	return r;
}

/* Ways in other than token `except` and its keyslot: a recovery keyslot, or
 * another volkey token that unlocks now. A keyslot no token owns does not count:
 * volkey cannot tell a user's passphrase from an orphan whose secret is gone. */
static int other_way_in(struct volume *v, const struct volkey_config *cfg, int except, char *desc, size_t n)
{
	CS_LOCKED;
	int except_slot = volume_token(v, except) ? volume_token(v, except)->keyslot : -1;

	for (int i = 0; i < v->ntokens; i++) {
		const struct token_entry *t = &v->tokens[i];
		crypt_keyslot_info ki;

		if (t->id == except || t->role != TOKEN_RECOVERY || t->keyslot == except_slot)
			continue;
		ki = crypt_keyslot_status(v->cd, t->keyslot);
		if (ki == CRYPT_SLOT_ACTIVE || ki == CRYPT_SLOT_ACTIVE_LAST) {
			snprintf(desc, n, "recovery keyslot %d", t->keyslot);
			return 1;
		}
	}
	for (int i = 0; i < v->ntokens; i++) {
		const struct token_entry *t = &v->tokens[i];
		struct unlock_result u = { .token = -1 };
		struct errbuf ignore = { { 0 } };

		if (t->id == except || t->role != TOKEN_VOLKEY || t->keyslot == except_slot)
			continue;
		if (volume_unlock(v, cfg, t->id, &u, &ignore) >= 0) {
			unlock_result_clear(&u);
			snprintf(desc, n, "token %d (%s), which unlocks now", t->id, t->t.key_uri);
			return 1;
		}
	}
	return 0;
}

const struct token_entry *volume_keyslot_sharer(const struct volume *v, int except, int k)
{
	CS_LOCKED;
	for (int i = 0; i < v->ntokens; i++) {
		const struct token_entry *t = &v->tokens[i];
		if (t->id == except || t->role == TOKEN_PENDING)
			continue;
		if (t->keyslot == k || crypt_token_is_assigned(v->cd, t->id, k) == 0)
			return t;
	}
	return NULL;
}

int volume_unbind(const char *device, int token, const struct volkey_config *cfg, struct errbuf *e)
{
	CS_LOCKED;
	const struct token_entry *t;
	const struct token_entry *sharer;
	char desc[300] = "";
	bool was_pending;
	struct volume v;
	int r, k, p;

	r = volume_load(device, &v, e);
	if (r < 0)
		return r;
	t = volume_token(&v, token);
	was_pending = t && t->role == TOKEN_PENDING;
	volume_done(&v);
	r = volume_load_for_change(device, cfg, &v, e);
	if (r < 0)
		return r;
	t = volume_token(&v, token);
	if (!t && was_pending) {
		/* This very unbind was interrupted; the cleanup just finished it. */
		r = 0;
		goto out;
	}
	if (!t || (t->role != TOKEN_VOLKEY && t->role != TOKEN_BAD && t->role != TOKEN_RECOVERY)) {
		r = err_fail(e, -ENOENT, "%s: token %d is not a volkey or volkey-recovery token", device, token);
		goto out;
	}
	k = t->keyslot;
	sharer = k >= 0 ? volume_keyslot_sharer(&v, token, k) : NULL;
	if (sharer) {
		const struct token_entry *o = sharer;
		r = err_fail(e, -EBUSY, "%s: keyslot %d of token %d is also used by token %d (%s); not removing it",
			     device, k, token, o->id, o->type);
		goto out;
	}
	if (other_way_in(&v, cfg, token, desc, sizeof(desc)) <= 0) {
		r = err_fail(e, -EPERM,
			     "%s: refusing to remove token %d: it is the last way in (no other token unlocks now and "
			     "there is no recovery key)",
			     device, token);
		goto out;
	}
	log_debug("%s: another way in remains: %s", device, desc);
	if (k >= 0) {
		/* The pending token replaces the token: from here the keyslot is garbage. */
		char json[256];
		volume_pending_json(k, true, "unbind", json, sizeof(json));
		r = crypt_token_json_set(v.cd, token, json);
		if (r < 0) {
			err_fail(e, r, "%s: cannot update token %d: %s", device, token, strerror(-r));
			goto out;
		}
		test_crash_point("unbind-pending");
		p = token;
		r = volume_keyslot_drop(&v, k, p, e);
	} else {
		r = crypt_token_json_set(v.cd, token, NULL);
		if (r < 0)
			err_fail(e, r, "%s: cannot remove token %d: %s", device, token, strerror(-r));
	}
out:
	volume_done(&v);
	return r < 0 ? r : 0;
}
