// SPDX-License-Identifier: LGPL-2.1-or-later
/* Pending keyslot changes: the `volkey-pending` token that announces a keyslot
 * being added or removed, and finishing what a crash interrupted. Above both
 * volume_load.c (which classifies the tokens) and volume_proof.c (which proves a
 * keyslot volkey's), so neither calls back into the other. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cslock.h"
#include "base/log.h"
#include "volume/volume.h"

static int active_keyslots(struct crypt_device *cd)
{
	CS_LOCKED;
	int n = 0;

	for (int k = 0; k < crypt_keyslot_max(CRYPT_LUKS2); k++) {
		crypt_keyslot_info ki = crypt_keyslot_status(cd, k);
		n += ki == CRYPT_SLOT_ACTIVE || ki == CRYPT_SLOT_ACTIVE_LAST;
	}
	return n;
}

int volume_pending_json(int keyslot, bool assigned, const char *op, char *buf, size_t n)
{
	char now[32];

	rfc3339_now(now, sizeof(now));
	if (assigned)
		return snprintf(buf, n,
				"{\"type\":\"" VOLKEY_PENDING_TOKEN_TYPE "\",\"keyslots\":[\"%d\"],\"keyslot\":%d,"
				"\"op\":\"%s\",\"created\":\"%s\"}",
				keyslot, keyslot, op, now);
	return snprintf(buf, n,
			"{\"type\":\"" VOLKEY_PENDING_TOKEN_TYPE "\",\"keyslots\":[],\"keyslot\":%d,\"op\":\"%s\","
			"\"created\":\"%s\"}",
			keyslot, op, now);
}

int volume_pending_begin(struct volume *v, int keyslot, const char *op, const char *proof, struct errbuf *e)
{
	CS_LOCKED;
	_cleanup_free_ char *json = NULL;
	char base[256];
	int r;

	volume_pending_json(keyslot, false, op, base, sizeof(base));
	/* The proof goes in as extra members: {..., "proof_token":N, ...}. */
	if (asprintf(&json, "%.*s%s%s}", (int)strlen(base) - 1, base, proof ? "," : "", proof ? proof : "") < 0)
		return err_fail(e, -ENOMEM, "out of memory");
	r = crypt_token_json_set(v->cd, CRYPT_ANY_TOKEN, json);
	if (r < 0)
		return err_fail(e, r, "%s: cannot write a LUKS2 token: %s", v->path, strerror(-r));
	return r;
}

int volume_cleanup_pending(struct volume *v, const struct volkey_config *cfg, struct errbuf *e)
{
	CS_LOCKED;
	int fixed = 0, r;

	for (int i = 0; i < v->ntokens; i++) {
		const struct token_entry *t = &v->tokens[i];
		crypt_keyslot_info ki;

		if (t->role != TOKEN_PENDING)
			continue;
		ki = crypt_keyslot_status(v->cd, t->keyslot);
		/* UNBOUND: a keyslot of a re-encryption's new key, not yet used by data. */
		if (ki == CRYPT_SLOT_ACTIVE || ki == CRYPT_SLOT_ACTIVE_LAST || ki == CRYPT_SLOT_UNBOUND) {
			/* Only a keyslot assigned to the pending token is provably the one volkey
			 * was changing; anything else in that slot may be someone's passphrase. */
			bool ours = crypt_token_is_assigned(v->cd, t->id, t->keyslot) == 0;

			if (!ours && cfg) {
				r = volume_pending_proven(v, cfg, t->id, t->keyslot);
				if (r < 0)
					/* Keep the pending token (and its proof) for a later try. */
					return err_fail(e, r,
							"%s: cannot check keyslot %d left by an interrupted change: its key "
							"does not answer now; try again",
							v->path, t->keyslot);
				ours = r > 0;
			}
			if (!ours && ki == CRYPT_SLOT_UNBOUND) {
				/* A keyslot of a key no data uses, announced by a re-encryption's
				 * preparation: it can open nothing, removing it loses nothing. */
				const char *json = NULL;
				ours = crypt_token_json_get(v->cd, t->id, &json) >= 0 && json &&
				       strstr(json, "\"op\":\"reencrypt");
			}
			if (ours && !volume_keyslot_referenced(v, t->keyslot)) {
				/* An unbound keyslot (a re-encryption's new key) is never a way in. */
				if (ki != CRYPT_SLOT_UNBOUND && active_keyslots(v->cd) <= 1)
					return err_fail(e, -EUCLEAN,
							"%s: interrupted change left keyslot %d as the only keyslot; "
							"not removing it",
							v->path, t->keyslot);
				r = crypt_keyslot_destroy(v->cd, t->keyslot);
				if (r < 0)
					return err_fail(e, r, "%s: cannot remove orphan keyslot %d: %s", v->path,
							t->keyslot, strerror(-r));
			} else if (!ours && !volume_keyslot_referenced(v, t->keyslot)) {
				log_warning("%s: keyslot %d may be left over from an interrupted change; volkey cannot "
					    "prove it added it, so it stays (cryptsetup luksKillSlot removes it)",
					    v->path, t->keyslot);
			}
		}
		r = crypt_token_json_set(v->cd, t->id, NULL);
		if (r < 0)
			return err_fail(e, r, "%s: cannot remove pending token %d: %s", v->path, t->id, strerror(-r));
		log_info("%s: finished an interrupted keyslot change (keyslot %d)", v->path, t->keyslot);
		fixed++;
	}
	if (fixed) {
		r = volume_reload_tokens(v, e);
		if (r < 0)
			return r;
	}
	return fixed;
}
