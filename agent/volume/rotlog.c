// SPDX-License-Identifier: LGPL-2.1-or-later
#include <stdio.h>
#include <syslog.h>

#include "base/journal.h"
#include "base/macro.h"
#include "volume/rotlog.h"

int rotate_journal(const struct rotate_event *ev)
{
	char msg[900], prio[16], dev[300], uuid[64], kind[48], token[32], oldk[600], newk[600], gen[48], ids[600],
		outcome[32], err[32];
	const char *fields[] = { msg, "MESSAGE_ID=" VOLKEY_ROTATION_MESSAGE_ID, prio, "SYSLOG_IDENTIFIER=volkey", dev,
				 uuid, kind, token, oldk, newk, gen, ids, outcome, err };

	if (ev->r < 0)
		snprintf(msg, sizeof(msg), "MESSAGE=volkey rotate %s failed: %s", rotate_kind_name(ev->kind),
			 ev->message ? ev->message : "");
	else if (ev->token >= 0)
		snprintf(msg, sizeof(msg), "MESSAGE=volkey rotate %s: %s token %d: %s (generation %lu)",
			 rotate_kind_name(ev->kind), ev->device, ev->token, ev->message ? ev->message : "done",
			 ev->generation);
	else
		snprintf(msg, sizeof(msg), "MESSAGE=volkey rotate %s: %s: %s", rotate_kind_name(ev->kind), ev->device,
			 ev->message ? ev->message : "done");
	snprintf(prio, sizeof(prio), "PRIORITY=%d", ev->r < 0 ? LOG_ERR : LOG_NOTICE);
	snprintf(dev, sizeof(dev), "VOLKEY_DEVICE=%s", ev->device ? ev->device : "");
	snprintf(uuid, sizeof(uuid), "VOLKEY_LUKS_UUID=%s", ev->uuid ? ev->uuid : "");
	snprintf(kind, sizeof(kind), "VOLKEY_KIND=%s", rotate_kind_name(ev->kind));
	snprintf(token, sizeof(token), "VOLKEY_TOKEN=%d", ev->token);
	snprintf(oldk, sizeof(oldk), "VOLKEY_OLD_KEY=%s", ev->old_key ? ev->old_key : "");
	snprintf(newk, sizeof(newk), "VOLKEY_NEW_KEY=%s", ev->new_key ? ev->new_key : "");
	snprintf(gen, sizeof(gen), "VOLKEY_GENERATION=%lu", ev->generation);
	snprintf(ids, sizeof(ids), "VOLKEY_KMS_REQUEST_IDS=%s", ev->request_ids ? ev->request_ids : "");
	snprintf(outcome, sizeof(outcome), "VOLKEY_OUTCOME=%s", ev->r < 0 ? "failed" : "done");
	snprintf(err, sizeof(err), "VOLKEY_ERRNO=%d", -ev->r);
	return journal_send(fields, ARRAY_SIZE(fields));
}
