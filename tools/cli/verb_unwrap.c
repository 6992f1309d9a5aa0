// SPDX-License-Identifier: GPL-2.0-or-later
/* volkey unwrap DEVICE: the keyslot secret of a volkey volume onto a pipe, for
 * a crypttab keyscript in the initramfs (docs/root.md). It waits a bounded
 * time for the network and the key service, with a console line every few
 * seconds, then does what [initramfs] fallback says: ask for the recovery
 * passphrase (through an askpass program), fail, or go on waiting. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/exitcode.h"
#include "base/macro.h"
#include "base/fileio.h"
#include "base/log.h"
#include "base/secret.h"
#include "base/spawn.h"
#include "base/timeutil.h"
#include "cli/verb_util.h"
#include "cli/verbs.h"
#include "volume/volume.h"

#define RECOVERY_MAX 1024

struct unwrap_opts {
	long wait_s, interval_s;
	char fallback[16];
	const char *askpass;
};

/* volkey.wait=N, volkey.interval=N, volkey.fallback=X on the kernel command line
 * override the config file: the console operator's way to change them for one boot. */
static void apply_cmdline(struct unwrap_opts *o, const char *cmdline)
{
	char buf[4096], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", cmdline);
	for (char *w = strtok_r(buf, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
		char *end;
		long x;
		if (!strncmp(w, "volkey.fallback=", 16)) {
			if (config_fallback_valid(w + 16))
				snprintf(o->fallback, sizeof(o->fallback), "%s", w + 16);
			else
				log_warning("kernel command line: ignoring %s (passphrase, fail or retry)", w);
		} else if (!strncmp(w, "volkey.wait=", 12) || !strncmp(w, "volkey.interval=", 16)) {
			bool wait = w[7] == 'w';
			const char *v = strchr(w, '=') + 1;
			errno = 0;
			x = strtol(v, &end, 10);
			if (errno || end == v || *end || x < (wait ? 0 : 1) || x > 86400)
				log_warning("kernel command line: ignoring %s", w);
			else if (wait)
				o->wait_s = x;
			else
				o->interval_s = x;
		}
	}
}

/* The whole of buf into fd (a pipe). */
static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return negative_errno();
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int ask_recovery(const char *device, const char *askpass, const char *why)
{
	_cleanup_secret_ char *phrase = secret_alloc(RECOVERY_MAX);
	char prompt[512];
	size_t len = 0;
	int r;

	if (!phrase)
		return -ENOMEM;
	if (!askpass || access(askpass, X_OK) < 0)
		return log_error_errno(-ENOENT, "%s: %s, and no askpass program to ask for the recovery passphrase",
				       device, why);
	snprintf(prompt, sizeof(prompt), "volkey: %s: %s. Recovery passphrase: ", device, why);
	r = spawn_read((char *const[]){ (char *)askpass, prompt, NULL }, phrase, RECOVERY_MAX, &len);
	if (r == -E2BIG)
		return log_error_errno(r, "%s: the recovery passphrase is longer than %d bytes", device, RECOVERY_MAX);
	if (r != 0)
		return log_error_errno(r < 0 ? r : -ECANCELED, "%s: %s failed (%s)", device, askpass,
				       r < 0 ? strerror(-r) : "no passphrase");
	/* systemd-ask-password ends the phrase with a newline; volkey's phrases have none. */
	if (len > 0 && phrase[len - 1] == '\n')
		len--;
	if (len == 0)
		return log_error_errno(-ENOKEY, "%s: empty recovery passphrase", device);
	return write_all(STDOUT_FILENO, phrase, len);
}

static int run_unwrap(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "wait", required_argument, NULL, 'w' },
		{ "interval", required_argument, NULL, 'i' },
		{ "fallback", required_argument, NULL, 'f' },
		{ "askpass", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct volkey_config cfg;
	struct unwrap_opts o = { 0 };
	struct unwrap_opts given = { .wait_s = -1, .interval_s = -1 };
	_cleanup_free_ char *cmdline = NULL;
	struct stat st;
	const char *device;
	double t0;
	long last = -1;
	unsigned x;
	int c, r;

	while ((c = getopt_long(argc, argv, "w:i:f:a:h", opts, NULL)) >= 0) {
		switch (c) {
		case 'w':
		case 'i':
			if (parse_uint(optarg, 86400, &x) < 0 || (c == 'i' && x == 0))
				return log_error_errno(-EINVAL, "unwrap: --%s wants seconds, not '%s'",
						       c == 'w' ? "wait" : "interval", optarg);
			*(c == 'w' ? &given.wait_s : &given.interval_s) = x;
			break;
		case 'f':
			if (!config_fallback_valid(optarg))
				return log_error_errno(-EINVAL, "unwrap: --fallback is passphrase, fail or retry, not '%s'",
						       optarg);
			snprintf(given.fallback, sizeof(given.fallback), "%s", optarg);
			break;
		case 'a':
			given.askpass = optarg;
			break;
		case 'h':
			verb_print_help(&verb_unwrap);
			return 0;
		default:
			return -EINVAL;
		}
	}
	if (argc - optind != 1)
		return log_error_errno(-EINVAL, "unwrap: give exactly one DEVICE");
	device = argv[optind];
	r = verb_load_config(&cfg);
	if (r < 0)
		return r;
	/* The secret goes into a pipe (cryptsetup --key-file=- behind a keyscript),
	 * never onto a terminal, into a file or a log. */
	if (fstat(STDOUT_FILENO, &st) < 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
		return log_error_errno(-EINVAL, "unwrap: %s: standard output is not a pipe; the secret is written only "
				       "into a pipe (a crypttab keyscript)", device);
	o.wait_s = cfg.initramfs_wait_s;
	o.interval_s = cfg.initramfs_interval_s;
	snprintf(o.fallback, sizeof(o.fallback), "%s", cfg.initramfs_fallback);
	if (read_small_file(NULL, getenv("VOLKEY_CMDLINE") ?: "/proc/cmdline", 4096, &cmdline) >= 0)
		apply_cmdline(&o, cmdline);
	if (given.wait_s >= 0)
		o.wait_s = given.wait_s;
	if (given.interval_s > 0)
		o.interval_s = given.interval_s;
	if (given.fallback[0])
		snprintf(o.fallback, sizeof(o.fallback), "%s", given.fallback);
	o.askpass = given.askpass;

	t0 = monotonic_ms();
	for (unsigned attempt = 0;; attempt++) {
		struct unlock_result u = { .token = -1 };
		struct errbuf e = { { 0 } };
		struct volume v;
		long waited;

		r = volume_load(device, &v, &e);
		if (r >= 0) {
			r = volume_unlock(&v, &cfg, -1, &u, &e);
			if (r >= 0) {
				const struct token_entry *t = volume_token(&v, u.token);
				r = write_all(STDOUT_FILENO, u.secret, u.len);
				if (r >= 0)
					log_info("%s: unlocked through token %d (%s)%s", device, u.token,
						 t ? t->t.key_uri : "?", attempt ? " after waiting" : "");
			}
			unlock_result_clear(&u);
			volume_done(&v);
			if (r >= 0)
				return 0;
		}
		waited = (long)((monotonic_ms() - t0) / 1000);
		if (!errno_transient(r)) {
			/* A refusal: waiting changes nothing. One line, then the fallback. */
			if (e.msg[0])
				log_error("%s", e.msg); /* names the device, the token and the key */
			else
				log_error("%s: cannot unlock: %s", device, strerror(-r));
			if (!strcmp(o.fallback, "passphrase"))
				return ask_recovery(device, o.askpass, "the key was refused");
			return r;
		}
		if (strcmp(o.fallback, "retry") && waited >= o.wait_s) {
			log_error("%s: key service unreachable for %ld s: %s", device, waited,
				  e.msg[0] ? e.msg : strerror(-r));
			if (!strcmp(o.fallback, "passphrase"))
				return ask_recovery(device, o.askpass, "the key service is unreachable");
			return r;
		}
		if (last < 0 || waited - last >= o.interval_s) {
			if (strcmp(o.fallback, "retry"))
				log_notice("%s: waiting for the key service (%ld s of %ld, then %s): %s", device, waited,
					   o.wait_s, o.fallback, e.msg[0] ? e.msg : strerror(-r));
			else
				log_notice("%s: waiting for the key service (%ld s): %s", device, waited,
					   e.msg[0] ? e.msg : strerror(-r));
			last = waited;
		}
		/* 1 s between attempts: each failure here is a connection refused or a
		 * timeout that already took its own time. */
		sleep(1);
	}
}

const struct verb verb_unwrap = {
	.name = "unwrap",
	.args = "DEVICE [--wait S] [--interval S] [--fallback passphrase|fail|retry] [--askpass PROGRAM]",
	.summary = "write a volume's keyslot secret into a pipe (crypttab keyscript in the initramfs)",
	.run = run_unwrap,
	.help = "  -w, --wait S       wait up to S seconds for the network and key service ([initramfs] wait, 60)\n"
		"  -i, --interval S   a console line every S seconds while waiting ([initramfs] interval, 5)\n"
		"  -f, --fallback F   then: passphrase (ask through --askpass), fail, or retry (wait forever)\n"
		"  -a, --askpass P    program that asks for the recovery passphrase and prints it\n"
		"Standard output must be a pipe. volkey.wait=, volkey.interval= and volkey.fallback= on the\n"
		"kernel command line override the config file; options override both.\n",
};
