// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target: the agent's record (/run/volkey/status.json) as `volkey
 * status` reads it back: parsed and shape-checked, each device looked up and
 * merged as the verb does, the summary printed (to /dev/null). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/agent_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *rec, *devs, *v;
	char *text;

	if (size > 65536)
		return 0;
	if (!devnull && !(devnull = fopen("/dev/null", "we")))
		abort();
	text = malloc(size + 1);
	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	rec = agent_record_parse(text);
	if (rec) {
		if (!json_object_is_type(rec, json_type_object))
			abort();
		devs = json_object_object_get(rec, "devices");
		for (size_t i = 0; devs && i < json_object_array_length(devs); i++) {
			struct json_object *d = json_object_array_get_idx(devs, i), *name = NULL, *found;
			if (json_object_object_get_ex(d, "device", &name) && name) {
				found = agent_record_device(rec, json_object_get_string(name));
				if (!found)
					abort();
				v = json_object_new_object();
				json_object_object_add(v, "agent", json_object_get(found));
				json_object_put(v);
			}
		}
		(void)agent_record_device(rec, "/dev/nvme1n1");
		(void)agent_record_device(rec, NULL);
		agent_record_print(rec, devnull);
		json_object_put(rec);
	}
	free(text);
	return 0;
}
