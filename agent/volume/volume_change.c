// SPDX-License-Identifier: LGPL-2.1-or-later
/* The steps every keyslot change shares: load for a change (refusing a
 * half-format, finishing interrupted changes), add a keyslot announced by a
 * volkey-pending token, commit the real token over the pending one in a single
 * header write, or drop the keyslot and its announcement; retire a token (turn
 * it into a pending token, then drop both). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/cslock.h"
#include "base/testhook.h"
#include "volume/volume.h"

int volume_load_for_change(const char *device, const struct volkey_config *cfg, struct volume *v, struct errbuf *e)
{
	int r = volume_load(device, v, e);

	if (r < 0)
		return r;
	if (streq_ptr(v->subsystem, VOLKEY_SUBSYSTEM_PROVISIONING)) {
		volume_done(v);
		return err_fail(e, -EUCLEAN, "%s: its format was interrupted; run 'volkey format %s' again", device,
				device);
	}
	r = volume_cleanup_pending(v, cfg, e);
	if (r < 0)
		volume_done(v);
	return r < 0 ? r : 0;
}

int volume_keyslot_drop(struct volume *v, int keyslot, int pending, struct errbuf *e)
{
	CS_LOCKED;
	int r = crypt_keyslot_destroy(v->cd, keyslot);

	if (r < 0 && r != -ENOENT && r != -EINVAL)
		return err_fail(e, r, "%s: cannot remove keyslot %d: %s", v->path, keyslot, strerror(-r));
	test_crash_point("drop-keyslot");
	r = crypt_token_json_set(v->cd, pending, NULL);
	if (r < 0)
		return err_fail(e, r, "%s: cannot remove token %d: %s", v->path, pending, strerror(-r));
	return 0;
}

int volume_keyslot_add(struct volume *v, const char *op, const void *vk, size_t vklen, const void *pass,
		       size_t passlen, uint32_t flags, const char *proof, int *ret_keyslot, struct errbuf *e)
{
	CS_LOCKED;
	char step[48];
	int k = -1, p, r;

	for (int s = 0; s < crypt_keyslot_max(CRYPT_LUKS2) && k < 0; s++)
		if (crypt_keyslot_status(v->cd, s) == CRYPT_SLOT_INACTIVE)
			k = s;
	if (k < 0)
		return err_fail(e, -ENOSPC, "%s: no free keyslot", v->path);
	p = volume_pending_begin(v, k, op, proof, e);
	if (p < 0)
		return p;
	snprintf(step, sizeof(step), "%s-pending", op);
	test_crash_point(step);
	r = volume_set_fast_pbkdf(v->cd);
	if (r >= 0)
		r = crypt_keyslot_add_by_key(v->cd, k, vk, vklen, pass, passlen, flags);
	if (r < 0) {
		err_fail(e, r, "%s: cannot add keyslot %d: %s", v->path, k, strerror(-r));
		crypt_token_json_set(v->cd, p, NULL);
		return r;
	}
	snprintf(step, sizeof(step), "%s-added", op);
	test_crash_point(step);
	/* Now the pending token owns the keyslot: cleanup may remove it after a crash. */
	r = crypt_token_assign_keyslot(v->cd, p, k);
	if (r < 0) {
		err_fail(e, r, "%s: cannot assign keyslot %d: %s", v->path, k, strerror(-r));
		volume_keyslot_drop(v, k, p, NULL);
		return r;
	}
	snprintf(step, sizeof(step), "%s-keyslot", op);
	test_crash_point(step);
	*ret_keyslot = k;
	return p;
}

int volume_token_commit(struct volume *v, int pending, int keyslot, const char *json, struct errbuf *e)
{
	CS_LOCKED;
	/* Replaces the pending token: the keyslot and its owner appear in one atomic write. */
	int r = crypt_token_json_set(v->cd, pending, json);

	if (r < 0) {
		err_fail(e, r, "%s: cannot write token %d: %s", v->path, pending, strerror(-r));
		volume_keyslot_drop(v, keyslot, pending, NULL);
		return r;
	}
	return volume_reload_tokens(v, e);
}

/* Turns token id (which owns keyslot k) into a pending token, then removes both. */
int volume_token_retire(struct volume *v, int id, int keyslot, struct errbuf *e)
{
	CS_LOCKED;
	char pj[256];
	int r;

	volume_pending_json(keyslot, true, "secret-retire", pj, sizeof(pj));
	r = crypt_token_json_set(v->cd, id, pj);
	if (r < 0)
		return err_fail(e, r, "%s: cannot update token %d: %s", v->path, id, strerror(-r));
	test_crash_point("secret-retire");
	return volume_keyslot_drop(v, keyslot, id, e);
}
