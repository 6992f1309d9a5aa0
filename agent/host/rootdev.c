// SPDX-License-Identifier: LGPL-2.1-or-later
/* The LUKS2 device the root filesystem is mounted from (rootdev.h). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/macro.h"
#include "host/rootdev.h"

/* Major:minor of the last mount of "/" (a later one hides the earlier). */
static int root_devnum(const char *mountinfo, unsigned *ret_major, unsigned *ret_minor, char *fstype, size_t fn)
{
	_cleanup_fclose_ FILE *f = fopen(mountinfo, "re");
	char line[4096];
	int found = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned id, parent, ma, mi;
		char root[1024], point[1024];
		const char *dash;
		char fs[64];

		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER */
		if (sscanf(line, "%u %u %u:%u %1023s %1023s", &id, &parent, &ma, &mi, root, point) != 6 ||
		    strcmp(point, "/") != 0)
			continue;
		dash = strstr(line, " - ");
		if (!dash || sscanf(dash + 3, "%63s", fs) != 1)
			snprintf(fs, sizeof(fs), "?");
		*ret_major = ma;
		*ret_minor = mi;
		snprintf(fstype, fn, "%s", fs);
		found = 1;
	}
	return found ? 0 : -ENOENT;
}

/* The one entry of DIR/slaves, or -ENOTUNIQ / -ENOENT. */
static int only_slave(const char *dir, char *ret, size_t n)
{
	char path[512];
	struct dirent *de;
	int count = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/slaves", dir);
	d = opendir(path);
	if (!d)
		return -ENOENT;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && count++ == 0)
			snprintf(ret, n, "%s", de->d_name);
	closedir(d);
	return count == 1 ? 0 : count == 0 ? -ENOENT : -ENOTUNIQ;
}

int rootdev_luks(const char *mountinfo, const char *sys, char *ret, size_t n, char *ret_name, size_t nn,
		 struct errbuf *e)
{
	_cleanup_free_ char *uuid = NULL, *name = NULL;
	char dir[512], path[600], fstype[64], kname[256];
	unsigned ma = 0, mi = 0;
	int r;

	r = root_devnum(mountinfo, &ma, &mi, fstype, sizeof(fstype));
	if (r < 0)
		return err_fail(e, r == -ENOENT ? -ENOENT : r, "/ is not in %s", mountinfo);
	if (ma == 0)
		return err_fail(e, -ENOTBLK, "/ is not on a block device (%s, device %u:%u)", fstype, ma, mi);
	snprintf(dir, sizeof(dir), "%s/dev/block/%u:%u", sys, ma, mi);
	snprintf(path, sizeof(path), "%s/dm/uuid", dir);
	if (read_first_line(NULL, path, &uuid) < 0)
		return err_fail(e, -ENODEV, "/ is on device %u:%u, which is not a device-mapper device: not encrypted "
					    "with LUKS2", ma, mi);
	snprintf(path, sizeof(path), "%s/dm/name", dir);
	if (read_first_line(NULL, path, &name) < 0)
		return err_fail(e, -ENODEV, "/ is on device %u:%u, whose mapping has no name", ma, mi);
	if (strncmp(uuid, "CRYPT-LUKS2-", 12) != 0)
		return err_fail(e, -ENODEV, "/ is on /dev/mapper/%s, which is not a LUKS2 mapping (dm uuid %s)", name,
				uuid);
	r = only_slave(dir, kname, sizeof(kname));
	/* During an online re-encryption the mapping sits on libcryptsetup's helpers
	 * (NAME-hotzone-forward, NAME-overlay): the device is under them. */
	for (int depth = 0; r == 0 && depth < 4 && strncmp(kname, "dm-", 3) == 0; depth++) {
		_cleanup_free_ char *sub = NULL;
		char subdir[600];

		snprintf(subdir, sizeof(subdir), "%s/class/block/%s", sys, kname);
		snprintf(path, sizeof(path), "%s/dm/name", subdir);
		if (read_first_line(NULL, path, &sub) < 0 || strncmp(sub, name, strlen(name)) != 0 ||
		    sub[strlen(name)] != '-')
			break;
		r = only_slave(subdir, kname, sizeof(kname));
	}
	if (r < 0)
		return err_fail(e, -ENOTUNIQ, "/ is on /dev/mapper/%s, which does not sit on exactly one device", name);
	snprintf(ret, n, "/dev/%s", kname);
	if (ret_name)
		snprintf(ret_name, nn, "%s", name);
	return 0;
}
