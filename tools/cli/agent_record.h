/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The agent's record (/run/volkey/status.json, written by boot/statusfile.c) as
 * `volkey status` reads it back: parsed, its shape checked, looked up, printed.
 * Pure: no file access, so tests/fuzz/fuzz_agent_record.c runs it on any bytes. */
#pragma once

#include <stdio.h>
#include <json-c/json.h>

/* The record, or NULL unless text is an object whose "agent" (if any) is an object
 * and whose "devices" (if any) is an array of objects: the shape volkeyd writes. */
struct json_object *agent_record_parse(const char *text);
/* The agent's own summary (nothing without an "agent" member). */
void agent_record_print(struct json_object *rec, FILE *f);
