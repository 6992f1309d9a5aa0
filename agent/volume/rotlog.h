/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every rotation goes to the systemd journal with structured fields, for audit
 * and for fleet dashboards (`journalctl MESSAGE_ID=… -o json`):
 *   VOLKEY_DEVICE VOLKEY_LUKS_UUID VOLKEY_KIND VOLKEY_TOKEN VOLKEY_OLD_KEY
 *   VOLKEY_NEW_KEY VOLKEY_GENERATION VOLKEY_KMS_REQUEST_IDS VOLKEY_OUTCOME
 *   VOLKEY_ERRNO, MESSAGE, MESSAGE_ID, PRIORITY, SYSLOG_IDENTIFIER=volkey.
 * Never a secret: keys are named by ARN, fingerprint or label only. */
#pragma once

#include "volume/rotate.h"

#define VOLKEY_ROTATION_MESSAGE_ID "5e0b7ad2c1f44f3e9a4f7e61d0c3b9a8"

/* Sends one journal entry; -errno if the journal is not there (never fatal). */
int rotate_journal(const struct rotate_event *ev);
