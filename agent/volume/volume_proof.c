// SPDX-License-Identifier: LGPL-2.1-or-later
/* Proof that a keyslot announced by a pending token is volkey's, when a crash
 * came between adding it and giving it to the pending token (two header writes).
 * Without proof, such a keyslot may be someone's passphrase added into that slot
 * later, and it stays. With proof (the secret it was made with, named by the
 * pending token through a token, optionally a wrapped blob and the UUID it is
 * bound to instead of the token's (a re-key), and the keyslot
 * opens with it), it is removed. Only rotations record proofs; they always
 * have the configuration to unwrap with. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "base/b64.h"
#include "base/cslock.h"
#include "base/exitcode.h"
#include "base/log.h"
#include "base/secret.h"
#include "keys/backend.h"
#include "keys/keytrust.h"
#include "volume/volume.h"

int volume_pending_proven(struct volume *v, const struct volkey_config *cfg, int pending, int keyslot)
{
	CS_LOCKED;
	_cleanup_(key_uri_freep) struct key_uri *uri = NULL;
	_cleanup_(kctx_freep) struct kctx *c = NULL;
	_cleanup_(binding_freep) struct binding *nb = NULL;
	_cleanup_secret_ void *secret = NULL, *vk = NULL;
	const struct token_entry *t;
	struct errbuf why = { { 0 } };
	struct json_object *o = NULL, *m;
	struct wrapped w = { 0 };
	const char *json = NULL;
	size_t len = 0, vklen;
	bool owned = false;
	int r = 0, id;

	if (crypt_token_json_get(v->cd, pending, &json) < 0 || !(o = json_tokener_parse(json)))
		return 0;
	if (!json_object_object_get_ex(o, "proof_token", &m) || !json_object_is_type(m, json_type_int))
		goto out;
	id = json_object_get_int(m);
	t = volume_token(v, id);
	if (!t || t->role != TOKEN_VOLKEY || key_uri_load(t->t.key_uri, cfg, &uri, &why) < 0 || kctx_new(cfg, &c) < 0)
		goto out;
	if (json_object_object_get_ex(o, "proof_wrapped", &m) && json_object_is_type(m, json_type_string)) {
		const char *b = json_object_get_string(m);
		w.data = malloc(b64_decoded_max(strlen(b)) + 1);
		owned = true;
		if (!w.data || b64_decode(b, strlen(b), w.data, b64_decoded_max(strlen(b)) + 1, &w.len) < 0)
			goto out;
	} else {
		w = (struct wrapped){ .data = t->t.wrapped.data, .len = t->t.wrapped.len };
	}
	/* A re-key's new secret is bound like token N but to the volume's new UUID. */
	if (json_object_object_get_ex(o, "proof_uuid", &m) && json_object_is_type(m, json_type_string)) {
		if (binding_with_uuid(t->t.binding, json_object_get_string(m), &nb) < 0)
			goto out;
	}
	r = key_unwrap(c, uri, nb ? nb : t->t.binding, &w, &secret, &len);
	if (r < 0) {
		log_debug("%s: pending token %d: cannot unwrap its proof: %s", v->path, pending, kctx_error(c));
		/* Unreachable now: ask for a later try. Refused: no proof (0). */
		if (exit_code_from_errno(r) != EXIT_UNAVAILABLE)
			r = 0;
		goto out;
	}
	r = crypt_get_volume_key_size(v->cd);
	vklen = r > 0 ? (size_t)r : 64;
	r = 0;
	/* The unwrap worked: from here the answer is yes or no. */
	vk = secret_alloc(vklen);
	/* Works for keyslots of an unbound key too (a re-encryption's new key). */
	if (vk && crypt_volume_key_get(v->cd, keyslot, vk, &vklen, secret, len) >= 0)
		r = 1;
	log_debug("%s: pending token %d: keyslot %d %s", v->path, pending, keyslot,
		  r ? "opens with the recorded secret: volkey's" : "does not open with the recorded secret");
out:
	if (owned)
		free(w.data);
	json_object_put(o);
	return r;
}
