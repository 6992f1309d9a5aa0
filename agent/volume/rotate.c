// SPDX-License-Identifier: LGPL-2.1-or-later
/* The rotation API (rotate.h): volume_rotate() hands each kind to its file
 * (volume_rotate.c: rewrap and secret; volume_reencrypt.c: volume key;
 * volume_erase.c: crypto erase), and the age of what a kind rotates. On top of
 * those files: none of them calls back here. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "base/timeutil.h"
#include "volume/rotate.h"
#include "volume/volume.h"

int volume_rotate(const char *device, const struct rotate_opts *o, const struct volkey_config *cfg,
		  struct errbuf *e)
{
	int r;

	rotate_reports_reset();
	if (o->kind != ROTATE_CRYPTO_ERASE && volume_rekey_in_progress(device) > 0)
		r = err_fail(e, -EBUSY, "%s: a first-boot re-key is in progress; finish it first (volkey rekey %s)",
			     device, device);
	else switch (o->kind) {
	case ROTATE_REWRAP:
	case ROTATE_SECRET:
		r = volume_rotate_tokens(device, o, cfg, e);
		break;
	case ROTATE_VOLUME_KEY:
		r = volume_reencrypt(device, o, cfg, e);
		break;
	case ROTATE_CRYPTO_ERASE:
		r = volume_crypto_erase(device, o, cfg, e);
		break;
	default:
		r = err_fail(e, -EINVAL, "unknown rotation");
	}
	/* Every rotation reaches the report (the journal), also one refused before
	 * it got to a token. */
	if (r < 0 && rotate_reports_count() == 0)
		rotate_report(o, &(struct rotate_event){ .kind = o->kind, .device = device, .uuid = "", .token = -1,
							 .request_ids = "", .r = r, .message = e->msg });
	return r;
}

int volume_rotation_age(const char *device, enum rotate_kind kind, double *ret_days, struct errbuf *e)
{
	struct volume v;
	double oldest = -1;
	char when[32];
	int r;

	r = volume_load(device, &v, e);
	if (r < 0)
		return r;
	/* The volume key's age is recorded by the last re-encryption; before one, it is
	 * as old as the oldest secret (made at format time, or later by --secret). */
	if (kind == ROTATE_VOLUME_KEY && volume_vk_rotated(&v, when, sizeof(when)) == 0)
		oldest = rfc3339_age_days(when);
	else
		for (int i = 0; i < v.ntokens; i++) {
			const struct token_entry *t = &v.tokens[i];
			double d;

			if (t->role != TOKEN_VOLKEY)
				continue;
			d = rfc3339_age_days(kind == ROTATE_REWRAP && t->t.rewrapped[0] ? t->t.rewrapped : t->t.created);
			if (d > oldest)
				oldest = d;
		}
	volume_done(&v);
	if (oldest < 0)
		return err_fail(e, -ENOENT, "%s: no volkey token with a creation time", device);
	*ret_days = oldest;
	return 0;
}
