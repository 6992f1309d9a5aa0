// SPDX-License-Identifier: LGPL-2.1-or-later
/* rotate --rewrap and --secret (rotate.c dispatches here). A rewrap replaces
 * one token in a single header write after proving that the new blob unwraps
 * and opens the keyslot; a new secret is added, committed and verified before
 * the old token is turned into a pending token and removed. An interrupted
 * secret rotation leaves two tokens of one key URI, both working: the next
 * rotation keeps the newer (rotate_finish.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/b64.h"
#include "base/cslock.h"
#include "base/secret.h"
#include "base/testhook.h"
#include "keys/backend.h"
#include "keys/keytrust.h"
#include "volume/rotate.h"
#include "volume/volume.h"

/* Is token t one the user asked to rotate? */
static bool selected(const struct rotate_opts *o, const struct token_entry *t)
{
	return t->role == TOKEN_VOLKEY && (o->token < 0 || o->token == t->id);
}

/* Proves that w unwraps under uri and that the secret opens keyslot k. */
static int verify_wrapped(struct volume *v, struct kctx *c, const struct key_uri *uri, const struct binding *b,
			  const struct wrapped *w, int keyslot, char *ids, size_t idn, struct errbuf *e)
{
	CS_LOCKED;
	_cleanup_secret_ void *secret = NULL;
	size_t len = 0;
	int r;

	r = key_unwrap(c, uri, b, w, &secret, &len);
	rotate_ids_add(ids, idn, c);
	if (r < 0)
		return err_fail(e, r, "%s: the rewrapped secret does not unwrap with %s: %s; the token was not changed",
				v->path, uri->text, kctx_error(c));
	r = crypt_activate_by_passphrase(v->cd, NULL, keyslot, secret, len, 0);
	if (r < 0)
		return err_fail(e, -EKEYREJECTED,
				"%s: the rewrapped secret does not open keyslot %d; the token was not changed", v->path,
				keyslot);
	return 0;
}

static int rewrap_token(struct volume *v, const struct token_entry *te, const struct key_uri *to,
			const struct rotate_opts *o, const struct volkey_config *cfg, struct errbuf *e)
{
	CS_LOCKED;
	_cleanup_(key_uri_freep) struct key_uri *from = NULL;
	_cleanup_(kctx_freep) struct kctx *c = NULL;
	_cleanup_free_ char *json = NULL;
	char ids[ROTATE_REQUEST_IDS_MAX] = "", old_ref[512];
	struct errbuf why = { { 0 } };
	struct volkey_token t;
	struct wrapped w = { 0 };
	int r;

	snprintf(old_ref, sizeof(old_ref), "%s", te->t.key_ref ? te->t.key_ref : te->t.key_uri);
	r = key_uri_load(te->t.key_uri, cfg, &from, &why);
	if (r < 0) {
		err_fail(e, r, "%s: token %d: %s", v->path, te->id, why.msg);
		goto out;
	}
	r = kctx_new(cfg, &c);
	if (r < 0) {
		err_fail(e, r, "cannot create a key context: %s", strerror(-r));
		goto out;
	}
	r = key_rewrap(c, from, to, te->t.binding, &te->t.wrapped, &w);
	rotate_ids_add(ids, sizeof(ids), c);
	if (r < 0) {
		err_fail(e, r, "%s: token %d: cannot rewrap under %s: %s; nothing was changed", v->path, te->id,
			 to ? to->text : te->t.key_uri, kctx_error(c));
		goto out;
	}
	/* The instance may be allowed to ReEncrypt to a key it cannot Decrypt with:
	 * prove the volume still opens through the new blob before writing it. */
	r = verify_wrapped(v, c, to ? to : from, te->t.binding, &w, te->keyslot, ids, sizeof(ids), e);
	if (r < 0)
		goto out;
	test_crash_point("rewrap-wrapped");
	t = te->t;
	t.key_uri = to ? to->text : te->t.key_uri;
	t.key_ref = w.key_ref;
	t.wrapped = w;
	t.generation = te->t.generation + 1;
	rfc3339_now(t.rewrapped, sizeof(t.rewrapped));
	r = volkey_token_format(&t, &json);
	if (r < 0) {
		err_fail(e, r, "%s: cannot build the token: %s", v->path, strerror(-r));
		goto out;
	}
	/* One atomic header write: the old blob or the new one, never neither. */
	r = crypt_token_json_set(v->cd, te->id, json);
	if (r < 0) {
		err_fail(e, r, "%s: cannot write token %d: %s", v->path, te->id, strerror(-r));
		goto out;
	}
	test_crash_point("rewrap-token");
	rotate_report(o, &(struct rotate_event){ .kind = ROTATE_REWRAP, .device = v->path, .uuid = v->uuid,
						 .token = te->id, .old_key = old_ref,
						 .new_key = w.key_ref ? w.key_ref : t.key_uri,
						 .generation = t.generation, .request_ids = ids,
						 .message = "rewrapped" });
out:
	if (r < 0)
		rotate_report(o, &(struct rotate_event){ .kind = ROTATE_REWRAP, .device = v->path, .uuid = v->uuid,
							 .token = te->id, .old_key = old_ref,
							 .generation = te->t.generation, .request_ids = ids, .r = r,
							 .message = e->msg });
	wrapped_clear(&w);
	return r;
}

static int secret_token(struct volume *v, const struct token_entry *te, const void *vk, size_t vklen,
			const struct rotate_opts *o, const struct volkey_config *cfg, struct errbuf *e)
{
	CS_LOCKED;
	_cleanup_(key_uri_freep) struct key_uri *uri = NULL;
	_cleanup_(kctx_freep) struct kctx *c = NULL;
	_cleanup_secret_ void *secret = NULL;
	_cleanup_free_ char *json = NULL, *proof = NULL;
	char ids[ROTATE_REQUEST_IDS_MAX] = "", old_ref[512];
	struct errbuf why = { { 0 } };
	struct wrapped w = { 0 };
	int old_id = te->id, old_slot = te->keyslot, k = -1, p = -1, r;
	unsigned long gen = te->t.generation + 1;
	const struct token_entry *sharer;

	snprintf(old_ref, sizeof(old_ref), "%s", te->t.key_ref ? te->t.key_ref : te->t.key_uri);
	sharer = volume_keyslot_sharer(v, old_id, old_slot);
	if (sharer) {
		r = err_fail(e, -EBUSY, "%s: keyslot %d of token %d is also used by token %d (%s); not rotating it",
			     v->path, old_slot, old_id, sharer->id, sharer->type);
		goto out;
	}
	r = key_uri_load(te->t.key_uri, cfg, &uri, &why);
	if (r < 0) {
		err_fail(e, r, "%s: token %d: %s", v->path, old_id, why.msg);
		goto out;
	}
	r = kctx_new(cfg, &c);
	if (r < 0) {
		err_fail(e, r, "cannot create a key context: %s", strerror(-r));
		goto out;
	}
	r = key_wrap_new(c, uri, te->t.binding, VOLUME_SECRET_BYTES, &secret, &w);
	rotate_ids_add(ids, sizeof(ids), c);
	if (r < 0) {
		err_fail(e, r, "%s: token %d: cannot wrap a new secret with %s: %s; nothing was changed", v->path,
			 old_id, uri->text, kctx_error(c));
		goto out;
	}
	{
		_cleanup_free_ char *b64 = b64_encode(w.data, w.len);
		if (!b64 || asprintf(&proof, "\"proof_token\":%d,\"proof_wrapped\":\"%s\"", old_id, b64) < 0) {
			r = err_fail(e, -ENOMEM, "out of memory");
			goto out;
		}
	}
	p = r = volume_keyslot_add(v, "secret", vk, vklen, secret, VOLUME_SECRET_BYTES, 0, proof, &k, e);
	if (r < 0)
		goto out;
	{
		struct volkey_token t = te->t;
		t.keyslot = k;
		t.has_keyslot2 = false;
		t.key_ref = w.key_ref;
		t.wrapped = w;
		t.generation = gen;
		t.rewrapped[0] = '\0';
		rfc3339_now(t.created, sizeof(t.created));
		r = volkey_token_format(&t, &json);
	}
	if (r < 0) {
		err_fail(e, r, "%s: cannot build the token: %s", v->path, strerror(-r));
		volume_keyslot_drop(v, k, p, NULL);
		goto out;
	}
	r = volume_token_commit(v, p, k, json, e); /* te is stale from here */
	if (r < 0)
		goto out;
	test_crash_point("secret-token");
	r = volume_token_unlocks(v, cfg, p, &why);
	if (r < 0) {
		char pj[256];
		err_fail(e, r, "%s: the new secret's token %d does not unlock (%s); removed it, token %d kept", v->path, p,
			 why.msg, old_id);
		volume_pending_json(k, true, "secret-rollback", pj, sizeof(pj));
		if (crypt_token_json_set(v->cd, p, pj) >= 0)
			volume_keyslot_drop(v, k, p, NULL);
		goto out;
	}
	test_crash_point("secret-verify");
	r = volume_token_retire(v, old_id, old_slot, e);
	if (r < 0)
		goto out;
	r = volume_reload_tokens(v, e);
out:
	rotate_report(o, &(struct rotate_event){ .kind = ROTATE_SECRET, .device = v->path, .uuid = v->uuid,
						 .token = r < 0 ? old_id : p, .old_key = old_ref,
						 .new_key = r < 0 ? NULL : (w.key_ref ? w.key_ref : old_ref),
						 .generation = r < 0 ? gen - 1 : gen, .request_ids = ids, .r = r,
						 .message = r < 0 ? e->msg : "new secret, keyslot and token" });
	wrapped_clear(&w);
	return r < 0 ? r : 0;
}

/* Rewrap or new secret for every selected token; the first failure stops. */
int volume_rotate_tokens(const char *device, const struct rotate_opts *o, const struct volkey_config *cfg,
			 struct errbuf *e)
{
	CS_LOCKED;
	_cleanup_(key_uri_freep) struct key_uri *to = NULL;
	_cleanup_secret_ void *vk = NULL;
	int ids[VOLKEY_MAX_TOKENS], n = 0, r;
	struct volume v;
	size_t vklen = 0;

	if (o->to_key) {
		struct errbuf why = { { 0 } };
		r = key_uri_load(o->to_key, cfg, &to, &why);
		if (r < 0)
			return err_fail(e, r, "%s: %s; nothing was changed", device, why.msg);
	}
	r = volume_load_for_change(device, cfg, &v, e);
	if (r < 0)
		return r;
	if (crypt_reencrypt_status(v.cd, NULL) != CRYPT_REENCRYPT_NONE) {
		r = err_fail(e, -EBUSY, "%s: a volume-key re-encryption is in progress; finish it first "
					"(volkey rotate %s --volume-key)",
			     device, device);
		goto out;
	}
	r = volume_drop_stale_prep(&v, e);
	if (r >= 0)
		r = volume_finish_secret_rotation(&v, cfg, e);
	if (r < 0)
		goto out;
	for (int i = 0; i < v.ntokens; i++)
		if (selected(o, &v.tokens[i]))
			ids[n++] = v.tokens[i].id;
	if (n == 0) {
		r = o->token >= 0 ? err_fail(e, -ENOENT, "%s: token %d is not a readable volkey token", device, o->token)
				  : err_fail(e, -ENOENT, "%s: no readable volkey token to rotate", device);
		goto out;
	}
	if (to && n > 1) {
		r = err_fail(e, -EINVAL, "%s: --to-key moves one token; %d tokens: choose one with --token N", device, n);
		goto out;
	}
	if (to)
		for (int i = 0; i < v.ntokens; i++)
			if (v.tokens[i].role == TOKEN_VOLKEY && v.tokens[i].id != ids[0] &&
			    strcmp(v.tokens[i].t.key_uri, to->text) == 0) {
				r = err_fail(e, -EEXIST, "%s: token %d already uses %s", device, v.tokens[i].id,
					     to->text);
				goto out;
			}
	if (o->kind == ROTATE_SECRET) {
		r = volume_get_volume_key(&v, cfg, &vk, &vklen, NULL, e);
		if (r < 0)
			goto out;
	}
	for (int i = 0; i < n && r >= 0; i++) {
		const struct token_entry *te = volume_token(&v, ids[i]);
		if (!te || te->role != TOKEN_VOLKEY)
			continue;
		if (o->kind == ROTATE_REWRAP)
			r = rewrap_token(&v, te, to, o, cfg, e);
		else
			r = secret_token(&v, te, vk, vklen, o, cfg, e);
		if (r >= 0)
			r = volume_reload_tokens(&v, e);
	}
out:
	volume_done(&v);
	return r < 0 ? r : 0;
}
