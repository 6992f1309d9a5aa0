/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Typed reads of a JSON object's members that tolerate any shape: a missing
 * member, a member of another type or a NULL object all read as absent. For
 * documents volkey did not write itself in this process (the agent's record,
 * a status document). */
#pragma once

#include <stdbool.h>
#include <json-c/json.h>

/* The member, or NULL (absent, or o is NULL or not an object). */
struct json_object *json_member(struct json_object *o, const char *k);
/* A string member's text, or NULL. */
const char *json_member_str(struct json_object *o, const char *k);
/* A number member (integer or double): true with *ret set. */
bool json_member_num(struct json_object *o, const char *k, double *ret);
