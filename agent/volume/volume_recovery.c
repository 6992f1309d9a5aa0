// SPDX-License-Identifier: LGPL-2.1-or-later
/* Recovery passphrases: 256 random bits written as 64 characters of a
 * 16-letter alphabet that keyboard layouts agree on (the "modhex" letters), in
 * groups of eight. Plain `cryptsetup open` accepts it when every backend is gone.
 * Its keyslot is marked by a volkey-recovery token (no secret in it). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "base/cslock.h"
#include "base/secret.h"
#include "base/testhook.h"
#include "volume/volume.h"

#define RECOVERY_BYTES 32
#define RECOVERY_CHARS (RECOVERY_BYTES * 2 + RECOVERY_BYTES / 4 - 1)

static int make_phrase(char **ret)
{
	static const char alphabet[] = "cbdefghijklnrtuv";
	_cleanup_secret_ unsigned char *raw = secret_alloc(RECOVERY_BYTES);
	_cleanup_secret_ char *s = secret_alloc(RECOVERY_CHARS + 1);
	size_t o = 0;

	if (!raw || !s)
		return -ENOMEM;
	if (getrandom(raw, RECOVERY_BYTES, 0) != RECOVERY_BYTES)
		return -EIO;
	for (int i = 0; i < RECOVERY_BYTES; i++) {
		if (i && i % 4 == 0)
			s[o++] = '-';
		s[o++] = alphabet[raw[i] >> 4];
		s[o++] = alphabet[raw[i] & 15];
	}
	s[o] = '\0';
	*ret = TAKE_PTR(s);
	return 0;
}

int volume_add_recovery(const char *device, const struct volkey_config *cfg,
			int (*deliver)(const char *phrase, void *userdata), void *userdata, struct errbuf *e)
{
	CS_LOCKED;
	_cleanup_secret_ void *vk = NULL;
	_cleanup_secret_ char *phrase = NULL;
	_cleanup_free_ char *json = NULL;
	struct volume v;
	char now[32];
	size_t vklen = 0;
	int r, k = -1, p;

	r = volume_load_for_change(device, cfg, &v, e);
	if (r < 0)
		return r;
	r = volume_get_volume_key(&v, cfg, &vk, &vklen, NULL, e);
	if (r < 0)
		goto out;
	r = make_phrase(&phrase);
	if (r < 0) {
		err_fail(e, r, "cannot draw a recovery passphrase: %s", strerror(-r));
		goto out;
	}
	/* The keyslot stays owned by a pending token until the phrase was handed over:
	 * a crash or a failed delivery leaves nothing that counts as a way in. */
	p = r = volume_keyslot_add(&v, "recovery", vk, vklen, phrase, strlen(phrase), 0, NULL, &k, e);
	if (r < 0)
		goto out;
	r = crypt_activate_by_passphrase(v.cd, NULL, k, phrase, strlen(phrase), 0);
	if (r < 0) {
		err_fail(e, r, "%s: the new recovery keyslot %d does not open: %s", device, k, strerror(-r));
		volume_keyslot_drop(&v, k, p, NULL);
		goto out;
	}
	r = deliver(phrase, userdata);
	if (r < 0) {
		err_fail(e, r, "%s: the recovery passphrase could not be shown (%s); its keyslot was removed", device,
			 strerror(-r));
		volume_keyslot_drop(&v, k, p, NULL);
		goto out;
	}
	test_crash_point("recovery-shown");
	rfc3339_now(now, sizeof(now));
	r = volkey_recovery_token_format(k, now, &json);
	if (r < 0) {
		err_fail(e, r, "%s: cannot build the recovery token: %s", device, strerror(-r));
		volume_keyslot_drop(&v, k, p, NULL);
		goto out;
	}
	r = volume_token_commit(&v, p, k, json, e);
	if (r < 0)
		goto out;
	r = k;
out:
	volume_done(&v);
	return r;
}
