// SPDX-License-Identifier: GPL-2.0-or-later
/* volkey status [DEVICE] [--json] */
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
	printf("  LUKS UUID        %s\n  state            %s\n  cipher           %s, %s-bit key, %s-byte sectors\n",
	       jstr(o, "luks_uuid"), jstr(o, "state"), jstr(o, "cipher"), jstr(o, "volume_key_bits"),
	       jstr(o, "sector_size"));
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
	if (jget(o, "agent"))
		printf("  volkeyd          %s: %s\n", strna(jstr(jget(o, "agent"), "state")),
		       strna(jstr(jget(o, "agent"), "detail")));
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
static struct json_object *agent_status(void)
{
	struct volkey_config cfg;
	_cleanup_free_ char *text = NULL;

	if (config_load(arg_config, &cfg, NULL) < 0 || read_small_file(NULL, cfg.policy.status_file, 1 << 20, &text) < 0)
		return NULL;
	return agent_record_parse(text);
}

/* Adds the agent's view of a volume to its status object. */
static void merge_agent(struct json_object *v, struct json_object *agent)
{
	struct json_object *d = agent_record_device(agent, jstr(v, "device"));

	if (d)
		json_object_object_add(v, "agent", json_object_get(d));
}

static int run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct json_object *all = NULL, *agent = NULL;
	bool json = false;
	char **list = NULL;
	int c, r = 0, n;

	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) >= 0) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			verb_print_help(&verb_status);
			return 0;
		default:
			return -EINVAL;
		}
	}
	if (argc - optind > 1)
		return log_error_errno(-EINVAL, "status: give at most one DEVICE");
	if (argc - optind == 1) {
		struct errbuf e = { { 0 } };
		r = volume_status_json(argv[optind], &all, &e);
		if (r < 0)
			return log_error_errno(r, "%s", e.msg);
		agent = agent_status();
		merge_agent(all, agent);
		json_object_put(agent);
		if (json)
			printf("%s\n", json_object_to_json_string_ext(all, JSON_C_TO_STRING_PRETTY |
									       JSON_C_TO_STRING_NOSLASHESCAPE));
		else
			print_text(all);
		json_object_put(all);
		return 0;
	}
	n = volume_find_all(&list);
	if (n < 0)
		return log_error_errno(n, "status: cannot list block devices: %m");
	all = json_object_new_array();
	agent = agent_status();
	for (int i = 0; i < n; i++) {
		struct errbuf e = { { 0 } };
		struct json_object *o = NULL;
		if (volume_status_json(list[i], &o, &e) < 0) {
			log_warning("%s", e.msg);
			r = -EIO;
		} else {
			merge_agent(o, agent);
			json_object_array_add(all, o);
		}
		free(list[i]);
	}
	free(list);
	if (json)
		printf("%s\n", json_object_to_json_string_ext(all, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	else if (!json_object_array_length(all))
		printf("No volkey volumes found.\n");
	else
		for (size_t i = 0; i < json_object_array_length(all); i++)
			print_text(json_object_array_get_idx(all, i));
	if (!json)
		agent_record_print(agent, stdout);
	json_object_put(agent);
	json_object_put(all);
	return r;
}

const struct verb verb_status = {
	.name = "status",
	.args = "[DEVICE] [--json]",
	.summary = "show a volume's tokens, keys, keyslots, mappings and flags (all volkey volumes without DEVICE)",
	.run = run,
	.help = "  -j, --json   machine-readable output (schema in docs/cli.md)\n",
};
