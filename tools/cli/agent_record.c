// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdbool.h>
#include <string.h>

#include "base/jsonget.h"
#include "base/macro.h"
#include "cli/agent_record.h"

#define jget json_member

/* A member as text: NULL when absent or null. */
static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v = jget(o, k);
	return v ? json_object_get_string(v) : NULL;
}

struct json_object *agent_record_parse(const char *text)
{
	struct json_object *j = json_tokener_parse(text), *a, *d;
	bool ok = json_object_is_type(j, json_type_object);

	/* json-c asserts when an array call meets anything else: check before use */
	if (ok && (a = jget(j, "agent")))
		ok = json_object_is_type(a, json_type_object);
	if (ok && (d = jget(j, "devices"))) {
		ok = json_object_is_type(d, json_type_array);
		for (size_t i = 0; ok && i < json_object_array_length(d); i++)
			ok = json_object_is_type(json_object_array_get_idx(d, i), json_type_object);
	}
	if (!ok) {
		json_object_put(j);
		return NULL;
	}
	return j;
}

void agent_record_print(struct json_object *rec, FILE *f)
{
	struct json_object *devs = jget(rec, "devices"), *a = jget(rec, "agent");

	if (!a)
		return;
	fprintf(f, "volkeyd: %s (pid %s, started %s)\n", json_object_get_boolean(jget(a, "ready")) ? "ready" : "starting",
		strna(jstr(a, "pid")), strna(jstr(a, "started")));
	for (size_t i = 0; devs && i < json_object_array_length(devs); i++) {
		struct json_object *d = json_object_array_get_idx(devs, i);
		fprintf(f, "  %-16s %-15s %-13s %s%s%s\n", strna(jstr(d, "device")), strna(jstr(d, "class")),
			strna(jstr(d, "state")), strna(jstr(d, "detail")), jstr(d, "mountpoint") ? ", mounted on " : "",
			jstr(d, "mountpoint") ? jstr(d, "mountpoint") : "");
	}
}
