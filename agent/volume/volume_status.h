/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What `volkey status` reports for a volume, as a JSON object: header, tokens,
 * keyslots, live mappings and their flags, persistent flags. Reads only. */
#pragma once

#include <json-c/json.h>
#include "base/errbuf.h"

int volume_status_json(const char *device, struct json_object **ret, struct errbuf *e);
/* Block devices that hold a volkey LUKS2 header (ready or provisioning):
 * a malloc'ed NULL-terminated array of malloc'ed /dev paths. */
int volume_find_all(char ***ret);
/* Names of the set activation flags, as a JSON array. */
struct json_object *activation_flags_json(uint32_t flags);
/* Every volkey volume on the machine: the volumes array for status_doc_new() (status_doc.h).
 * Devices that cannot be read are logged and left out: -EIO then, with the
 * array still set. */
int status_volumes_all(struct json_object **ret);
