// SPDX-License-Identifier: LGPL-2.1-or-later
/* volkey rekey: a volume made from a machine image gets its own identity.
 * Every instance launched from an image with an encrypted volume has the same
 * volume key, LUKS UUID and wrapped secrets; this gives it new ones, in steps
 * recorded in the volkey-image marker (docs/rotation.md#rekey):
 *   template       nothing done yet
 *   reencrypting   the old volume-key record removed; the data re-encrypted under
 *                  a new volume key (volume_reencrypt.c: online when mapped,
 *                  resumable from the LUKS2 header); done when the re-encryption
 *                  is no longer pending and its volkey-volume-key record exists
 *   new-secrets    old and new UUID recorded; per volkey token a new random
 *                  secret, wrapped by the same key, bound to the NEW UUID, in a
 *                  new keyslot and token, while the old tokens still unlock
 *   uuid-switched  the header's UUID set to the new one (one atomic header write:
 *                  from here the new tokens unlock and the old ones do not); the
 *                  new tokens verified; the old tokens and keyslots retired
 *   (done)         marker removed
 * A crash anywhere leaves a volume that unlocks through the old tokens (before
 * the switch) or the new ones (after it); the header's UUID says which. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/b64.h"
#include "base/cslock.h"
#include "base/log.h"
#include "base/secret.h"
#include "base/testhook.h"
#include "keys/backend.h"
#include "keys/keytrust.h"
#include "volume/rotate.h"
#include "volume/volume.h"

static const char *bound_uuid(const struct token_entry *t)
{
	return t->role == TOKEN_VOLKEY && t->t.binding ? binding_get(t->t.binding, BINDING_UUID_KEY) : NULL;
}

/* The volkey token bound to uuid with this key URI, or NULL. */
static const struct token_entry *token_for(const struct volume *v, const char *uuid, const char *key_uri)
{
	for (int i = 0; i < v->ntokens; i++)
		if (streq_ptr(bound_uuid(&v->tokens[i]), uuid) && streq_ptr(v->tokens[i].t.key_uri, key_uri))
			return &v->tokens[i];
	return NULL;
}

static bool has_vk_record(const struct volume *v)
{
	for (int i = 0; i < v->ntokens; i++)
		if (streq_ptr(v->tokens[i].type, VOLKEY_VK_TOKEN_TYPE))
			return true;
	return false;
}

static int drop_vk_records(struct volume *v, struct errbuf *e)
{
	CS_LOCKED;
	for (int i = 0; i < v->ntokens; i++) {
		int r;
		if (!streq_ptr(v->tokens[i].type, VOLKEY_VK_TOKEN_TYPE))
			continue;
		r = crypt_token_json_set(v->cd, v->tokens[i].id, NULL);
		if (r < 0)
			return err_fail(e, r, "%s: cannot remove token %d: %s", v->path, v->tokens[i].id, strerror(-r));
	}
	return volume_reload_tokens(v, e);
}

/* Recovery markers whose keyslot went with the old volume key. Returns how many. */
static int drop_dead_recovery(struct volume *v, struct errbuf *e)
{
	CS_LOCKED;
	int n = 0, r;

	for (int i = 0; i < v->ntokens; i++) {
		const char *json = NULL;
		crypt_keyslot_info ki;
		int k = -1;

		if (!streq_ptr(v->tokens[i].type, VOLKEY_RECOVERY_TOKEN_TYPE))
			continue;
		if (crypt_token_json_get(v->cd, v->tokens[i].id, &json) >= 0 && volkey_recovery_token_parse(json, &k) >= 0 &&
		    k >= 0 && ((ki = crypt_keyslot_status(v->cd, k)) == CRYPT_SLOT_ACTIVE || ki == CRYPT_SLOT_ACTIVE_LAST))
			continue;
		r = crypt_token_json_set(v->cd, v->tokens[i].id, NULL);
		if (r < 0)
			return err_fail(e, r, "%s: cannot remove token %d: %s", v->path, v->tokens[i].id, strerror(-r));
		n++;
	}
	r = volume_reload_tokens(v, e);
	return r < 0 ? r : n;
}

/* A new secret for token te's key, bound to new_uuid, in a new keyslot and token. */
static int new_token(struct volume *v, const struct token_entry *te, const char *new_uuid, const void *vk, size_t vklen,
		     const struct volkey_config *cfg, struct errbuf *e)
{
	CS_LOCKED;
	_cleanup_(key_uri_freep) struct key_uri *uri = NULL;
	_cleanup_(kctx_freep) struct kctx *c = NULL;
	_cleanup_(binding_freep) struct binding *nb = NULL;
	_cleanup_secret_ void *secret = NULL, *back = NULL;
	_cleanup_free_ char *json = NULL, *proof = NULL, *b64 = NULL;
	struct errbuf why = { { 0 } };
	struct wrapped w = { 0 };
	int id = te->id, k = -1, p, r;
	size_t len = 0;

	r = binding_with_uuid(te->t.binding, new_uuid, &nb);
	if (r < 0)
		return err_fail(e, r, "%s: token %d: cannot bind to %s: %s", v->path, id, new_uuid, strerror(-r));
	r = key_uri_load(te->t.key_uri, cfg, &uri, &why);
	if (r < 0)
		return err_fail(e, r, "%s: token %d: %s", v->path, id, why.msg);
	r = kctx_new(cfg, &c);
	if (r < 0)
		return err_fail(e, r, "cannot create a key context: %s", strerror(-r));
	r = key_wrap_new(c, uri, nb, VOLUME_SECRET_BYTES, &secret, &w);
	if (r < 0) {
		err_fail(e, r, "%s: token %d: cannot wrap a new secret with %s: %s", v->path, id, uri->text, kctx_error(c));
		goto out;
	}
	/* The new token cannot be tried through the unlock path before the UUID
	 * switch: unwrap it now, under the new binding, and compare. */
	r = key_unwrap(c, uri, nb, &w, &back, &len);
	if (r >= 0 && (len != VOLUME_SECRET_BYTES || !secret_memeq(back, secret, len)))
		r = kctx_fail(c, -EBADMSG, "the unwrapped secret differs from the one wrapped");
	if (r < 0) {
		err_fail(e, r, "%s: token %d: the new secret does not unwrap with %s: %s; nothing was written", v->path,
			 id, uri->text, kctx_error(c));
		goto out;
	}
	b64 = b64_encode(w.data, w.len);
	if (!b64 || asprintf(&proof, "\"proof_token\":%d,\"proof_wrapped\":\"%s\",\"proof_uuid\":\"%s\"", id, b64,
			     new_uuid) < 0) {
		proof = NULL;
		r = err_fail(e, -ENOMEM, "out of memory");
		goto out;
	}
	p = r = volume_keyslot_add(v, "rekey", vk, vklen, secret, VOLUME_SECRET_BYTES, 0, proof, &k, e);
	if (r < 0)
		goto out;
	{
		struct volkey_token t = te->t;
		t.keyslot = k;
		t.has_keyslot2 = false;
		t.key_ref = w.key_ref;
		t.wrapped = w;
		t.binding = nb;
		t.generation = te->t.generation + 1;
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
	test_crash_point("rekey-token");
out:
	wrapped_clear(&w);
	return r;
}

/* Steps of new-secrets: every token bound to the old UUID gets its twin bound to the new one. */
static int add_new_tokens(struct volume *v, const struct image_marker *m, const struct volkey_config *cfg,
			  struct errbuf *e)
{
	CS_LOCKED;
	_cleanup_secret_ void *vk = NULL;
	int ids[VOLKEY_MAX_TOKENS], n = 0, r;
	size_t vklen = 0;

	for (int i = 0; i < v->ntokens; i++)
		if (streq_ptr(bound_uuid(&v->tokens[i]), m->old_uuid) &&
		    !token_for(v, m->new_uuid, v->tokens[i].t.key_uri))
			ids[n++] = v->tokens[i].id;
	if (n == 0)
		return 0;
	r = volume_get_volume_key(v, cfg, &vk, &vklen, NULL, e);
	if (r < 0)
		return r;
	for (int i = 0; i < n; i++) {
		const struct token_entry *te = volume_token(v, ids[i]);
		if (!te || te->role != TOKEN_VOLKEY)
			continue;
		r = new_token(v, te, m->new_uuid, vk, vklen, cfg, e);
		if (r < 0)
			return r;
	}
	return 0;
}

static int set_uuid(struct volume *v, const char *uuid, struct errbuf *e)
{
	CS_LOCKED;
	int r = crypt_set_uuid(v->cd, uuid);

	if (r < 0)
		return err_fail(e, r, "%s: cannot set the LUKS UUID to %s: %s", v->path, uuid, strerror(-r));
	snprintf(v->uuid, sizeof(v->uuid), "%s", uuid);
	return 0;
}

/* After the switch: every token bound to the new UUID unlocks through the open path. */
static int verify_new(struct volume *v, const struct image_marker *m, const struct volkey_config *cfg,
		      struct errbuf *e)
{
	int n = 0;

	for (int i = 0; i < v->ntokens; i++) {
		struct errbuf why = { { 0 } };
		int r;

		if (!streq_ptr(bound_uuid(&v->tokens[i]), m->new_uuid))
			continue;
		r = volume_token_unlocks(v, cfg, v->tokens[i].id, &why);
		if (r < 0)
			return err_fail(e, r, "%s: the new token %d does not unlock: %s", v->path, v->tokens[i].id, why.msg);
		n++;
	}
	return n > 0 ? 0 : err_fail(e, -ENOENT, "%s: no token bound to the new UUID %s", v->path, m->new_uuid);
}

static int retire_old(struct volume *v, const struct image_marker *m, struct errbuf *e)
{
	for (;;) {
		const struct token_entry *old = NULL;
		int r;

		for (int i = 0; i < v->ntokens && !old; i++)
			if (streq_ptr(bound_uuid(&v->tokens[i]), m->old_uuid))
				old = &v->tokens[i];
		if (!old)
			return 0;
		if (old->keyslot < 0 || volume_keyslot_sharer(v, old->id, old->keyslot)) {
			/* Nothing of its own to destroy: only the token goes. */
			r = crypt_token_json_set(v->cd, old->id, NULL);
			if (r < 0)
				return err_fail(e, r, "%s: cannot remove token %d: %s", v->path, old->id, strerror(-r));
		} else {
			r = volume_token_retire(v, old->id, old->keyslot, e);
			if (r < 0)
				return r;
		}
		r = volume_reload_tokens(v, e);
		if (r < 0)
			return r;
	}
}

static int count_bound(const struct volume *v, const char *uuid)
{
	int n = 0;
	for (int i = 0; i < v->ntokens; i++)
		n += streq_ptr(bound_uuid(&v->tokens[i]), uuid);
	return n;
}

int volume_rekey(const char *device, const struct rotate_opts *o, const struct volkey_config *cfg,
		 struct rekey_result *ret, struct errbuf *e)
{
	CS_LOCKED;
	struct image_marker m = { .state = IMAGE_TEMPLATE };
	struct volume v;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = volume_load_for_change(device, cfg, &v, e);
	if (r < 0)
		return r;
	if (volume_count_volkey(&v) == 0) {
		r = err_fail(e, -ENOENT, "%s: no volkey token: not a volkey volume", device);
		goto out;
	}
	r = volume_image_marker(&v, &m, NULL);
	if (r < 0) {
		r = err_fail(e, r, "%s: its volkey-image token is malformed", device);
		goto out;
	}
	ret->was_marked = r > 0;
	snprintf(ret->old_uuid, sizeof(ret->old_uuid), "%s", m.state >= IMAGE_NEW_SECRETS ? m.old_uuid : v.uuid);
	if (r == 0) {
		r = volume_image_mark_loaded(&v, e);
		if (r < 0)
			goto out;
		m.state = IMAGE_TEMPLATE;
		rfc3339_now(m.created, sizeof(m.created));
	}

	if (m.state == IMAGE_TEMPLATE) {
		/* The image's record of its volume key says nothing of this volume's:
		 * from here, its presence means that the re-encryption finished. */
		r = drop_vk_records(&v, e);
		if (r < 0)
			goto out;
		m.state = IMAGE_REENCRYPTING;
		r = volume_image_write(&v, &m, e);
		if (r < 0)
			goto out;
		test_crash_point("rekey-reencrypting");
	}

	if (m.state == IMAGE_REENCRYPTING) {
		if (crypt_reencrypt_status(v.cd, NULL) != CRYPT_REENCRYPT_NONE || !has_vk_record(&v)) {
			struct rotate_opts ro = *o;

			ro.kind = ROTATE_VOLUME_KEY;
			ro.drop_recovery = !o->recovery_phrase;
			volume_done(&v);
			r = volume_reencrypt(device, &ro, cfg, e);
			if (r < 0) {
				char was[sizeof(e->msg)];
				snprintf(was, sizeof(was), "%s", e->msg);
				/* Its own advice names rotate, which refuses a re-key in progress. */
				if (strstr(was, "; run "))
					*strstr(was, "; run ") = '\0';
				return err_set(e, r, "%s; 'volkey rekey %s' continues the re-key", was, device);
			}
			r = volume_load_for_change(device, cfg, &v, e);
			if (r < 0)
				return r;
		}
		test_crash_point("rekey-reencrypted");
		r = drop_dead_recovery(&v, e);
		if (r < 0)
			goto out;
		ret->recovery_dropped = r > 0;
		snprintf(m.old_uuid, sizeof(m.old_uuid), "%s", v.uuid);
		r = volume_new_uuid(m.new_uuid, sizeof(m.new_uuid));
		if (r < 0) {
			err_fail(e, r, "cannot draw a UUID");
			goto out;
		}
		m.state = IMAGE_NEW_SECRETS;
		r = volume_image_write(&v, &m, e);
		if (r < 0)
			goto out;
		test_crash_point("rekey-new-secrets");
	}

	/* new-secrets or uuid-switched: the header's UUID says which side of the switch. */
	if (!streq_ptr(v.uuid, m.new_uuid)) {
		if (!streq_ptr(v.uuid, m.old_uuid)) {
			r = err_fail(e, -EUCLEAN, "%s: its LUKS UUID %s is neither the image's (%s) nor the one its re-key "
						  "drew (%s)", device, v.uuid, m.old_uuid, m.new_uuid);
			goto out;
		}
		r = add_new_tokens(&v, &m, cfg, e);
		if (r < 0)
			goto out;
		r = set_uuid(&v, m.new_uuid, e);
		if (r < 0)
			goto out;
		test_crash_point("rekey-uuid");
	}
	r = verify_new(&v, &m, cfg, e);
	if (r < 0) {
		/* While the image's tokens remain, they are the way in: back to their UUID. */
		if (count_bound(&v, m.old_uuid) > 0 && set_uuid(&v, m.old_uuid, NULL) >= 0)
			snprintf(e->msg + strlen(e->msg), sizeof(e->msg) - strlen(e->msg),
				 "; the LUKS UUID was set back to %s, the image's tokens still unlock", m.old_uuid);
		goto out;
	}
	if (m.state != IMAGE_UUID_SWITCHED) {
		m.state = IMAGE_UUID_SWITCHED;
		r = volume_image_write(&v, &m, e);
		if (r < 0)
			goto out;
	}
	r = retire_old(&v, &m, e);
	if (r < 0)
		goto out;
	test_crash_point("rekey-retired");
	r = volume_image_clear(&v, e);
	if (r < 0)
		goto out;
	test_crash_point("rekey-done");
	r = drop_dead_recovery(&v, e);
	if (r > 0)
		ret->recovery_dropped = true;
	snprintf(ret->old_uuid, sizeof(ret->old_uuid), "%s", m.old_uuid);
	snprintf(ret->new_uuid, sizeof(ret->new_uuid), "%s", m.new_uuid);
out:
	volume_done(&v);
	return r < 0 ? r : 0;
}
