/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small helpers the verbs share: config loading with a one-line error, the
 * destructive-action confirmation, reporting an errbuf. */
#pragma once

#include <stdbool.h>
#include "base/errbuf.h"
#include "conf/config.h"

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
