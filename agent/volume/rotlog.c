// SPDX-License-Identifier: LGPL-2.1-or-later
#include <stdio.h>
#include <syslog.h>
#include <systemd/sd-journal.h>

#include "volume/rotlog.h"

int rotate_journal(const struct rotate_event *ev)
{
	char msg[900];

	if (ev->r < 0)
		snprintf(msg, sizeof(msg), "volkey rotate %s failed: %s", rotate_kind_name(ev->kind),
			 ev->message ? ev->message : "");
	else if (ev->token >= 0)
		snprintf(msg, sizeof(msg), "volkey rotate %s: %s token %d: %s (generation %lu)",
			 rotate_kind_name(ev->kind), ev->device, ev->token, ev->message ? ev->message : "done",
			 ev->generation);
	else
		snprintf(msg, sizeof(msg), "volkey rotate %s: %s: %s", rotate_kind_name(ev->kind), ev->device,
			 ev->message ? ev->message : "done");
	return sd_journal_send("MESSAGE=%s", msg, "MESSAGE_ID=" VOLKEY_ROTATION_MESSAGE_ID, "PRIORITY=%d",
			       ev->r < 0 ? LOG_ERR : LOG_NOTICE, "SYSLOG_IDENTIFIER=volkey", "VOLKEY_DEVICE=%s",
			       ev->device ? ev->device : "", "VOLKEY_LUKS_UUID=%s", ev->uuid ? ev->uuid : "",
			       "VOLKEY_KIND=%s", rotate_kind_name(ev->kind), "VOLKEY_TOKEN=%d", ev->token,
			       "VOLKEY_OLD_KEY=%s", ev->old_key ? ev->old_key : "", "VOLKEY_NEW_KEY=%s",
			       ev->new_key ? ev->new_key : "", "VOLKEY_GENERATION=%lu", ev->generation,
			       "VOLKEY_KMS_REQUEST_IDS=%s", ev->request_ids ? ev->request_ids : "",
			       "VOLKEY_OUTCOME=%s", ev->r < 0 ? "failed" : "done", "VOLKEY_ERRNO=%d", -ev->r, NULL);
}
