// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target: the agent's record (/run/volkey/status.json) as `volkey
 * status` reads it back: parsed and shape-checked, the summary printed (to
 * /dev/null); then made into
 * the status document beside two volumes (one named like a recorded device)
 * and rendered as Prometheus metrics, whose every line must be a comment, a
 * blank or a sample "name{labels} value" with no raw newline in a label. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/agent_record.h"
#include "conf/config.h"
#include "volume/status_doc.h"
#include "volume/status_prom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;

static void check_metrics(struct json_object *rec)
{
	static struct volkey_config cfg;
	static bool init;
	struct json_object *vols = json_tokener_parse(
		"[{\"device\":\"/dev/nvme1n1\",\"luks_uuid\":\"11111111-2222-3333-4444-555555555555\",\"format\":"
		"\"complete\",\"mapped\":false,\"secret_age_days\":3.5,\"tokens\":[]},"
		"{\"device\":\"/dev/x\",\"mapped\":true,\"tokens\":[]}]");
	struct json_object *doc;
	char *out = NULL, *line, *save = NULL;
	size_t n = 0;
	FILE *f;

	if (!init) {
		config_defaults(&cfg);
		init = true;
	}
	doc = status_doc_new(vols, rec, &cfg);
	f = open_memstream(&out, &n);
	if (!f)
		abort();
	if (status_prom_write(doc, f) < 0)
		abort();
	fclose(f);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *brace = strchr(line, '{');
		if (line[0] == '#')
			continue;
		/* a sample: name, optional {labels}, a space, a value */
		if (!(line[0] >= 'a' && line[0] <= 'z') || !strrchr(line, ' '))
			abort();
		if (brace && !strstr(brace, "} "))
			abort();
	}
	free(out);
	json_object_put(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *rec;
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
		agent_record_print(rec, devnull);
		check_metrics(rec);
		json_object_put(rec);
	}
	free(text);
	return 0;
}
