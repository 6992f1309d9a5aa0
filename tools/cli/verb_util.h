/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small helpers the verbs share: config loading with a one-line error, the
 * destructive-action confirmation, reporting an errbuf. */
#pragma once

#include <stdbool.h>
#include "base/errbuf.h"
#include "conf/config.h"
#include "volume/rotate.h"

/* Loads arg_config (or the default) into cfg; logs and returns -errno on failure. */
int verb_load_config(struct volkey_config *cfg);
/* --yes given: true. A terminal: asks to type "yes". Otherwise: false (never prompts). */
bool verb_confirm(bool yes, const char *what);
/* Logs e's message (or a fallback naming the action) and returns r. */
int verb_fail(int r, const struct errbuf *e, const char *action);
/* Parses a non-negative decimal int; -EINVAL otherwise. */
int parse_uint(const char *s, unsigned max, unsigned *ret);
/* For outcomes that are not an errno (rotate --all): main() exits with code. Returns -ECANCELED. */
int verb_exit_code(int code);
/* The code set by verb_exit_code(), or -1. */
extern int verb_exit_override;
/* --recovery-phrase-stdin: the passphrase from standard input (no echo on a
 * terminal; read a byte at a time, never through stdio's heap buffer) into
 * secret memory, trailing newline dropped. verb names the verb in errors. */
int verb_read_phrase(const char *verb, char **ret, size_t *ret_len);
/* A re-encryption's progress: a bar on a terminal (stderr), else one JSON line on stdout. */
void verb_print_progress(const struct rotate_progress *p, bool tty);
