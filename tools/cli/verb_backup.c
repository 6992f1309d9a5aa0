// SPDX-License-Identifier: GPL-2.0-or-later
/* volkey backup-header DEVICE FILE */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/cslock.h"
#include "base/log.h"
#include "cli/verbs.h"
#include "volume/volume.h"

static int run(int argc, char **argv)
{
	CS_LOCKED;
	struct errbuf e = { { 0 } };
	struct volume v;
	struct stat st;
	mode_t old;
	int r;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		verb_print_help(&verb_backup_header);
		return 0;
	}
	if (argc != 3)
		return log_error_errno(-EINVAL, "backup-header: give DEVICE and FILE");
	if (lstat(argv[2], &st) == 0)
		return log_error_errno(-EEXIST, "backup-header: %s already exists; not overwriting it", argv[2]);
	r = volume_load(argv[1], &v, &e);
	if (r < 0)
		return log_error_errno(r, "%s", e.msg);
	old = umask(077);
	r = crypt_header_backup(v.cd, CRYPT_LUKS2, argv[2]);
	umask(old);
	volume_done(&v);
	if (r < 0)
		return log_error_errno(r, "backup-header: %s: cannot write %s: %s", argv[1], argv[2], strerror(-r));
	if (chmod(argv[2], 0600) < 0)
		return log_error_errno(negative_errno(), "backup-header: cannot restrict %s to mode 0600: %m", argv[2]);
	log_info("%s: header saved to %s", argv[1], argv[2]);
	return 0;
}

const struct verb verb_backup_header = {
	.name = "backup-header",
	.args = "DEVICE FILE",
	.summary = "save the LUKS2 header (keyslots and tokens) to a new file, mode 0600",
	.run = run,
	.help = "Restore with: cryptsetup luksHeaderRestore DEVICE --header-backup-file FILE\n"
		"The file holds wrapped secrets and keyslots: with a recovery passphrase it opens the volume.\n",
};
