// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "base/log.h"
#include "base/secret.h"
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

/* volkey's recovery phrases are 71 characters; a passphrase of another tool's making may be longer. */
#define RECOVERY_PHRASE_MAX 512

/* The recovery passphrase from standard input (no echo on a terminal), into
 * secret memory; trailing newline dropped. */
int verb_read_phrase(const char *verb, char **ret, size_t *ret_len)
{
	_cleanup_secret_ char *buf = secret_alloc(RECOVERY_PHRASE_MAX + 2);
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO), quieted = false;
	size_t n = 0;
	char ch = 0;

	if (!buf)
		return log_error_errno(-ENOMEM, "cannot allocate secret memory");
	if (tty) {
		fputs("Recovery passphrase: ", stderr);
		fflush(stderr);
		if (tcgetattr(STDIN_FILENO, &old) == 0) {
			quiet = old;
			quiet.c_lflag &= ~(tcflag_t)ECHO;
			quieted = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
		}
	}
	/* read(2) a byte at a time, not stdio: its buffer is ordinary heap. */
	while (n <= RECOVERY_PHRASE_MAX) {
		ssize_t k = read(STDIN_FILENO, &ch, 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0 || ch == '\n')
			break;
		buf[n++] = ch;
	}
	explicit_bzero(&ch, sizeof(ch));
	if (quieted)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	if (tty)
		fputc('\n', stderr);
	if (n > RECOVERY_PHRASE_MAX)
		return log_error_errno(-E2BIG, "%s: the recovery passphrase on stdin is longer than %d bytes",
				       verb, RECOVERY_PHRASE_MAX);
	if (n == 0)
		return log_error_errno(-EINVAL, "%s: --recovery-phrase-stdin: no passphrase on stdin", verb);
	*ret = TAKE_PTR(buf);
	*ret_len = n;
	return 0;
}

void verb_print_progress(const struct rotate_progress *p, bool tty)
{
	double frac = p->size ? (double)p->offset / (double)p->size : 0;

	if (tty) {
		char bar[31];
		int fill = (int)(frac * 30);
		for (int i = 0; i < 30; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[30] = '\0';
		if (p->eta_s >= 0)
			fprintf(stderr, "\r[%s] %5.1f%%  %7.1f MiB/s  %02d:%02d:%02d left ", bar, frac * 100,
				p->rate / 1048576.0, (int)p->eta_s / 3600, (int)p->eta_s / 60 % 60, (int)p->eta_s % 60);
		else
			fprintf(stderr, "\r[%s] %5.1f%%  %7.1f MiB/s  --:--:-- left ", bar, frac * 100,
				p->rate / 1048576.0);
		if (p->done)
			fputc('\n', stderr);
	} else {
		printf("{\"progress\":%.4f,\"offset\":%llu,\"size\":%llu,\"rate_bytes_per_s\":%.0f,\"eta_s\":%.0f}\n",
		       frac, (unsigned long long)p->offset, (unsigned long long)p->size, p->rate,
		       p->eta_s >= 0 ? p->eta_s : -1);
	}
	fflush(p->done || !tty ? stdout : stderr);
}
