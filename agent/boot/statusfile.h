/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's per-device record, kept in memory and written atomically (temp
 * file + rename) to /run/volkey/status.json after every change, for
 * `volkey status` and for people. Thread-safe. */
#pragma once

#include <stdbool.h>
#include <json-c/json.h>

#include "boot/provision.h"

int statusfile_init(const char *path);
/* The record as it is written to the file (agent, devices), a new object. */
struct json_object *statusfile_json(void);
/* Records (replaces) the outcome for o->device and rewrites the file, if the
 * device's record is still the one statusfile_working() gave o->generation
 * for: true. An outcome for a device removed (or started again) since is
 * dropped: false; a new device at the same node is not hidden by it. */
bool statusfile_put(const struct device_outcome *o);
/* Marks a device as being worked on; returns the generation its outcome is put with. */
unsigned long statusfile_working(const char *device);
void statusfile_set_ready(bool ready);
/* Drops a device's record (it was removed): a worker's late outcome for it is dropped too. */
void statusfile_forget(const char *device);
/* The state recorded for device, "" if none. */
void statusfile_state(const char *device, char *buf, size_t n);
/* A copy of the device's record; false when there is none. */
bool statusfile_get(const char *device, struct device_outcome *ret);
/* How many recorded devices are in this state (each device counts once). */
int statusfile_count(const char *state);
