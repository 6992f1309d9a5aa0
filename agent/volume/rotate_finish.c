// SPDX-License-Identifier: LGPL-2.1-or-later
/* What an interrupted rotation leaves, finished before the next one starts:
 * two tokens of one key URI (a --secret cut short) and keyslots of a new volume
 * key no data uses yet (a --volume-key preparation cut short). Both rotate
 * --secret/--rewrap (volume_rotate.c) and --volume-key (volume_reencrypt.c) call
 * these first, so they live below both. */
#include <errno.h>
#include <string.h>

#include "base/cslock.h"
#include "base/log.h"
#include "volume/volume.h"

int volume_finish_secret_rotation(struct volume *v, const struct volkey_config *cfg, struct errbuf *e)
{
	for (int i = 0; i < v->ntokens; i++) {
		const struct token_entry *a = &v->tokens[i], *newest = a;
		int r;

		if (a->role != TOKEN_VOLKEY)
			continue;
		for (int j = 0; j < v->ntokens; j++) {
			const struct token_entry *b = &v->tokens[j];
			if (b->role == TOKEN_VOLKEY && strcmp(b->t.key_uri, a->t.key_uri) == 0 &&
			    b->t.generation > newest->t.generation)
				newest = b;
		}
		if (newest == a)
			continue;
		/* a is the older copy of an interrupted --secret: keep newest if it works. */
		struct errbuf why = { { 0 } };
		r = volume_token_unlocks(v, cfg, newest->id, &why);
		if (r < 0)
			return err_fail(e, r,
					"%s: tokens %d and %d share key %s (an interrupted secret rotation) and the "
					"newer does not unlock now, so both stay: %s",
					v->path, a->id, newest->id, a->t.key_uri, why.msg);
		log_info("%s: finishing an interrupted secret rotation: removing token %d (generation %lu), "
			 "token %d replaces it",
			 v->path, a->id, a->t.generation, newest->id);
		r = volume_token_retire(v, a->id, a->keyslot, e);
		if (r < 0)
			return r;
		r = volume_reload_tokens(v, e);
		if (r < 0)
			return r;
		i = -1; /* the table changed: start over */
	}
	return 0;
}

int volume_drop_stale_prep(struct volume *v, struct errbuf *e)
{
	CS_LOCKED;
	int n = 0, r;

	if (crypt_reencrypt_status(v->cd, NULL) != CRYPT_REENCRYPT_NONE)
		return 0;
	/* A keyslot of a key no data uses, given to a volkey or volkey-recovery
	 * token: destroying it also takes it out of the token's keyslots. */
	for (int k = 0; k < crypt_keyslot_max(CRYPT_LUKS2); k++) {
		bool ours = false;

		if (crypt_keyslot_status(v->cd, k) != CRYPT_SLOT_UNBOUND)
			continue;
		for (int i = 0; i < v->ntokens && !ours; i++)
			ours = (v->tokens[i].role == TOKEN_VOLKEY || v->tokens[i].role == TOKEN_RECOVERY) &&
			       crypt_token_is_assigned(v->cd, v->tokens[i].id, k) == 0;
		if (!ours)
			continue;
		log_debug("%s: dropping keyslot %d of an unfinished re-encryption setup", v->path, k);
		r = crypt_keyslot_destroy(v->cd, k);
		if (r < 0)
			return err_fail(e, r, "%s: cannot remove keyslot %d: %s", v->path, k, strerror(-r));
		n++;
	}
	return n ? volume_reload_tokens(v, e) : 0;
}
