// SPDX-License-Identifier: LGPL-2.1-or-later
/* What every kind of rotation reports, and how: the kind's name, the KMS
 * request ids of the calls made, one event per token or volume to the
 * caller's callback. Below every rotation file, which all report. */
#include <stdio.h>
#include <string.h>

#include "keys/kctx.h"
#include "volume/rotate.h"
#include "volume/volume.h"

const char *rotate_kind_name(enum rotate_kind k)
{
	switch (k) {
	case ROTATE_REWRAP:
		return "rewrap";
	case ROTATE_SECRET:
		return "secret";
	case ROTATE_VOLUME_KEY:
		return "volume-key";
	case ROTATE_CRYPTO_ERASE:
		return "crypto-erase";
	}
	return "?";
}

void rotate_ids_add(char *ids, size_t n, struct kctx *c)
{
	const char *id = kctx_last_info(c)->request_id;
	size_t len = strlen(ids);

	if (id[0] && len + strlen(id) + 2 < n)
		snprintf(ids + len, n - len, "%s%s", len ? " " : "", id);
}

/* Reports made by this thread's current volume_rotate(). */
static __thread int reports;

void rotate_reports_reset(void)
{
	reports = 0;
}

int rotate_reports_count(void)
{
	return reports;
}

void rotate_report(const struct rotate_opts *o, const struct rotate_event *ev)
{
	reports++;
	if (o->report)
		o->report(ev, o->userdata);
}
