// SPDX-License-Identifier: GPL-2.0-or-later
/* volkey: customer-keyed disk encryption for EC2. Command-line entry point. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cslock.h"
#include "base/dlib.h"
#include "base/exitcode.h"
#include "base/log.h"
#include "base/memhooks.h"
#include "cli/verb_util.h"
#include "cli/verbs.h"
#include "keys/aws_creds.h"
#include "volume/volume.h"

#ifndef VOLKEY_VERSION
#error "VOLKEY_VERSION comes from the Makefile"
#endif

static const struct verb *const verbs[] = {
	&verb_format,
	&verb_open,
	&verb_unwrap,
	&verb_close,
	&verb_bind,
	&verb_unbind,
	&verb_recovery_key,
	&verb_status,
	&verb_backup_header,
	&verb_rotate,
	&verb_rekey,
	&verb_bench,
	&verb_nvme_id,
	&verb_doctor,
};

static void print_help(void)
{
	const struct exit_code_info *e;

	printf("Usage: volkey [--debug] [--config FILE] VERB [OPTIONS] [ARGS]\n"
	       "Customer-keyed disk encryption for EC2 (LUKS2 + dm-crypt, keys in AWS KMS or CloudHSM).\n\n"
	       "Verbs:\n");
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
		printf("  %-14s %s\n", verbs[i]->name, verbs[i]->summary);
	printf("\nGlobal options:\n"
	       "  -c, --config FILE  configuration (default $VOLKEY_CONFIG or /etc/volkey/volkey.conf)\n"
	       "  -d, --debug    log debug messages (also VOLKEY_LOG_LEVEL=debug)\n"
	       "  -h, --help     show this help; `volkey VERB --help` for one verb\n"
	       "  -V, --version  show the version\n"
	       "\nExit codes:\n");
	for (e = exit_code_table(); e->name; e++)
		printf("  %2d  %s\n", e->code, e->meaning);
}

static const struct verb *find_verb(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
		if (strcmp(verbs[i]->name, name) == 0)
			return verbs[i];
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "debug", no_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{}
	};
	const struct verb *v;
	int c, r;

	memhooks_setup();   /* before any curl or OpenSSL allocation */
	dl_curl_setup();    /* before any thread */
	aws_env_capture();  /* AWS secrets leave the environment at once */
	log_setup("volkey");
	volume_log_setup();
	/* volkey reads its own tokens; no token plugin (ours or another's) runs in this process. */
	{
		CS_LOCKED;
		crypt_token_external_disable();
	}
	/* '+': stop at the verb, whose own options follow it. */
	while ((c = getopt_long(argc, argv, "+c:dhV", opts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			arg_config = optarg;
			break;
		case 'd':
			log_set_max_level(LOG_DEBUG);
			break;
		case 'h':
			print_help();
			return EXIT_OK;
		case 'V':
			printf("volkey %s\n", VOLKEY_VERSION);
			return EXIT_OK;
		default:
			fprintf(stderr, "Try 'volkey --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		log_error("No verb given. Try 'volkey --help'.");
		return EXIT_USAGE;
	}
	v = find_verb(argv[optind]);
	if (!v) {
		log_error("Unknown verb '%s'. Try 'volkey --help'.", argv[optind]);
		return EXIT_USAGE;
	}
	{
		int first = optind;
		optind = 0; /* reset getopt for the verb's own parsing */
		r = v->run(argc - first, argv + first);
	}
	/* Unlock threads racing for a volume that another token already opened may still
	 * wait on a slow key service: give them a moment, then leave without running
	 * OpenSSL's and libcurl's exit handlers under them. */
	if (!volume_unlock_drain(200)) {
		fflush(stdout);
		fflush(stderr);
		_exit(verb_exit_override >= 0 ? verb_exit_override : exit_code_from_errno(r));
	}
	return verb_exit_override >= 0 ? verb_exit_override : exit_code_from_errno(r);
}
