/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The status document: what `volkey status --json` prints and what the metrics
 * are made from (docs/status-schema.json). One state per volume from a fixed
 * set, decided from its header, its mappings, the boot agent's record of its
 * last unlock and the [rotation] policy. */
#pragma once

#include <json-c/json.h>

#include "conf/config.h"

#define STATUS_SCHEMA_VERSION 1

/* The states, most pressing first: a volume is in the first that applies. */
extern const char *const status_states[];
extern const int status_nstates;

/* volumes: an array of volume_status_json() objects (taken); agent: the boot
 * agent's record (/run/volkey/status.json, borrowed; NULL when none). Each
 * volume gets state, state_detail, rotation_due and last_unlock; the envelope
 * schema_version, generated, host, policy and agent. */
struct json_object *status_doc_new(struct json_object *volumes, struct json_object *agent,
				   const struct volkey_config *cfg);
