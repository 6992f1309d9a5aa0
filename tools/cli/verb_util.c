// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "cli/verb_util.h"
#include "cli/verbs.h"

const char *arg_config;

void verb_print_help(const struct verb *v)
{
	printf("Usage: volkey %s %s\n\n%s\n", v->name, v->args, v->summary);
	if (v->help && *v->help)
		printf("\n%s", v->help);
}

int verb_load_config(struct volkey_config *cfg)
{
	int line = 0, r;

	r = config_load(arg_config, cfg, &line);
	if (r == -EINVAL && line > 0)
		return log_error_errno(r, "Cannot read config %s: syntax or value error on line %d",
				       arg_config ? arg_config : cfg->path, line);
	if (r < 0)
		return log_error_errno(r, "Cannot read config %s: %s", cfg->path[0] ? cfg->path : "(default)",
				       strerror(-r));
	return 0;
}

bool verb_confirm(bool yes, const char *what)
{
	char buf[16];

	if (yes)
		return true;
	if (!isatty(STDIN_FILENO)) {
		log_error("%s: not confirmed; pass --yes (stdin is not a terminal, volkey does not prompt)", what);
		return false;
	}
	fprintf(stderr, "%s\nType 'yes' to continue: ", what);
	fflush(stderr);
	if (!fgets(buf, sizeof(buf), stdin) || strcmp(buf, "yes\n") != 0) {
		log_error("Not confirmed.");
		return false;
	}
	return true;
}

int verb_fail(int r, const struct errbuf *e, const char *action)
{
	if (e && e->msg[0])
		return log_error_errno(r, "%s", e->msg);
	return log_error_errno(r, "%s failed: %m", action);
}

int parse_uint(const char *s, unsigned max, unsigned *ret)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

int verb_exit_override = -1;

int verb_exit_code(int code)
{
	verb_exit_override = code;
	return -ECANCELED;
}
