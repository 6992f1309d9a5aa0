// SPDX-License-Identifier: GPL-2.0-or-later
/* volkey open DEVICE [NAME] [--test] [--readonly]; volkey close NAME */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/cslock.h"
#include "base/log.h"
#include "cli/verb_util.h"
#include "cli/verbs.h"
#include "volume/volume.h"

static int run_open(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "test", no_argument, NULL, 't' },
		{ "readonly", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct unlock_result u = { .token = -1 };
	struct volkey_config cfg;
	struct errbuf e = { { 0 } };
	struct volume v;
	const char *device, *name = NULL;
	char defname[64];
	bool test = false;
	uint32_t flags = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, "trh", opts, NULL)) >= 0) {
		switch (c) {
		case 't':
			test = true;
			break;
		case 'r':
			flags |= CRYPT_ACTIVATE_READONLY;
			break;
		case 'h':
			verb_print_help(&verb_open);
			return 0;
		default:
			return -EINVAL;
		}
	}
	if (optind >= argc || argc - optind > 2)
		return log_error_errno(-EINVAL, "open: give DEVICE and optionally NAME");
	device = argv[optind];
	if (argc - optind == 2) {
		name = argv[optind + 1];
		if (!*name || strchr(name, '/') || strlen(name) > 120)
			return log_error_errno(-EINVAL, "open: '%s' is not a valid mapping name", name);
	}
	r = verb_load_config(&cfg);
	if (r < 0)
		return r;
	r = volume_load(device, &v, &e);
	if (r < 0)
		return verb_fail(r, &e, "open");
	if (!test && !name) {
		snprintf(defname, sizeof(defname), "volkey-%s", v.uuid);
		name = defname;
	}
	r = volume_open(&v, &cfg, test ? NULL : name, flags, &u, &e);
	if (r >= 0) {
		const struct token_entry *t = volume_token(&v, u.token);
		if (test)
			printf("%s: unlocks through token %d (%s)\n", device, u.token, t ? t->t.key_uri : "?");
		else {
			log_info("%s: opened as /dev/mapper/%s through token %d", device, name, u.token);
			printf("/dev/mapper/%s\n", name);
		}
	}
	unlock_result_clear(&u);
	volume_done(&v);
	return r < 0 ? verb_fail(r, &e, "open") : 0;
}

/* Whatever open accepts, close accepts: a LUKS2 header with a volkey token. */
static bool has_volkey_token(struct crypt_device *cd)
{
	CS_LOCKED;
	for (int id = 0; id < VOLKEY_MAX_TOKENS; id++) {
		const char *type = NULL;
		crypt_token_info ti = crypt_token_status(cd, id, &type);
		if (ti != CRYPT_TOKEN_INACTIVE && ti != CRYPT_TOKEN_INVALID && streq_ptr(type, VOLKEY_TOKEN_TYPE))
			return true;
	}
	return false;
}

static int run_close(int argc, char **argv)
{
	CS_LOCKED;
	struct crypt_device *cd = NULL;
	const char *name, *sub;
	int r;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		verb_print_help(&verb_close);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-')
		return log_error_errno(-EINVAL, "close: give exactly one mapping NAME");
	name = argv[1];
	if (strchr(name, '/'))
		return log_error_errno(-EINVAL, "close: '%s' is a path; give the mapping name", name);
	r = crypt_init_by_name(&cd, name);
	if (r < 0)
		return log_error_errno(r == -ENODEV || r == -ENOENT ? -ENODEV : r, "close: no active mapping %s: %s",
				       name, strerror(-r));
	sub = crypt_get_subsystem(cd);
	if (!streq_ptr(crypt_get_type(cd), CRYPT_LUKS2) || (!streq_ptr(sub, VOLKEY_SUBSYSTEM) && !has_volkey_token(cd))) {
		crypt_free(cd);
		return log_error_errno(-EINVAL, "close: %s is not a volkey mapping", name);
	}
	r = crypt_deactivate(cd, name);
	crypt_free(cd);
	if (r < 0)
		return log_error_errno(r, "close: cannot close %s: %s", name,
				       r == -EBUSY ? "in use (mounted or held open)" : strerror(-r));
	log_info("closed %s", name);
	return 0;
}

const struct verb verb_open = {
	.name = "open",
	.args = "DEVICE [NAME] [--test] [--readonly]",
	.summary = "unlock a volkey volume through its tokens and map it (default NAME volkey-UUID)",
	.run = run_open,
	.help = "  -t, --test       only check that a token unlocks it (no mapping; works without device-mapper)\n"
		"  -r, --readonly   map read-only\n"
		"All tokens are tried at once; the first whose secret opens its keyslot wins.\n"
		"Prints /dev/mapper/NAME. Activation flags stored in the header apply.\n",
};

const struct verb verb_close = {
	.name = "close",
	.args = "NAME",
	.summary = "remove the mapping of an open volkey volume",
	.run = run_close,
	.help = "",
};
