// SPDX-License-Identifier: GPL-2.0-or-later
/* volkey recovery-key DEVICE: add a recovery passphrase, shown once on stdout. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "cli/verb_util.h"
#include "cli/verbs.h"
#include "volume/volume.h"

static int write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -EIO;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Straight from secret memory to the descriptor: no stdio buffer keeps a copy. */
static int deliver(const char *phrase, void *userdata)
{
	int r;

	(void)userdata;
	r = write_all(STDOUT_FILENO, phrase, strlen(phrase));
	if (r >= 0)
		r = write_all(STDOUT_FILENO, "\n", 1);
	if (r >= 0 && fsync(STDOUT_FILENO) < 0 && errno != EINVAL && errno != EROFS && errno != EBADF)
		r = negative_errno();
	return r;
}

static int run(int argc, char **argv)
{
	struct volkey_config cfg;
	struct errbuf e = { { 0 } };
	int r;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		verb_print_help(&verb_recovery_key);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-')
		return log_error_errno(-EINVAL, "recovery-key: give exactly one DEVICE");
	r = verb_load_config(&cfg);
	if (r < 0)
		return r;
	r = volume_add_recovery(argv[1], &cfg, deliver, NULL, &e);
	if (r < 0)
		return verb_fail(r, &e, "recovery-key");
	fprintf(stderr,
		"Recovery passphrase for %s (keyslot %d) printed above, shown only this once. Keep it offline.\n"
		"It opens the volume with: cryptsetup open %s NAME\n",
		argv[1], r, argv[1]);
	return 0;
}

const struct verb verb_recovery_key = {
	.name = "recovery-key",
	.args = "DEVICE",
	.summary = "add a recovery passphrase keyslot (printed once; works with plain cryptsetup)",
	.run = run,
	.help = "The passphrase is 64 letters (256 random bits) in groups of eight.\n",
};
