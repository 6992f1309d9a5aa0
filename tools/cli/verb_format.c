// SPDX-License-Identifier: GPL-2.0-or-later
/* volkey format DEVICE --key URI [--key URI]... [--context K=V]... [--sector-size N] [--force] [--yes] [--image] */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "cli/verb_util.h"
#include "cli/verbs.h"
#include "volume/volume.h"

static int run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "context", required_argument, NULL, 'C' },
		{ "sector-size", required_argument, NULL, 's' },
		{ "force", no_argument, NULL, 'f' },
		{ "yes", no_argument, NULL, 'y' },
		{ "image", no_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct format_opts o = { 0 };
	struct volkey_config cfg;
	struct errbuf e = { { 0 } };
	char uuid[40], what[320];
	bool yes = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "k:C:s:fyIh", opts, NULL)) >= 0) {
		switch (c) {
		case 'k':
			if (o.nkeys == VOLKEY_MAX_KEYS)
				return log_error_errno(-E2BIG, "format: at most %d --key options", VOLKEY_MAX_KEYS);
			o.keys[o.nkeys++] = optarg;
			break;
		case 'C':
			if (o.ncontext == BINDING_MAX_PAIRS - 1)
				return log_error_errno(-E2BIG, "format: too many --context pairs");
			o.context[o.ncontext++] = optarg;
			break;
		case 's':
			if (parse_uint(optarg, 65536, &o.sector_size) < 0)
				return log_error_errno(-EINVAL, "format: --sector-size %s is not a number", optarg);
			break;
		case 'f':
			o.force = true;
			break;
		case 'y':
			yes = true;
			break;
		case 'I':
			o.image = true;
			break;
		case 'h':
			verb_print_help(&verb_format);
			return 0;
		default:
			return -EINVAL;
		}
	}
	if (optind + 1 != argc)
		return log_error_errno(-EINVAL, "format: give exactly one DEVICE");
	if (o.nkeys == 0)
		return log_error_errno(-EINVAL, "format: give at least one --key URI");
	o.device = argv[optind];
	r = verb_load_config(&cfg);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "Format %s as a volkey volume? Anything on it will be lost.", o.device);
	if (!verb_confirm(yes, what))
		return -EINVAL;
	r = volume_format(&o, &cfg, uuid, sizeof(uuid), &e);
	if (r < 0)
		return verb_fail(r, &e, "format");
	log_info("%s: formatted, LUKS UUID %s, %d key%s%s", o.device, uuid, o.nkeys, o.nkeys > 1 ? "s" : "",
		 o.image ? "; marked as an image template (volkey rekey)" : "");
	printf("%s\n", uuid);
	return 0;
}

const struct verb verb_format = {
	.name = "format",
	.args = "DEVICE --key URI [--key URI]... [--context K=V]... [--sector-size N] [--force] [--yes] [--image]",
	.summary = "create a volkey volume (LUKS2) whose secrets are wrapped by the given keys",
	.run = run,
	.help = "  -k, --key URI          key that wraps a secret for this volume (aws-kms:, pkcs11:, file:);\n"
		"                         repeat for more ways in (another region, the HSM)\n"
		"  -C, --context K=V      extra binding pair (KMS EncryptionContext), repeatable\n"
		"  -s, --sector-size N    encryption sector size: 512, 1024, 2048 or 4096 (default 4096)\n"
		"  -f, --force            format even over a signature, data, or a regular file\n"
		"                         (never a mounted or held device)\n"
		"  -y, --yes              do not ask (required when stdin is not a terminal)\n"
		"  --image                a template for a machine image: marked so that each copy gives\n"
		"                         itself its own key, secrets and UUID at first boot (volkey rekey)\n"
		"Prints the new LUKS UUID. A format interrupted part-way is redone without --force.\n",
};
