// SPDX-License-Identifier: GPL-2.0-or-later
/* volkey status [DEVICE] [--json | --prometheus] */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/macro.h"
#include "cli/agent_record.h"
#include "cli/verb_util.h"
#include "cli/verbs.h"
#include "conf/config.h"
#include "volume/volume.h"
#include "volume/status_doc.h"
#include "volume/status_prom.h"
#include "volume/volume_status.h"

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v;
	return json_object_object_get_ex(o, k, &v) && v ? json_object_get_string(v) : NULL;
}

static struct json_object *jget(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;
	json_object_object_get_ex(o, k, &v);
	return v;
}

static void print_flags(const char *label, struct json_object *a)
{
	size_t n = a ? json_object_array_length(a) : 0;

	printf("  %-17s", label);
	if (!n)
		printf("none");
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? "," : "", json_object_get_string(json_object_array_get_idx(a, i)));
	printf("\n");
}

static void print_text(struct json_object *o)
{
	struct json_object *a;

	printf("%s\n", jstr(o, "device"));
	printf("  LUKS UUID        %s\n  state            %s: %s\n  cipher           %s, %s-bit key, %s-byte sectors\n",
	       jstr(o, "luks_uuid"), jstr(o, "state"), strna(jstr(o, "state_detail")), jstr(o, "cipher"),
	       jstr(o, "volume_key_bits"), jstr(o, "sector_size"));
	a = jget(o, "tokens");
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		struct json_object *t = json_object_array_get_idx(a, i);
		const char *type = jstr(t, "type");
		printf("  token %-2s         ", jstr(t, "id"));
		if (jstr(t, "key_uri"))
			printf("%s keyslot %s, %s, generation %s, created %s\n", type, jstr(t, "keyslot"),
			       jstr(t, "key_uri"), jstr(t, "generation"), jstr(t, "created"));
		else if (jstr(t, "error"))
			printf("%s UNREADABLE: %s\n", type, jstr(t, "error"));
		else if (jstr(t, "keyslot"))
			printf("%s keyslot %s%s%s\n", type, jstr(t, "keyslot"), jstr(t, "note") ? ": " : "",
			       jstr(t, "note") ? jstr(t, "note") : "");
		else
			printf("%s\n", type);
	}
	a = jget(o, "keyslots");
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		struct json_object *k = json_object_array_get_idx(a, i);
		printf("  keyslot %-2s       %s (%s, %s iterations)\n", jstr(k, "id"), jstr(k, "role"),
		       strna(jstr(k, "pbkdf")), strna(jstr(k, "iterations")));
	}
	if (jstr(o, "volume_key_rotated"))
		printf("  volume key       re-encrypted %s\n", jstr(o, "volume_key_rotated"));
	if (jget(o, "image"))
		printf("  image            %s%s%s\n", strna(jstr(jget(o, "image"), "summary")),
		       streq_ptr(jstr(jget(o, "image"), "state"), "template") ? "" : ": volkey rekey ",
		       streq_ptr(jstr(jget(o, "image"), "state"), "template") ? "" : jstr(o, "device"));
	if (jstr(o, "reencryption"))
		printf("  re-encryption    %s: volkey rotate %s --volume-key\n", jstr(o, "reencryption"),
		       jstr(o, "device"));
	print_flags("persistent flags", jget(o, "persistent_flags"));
	if (jget(o, "last_unlock"))
		printf("  volkeyd          %s at %s: %s\n", strna(jstr(jget(o, "last_unlock"), "outcome")),
		       strna(jstr(jget(o, "last_unlock"), "at")), strna(jstr(jget(o, "last_unlock"), "detail")));
	a = jget(o, "mappings");
	if (!a || !json_object_array_length(a))
		printf("  mapping          none\n");
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		struct json_object *m = json_object_array_get_idx(a, i);
		printf("  mapping          /dev/mapper/%s (%s)\n", jstr(m, "name"), jstr(m, "kernel_name"));
		print_flags("live flags", jget(m, "flags"));
	}
}

/* The agent's record (/run/volkey/status.json), or NULL when volkeyd has not run
 * (or left something else there). */
static struct json_object *agent_status(const struct volkey_config *cfg)
{
	_cleanup_free_ char *text = NULL;

	if (read_small_file(NULL, cfg->policy.status_file, 1 << 20, &text) < 0)
		return NULL;
	return agent_record_parse(text);
}

static int run(int argc, char **argv)
{
	enum { O_JSON = 'j', O_PROM = 1000 };
	static const struct option opts[] = {
		{ "json", no_argument, NULL, O_JSON },
		{ "prometheus", no_argument, NULL, O_PROM },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct json_object *vols = NULL, *agent, *doc;
	struct volkey_config cfg;
	bool json = false, prom = false;
	int c, r = 0, line = 0;

	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) >= 0) {
		switch (c) {
		case O_JSON:
			json = true;
			break;
		case O_PROM:
			prom = true;
			break;
		case 'h':
			verb_print_help(&verb_status);
			return 0;
		default:
			return -EINVAL;
		}
	}
	if (json && prom)
		return log_error_errno(-EINVAL, "status: --json and --prometheus exclude each other");
	if (argc - optind > 1)
		return log_error_errno(-EINVAL, "status: give at most one DEVICE");
	r = config_load(arg_config, &cfg, &line);
	if (r < 0)
		return line > 0 ? log_error_errno(r, "%s: line %d: syntax or value error", cfg.path, line) :
				  log_error_errno(r, "cannot read the configuration %s: %s", cfg.path, strerror(-r));
	if (argc - optind == 1) {
		struct errbuf e = { { 0 } };
		struct json_object *o = NULL;

		r = volume_status_json(argv[optind], &o, &e);
		if (r < 0)
			return log_error_errno(r, "%s", e.msg);
		vols = json_object_new_array();
		json_object_array_add(vols, o);
	} else {
		r = status_volumes_all(&vols);
		if (r < 0 && !vols)
			return log_error_errno(r, "status: cannot list block devices: %s", strerror(-r));
	}
	agent = agent_status(&cfg);
	doc = status_doc_new(vols, agent, &cfg);
	if (json)
		printf("%s\n", json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	else if (prom) {
		int w = status_prom_write(doc, stdout);
		if (w < 0 && r >= 0)
			r = log_error_errno(w, "status: cannot write the metrics: %s", strerror(-w));
	} else {
		struct json_object *a = NULL;
		json_object_object_get_ex(doc, "volumes", &a);
		if (!json_object_array_length(a))
			printf("No volkey volumes found.\n");
		for (size_t i = 0; i < json_object_array_length(a); i++)
			print_text(json_object_array_get_idx(a, i));
		if (argc - optind == 0)
			agent_record_print(agent, stdout);
	}
	json_object_put(agent);
	json_object_put(doc);
	return r;
}

const struct verb verb_status = {
	.name = "status",
	.args = "[DEVICE] [--json | --prometheus]",
	.summary = "show a volume's tokens, keys, keyslots, mappings and flags (all volkey volumes without DEVICE)",
	.run = run,
	.help = "  -j, --json     the status document (docs/status-schema.json)\n"
		"      --prometheus  the same as metrics in Prometheus' text format (docs/fleet.md)\n",
};
