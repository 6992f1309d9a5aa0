/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The volkey verb table: one entry per verb, one verb per file. */
#pragma once

struct verb {
	const char *name;
	const char *args;    /* usage synopsis after the verb name */
	const char *summary; /* one line for `volkey --help` */
	/* argv[0] is the verb name. Returns 0 or -errno; the verb has already
	 * logged the cause, main() only maps it to an exit code. */
	int (*run)(int argc, char **argv);
	/* Lines printed by `volkey VERB --help` after the synopsis. */
	const char *help;
};

extern const struct verb verb_doctor;
extern const struct verb verb_nvme_id;
extern const struct verb verb_format;
extern const struct verb verb_open;
extern const struct verb verb_unwrap;
extern const struct verb verb_close;
extern const struct verb verb_bind;
extern const struct verb verb_unbind;
extern const struct verb verb_recovery_key;
extern const struct verb verb_status;
extern const struct verb verb_backup_header;
extern const struct verb verb_rotate;
extern const struct verb verb_rekey;
extern const struct verb verb_bench;

/* Defined in verb_util.c, below both volkey.c and the verbs, so that no verb
 * calls back into main's file. */
/* --config FILE (global option), or NULL for $VOLKEY_CONFIG / the default path. */
extern const char *arg_config;

/* Prints "Usage: volkey NAME ARGS" and the help text. */
void verb_print_help(const struct verb *v);
