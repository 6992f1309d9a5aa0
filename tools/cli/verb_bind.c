// SPDX-License-Identifier: GPL-2.0-or-later
/* volkey bind DEVICE --key URI; volkey unbind DEVICE --token N */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "cli/verb_util.h"
#include "cli/verbs.h"
#include "volume/volume.h"

static int run_bind(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct volkey_config cfg;
	struct errbuf e = { { 0 } };
	const char *key = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "k:h", opts, NULL)) >= 0) {
		switch (c) {
		case 'k':
			if (key)
				return log_error_errno(-EINVAL, "bind: one --key at a time");
			key = optarg;
			break;
		case 'h':
			verb_print_help(&verb_bind);
			return 0;
		default:
			return -EINVAL;
		}
	}
	if (optind + 1 != argc || !key)
		return log_error_errno(-EINVAL, "bind: give DEVICE and --key URI");
	r = verb_load_config(&cfg);
	if (r < 0)
		return r;
	r = volume_bind(argv[optind], key, &cfg, &e);
	if (r < 0)
		return verb_fail(r, &e, "bind");
	log_info("%s: bound %s as token %d", argv[optind], key, r);
	printf("%d\n", r);
	return 0;
}

static int run_unbind(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "token", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct volkey_config cfg;
	struct errbuf e = { { 0 } };
	unsigned token = 0;
	bool have = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "t:h", opts, NULL)) >= 0) {
		switch (c) {
		case 't':
			if (parse_uint(optarg, 31, &token) < 0)
				return log_error_errno(-EINVAL, "unbind: --token %s is not a token number (0-31)", optarg);
			have = true;
			break;
		case 'h':
			verb_print_help(&verb_unbind);
			return 0;
		default:
			return -EINVAL;
		}
	}
	if (optind + 1 != argc || !have)
		return log_error_errno(-EINVAL, "unbind: give DEVICE and --token N");
	r = verb_load_config(&cfg);
	if (r < 0)
		return r;
	r = volume_unbind(argv[optind], (int)token, &cfg, &e);
	if (r < 0)
		return verb_fail(r, &e, "unbind");
	log_info("%s: removed token %u and its keyslot", argv[optind], token);
	return 0;
}

const struct verb verb_bind = {
	.name = "bind",
	.args = "DEVICE --key URI",
	.summary = "add a way in: a new secret wrapped by another key (second region, the HSM)",
	.run = run_bind,
	.help = "  -k, --key URI    the key to add (aws-kms:, pkcs11:, file:)\n"
		"Unlocks through an existing token first. Prints the new token's number.\n",
};

const struct verb verb_unbind = {
	.name = "unbind",
	.args = "DEVICE --token N",
	.summary = "remove a token and its keyslot (never the last way in)",
	.run = run_unbind,
	.help = "  -t, --token N    the token to remove (see volkey status)\n"
		"Refused unless another volkey token unlocks now or a recovery key remains (a keyslot no token\n"
		"owns does not count: volkey cannot tell a passphrase from an orphan).\n",
};
