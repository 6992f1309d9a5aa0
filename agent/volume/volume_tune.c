// SPDX-License-Identifier: LGPL-2.1-or-later
/* Performance flags kept in a LUKS2 header (persistent activation flags): every
 * later activation, by volkey or by cryptsetup, uses them. An open mapping is
 * reloaded with them at once when one of the volume's tokens can unlock it. */
#include <errno.h>
#include <string.h>

#include "base/cslock.h"
#include "base/log.h"
#include "volume/volume.h"
#include "volume/volume_tune.h"

int volume_set_perf_flags(const char *device, uint32_t flags, const struct volkey_config *cfg,
			  struct perf_flags_result *ret, struct errbuf *e)
{
	CS_LOCKED;
	_cleanup_(volume_done) struct volume v = { 0 };
	struct unlock_result u = { .token = -1, .keyslot = -1 };
	struct crypt_active_device cad;
	uint32_t old = 0, want;
	struct errbuf why = { 0 };
	int r;

	*ret = (struct perf_flags_result){ 0 };
	if (flags & ~VOLUME_PERF_FLAGS)
		return err_fail(e, -EINVAL, "%s: only the workqueue flags can be set", device);
	r = volume_load(device, &v, e);
	if (r < 0)
		return r;
	ret->sector_size = (unsigned)crypt_get_sector_size(v.cd);
	r = crypt_persistent_flags_get(v.cd, CRYPT_FLAGS_ACTIVATION, &old);
	if (r < 0)
		return err_fail(e, r, "%s: cannot read the persistent flags: %s", device, strerror(-r));
	want = (old & ~VOLUME_PERF_FLAGS) | flags;
	ret->old_flags = old;
	ret->new_flags = want;
	if (want != old) {
		r = crypt_persistent_flags_set(v.cd, CRYPT_FLAGS_ACTIVATION, want);
		if (r < 0)
			return err_fail(e, r, "%s: cannot write the persistent flags: %s", device, strerror(-r));
		ret->changed = true;
	}
	if (volume_active_mapping(device, v.uuid, ret->mapping, sizeof(ret->mapping)) <= 0) {
		ret->mapping[0] = '\0';
		return 0;
	}
	if (crypt_get_active_device(v.cd, ret->mapping, &cad) < 0)
		return 0;
	ret->live_flags = cad.flags;
	if ((cad.flags & VOLUME_PERF_FLAGS) == flags) {
		ret->refreshed = true; /* already as wanted */
		return 0;
	}
	/* Reload the live table with the new flags (libcryptsetup adds the
	 * persistent ones; the others of the mapping are kept). */
	if (volume_count_volkey(&v) <= 0) {
		snprintf(ret->refresh_error, sizeof(ret->refresh_error), "no volkey token to unlock it with");
		return 0;
	}
	r = volume_open(&v, cfg, ret->mapping,
			CRYPT_ACTIVATE_REFRESH | (cad.flags & ~VOLUME_PERF_FLAGS & VOLUME_KEPT_FLAGS) | flags, &u, &why);
	unlock_result_clear(&u);
	if (r < 0) {
		snprintf(ret->refresh_error, sizeof(ret->refresh_error), "%s", why.msg[0] ? why.msg : strerror(-r));
		return 0;
	}
	if (crypt_get_active_device(v.cd, ret->mapping, &cad) == 0)
		ret->live_flags = cad.flags;
	ret->refreshed = true;
	return 0;
}
