// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <mntent.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <blkid/blkid.h>

#include "base/log.h"
#include "base/macro.h"
#include "boot/latemount.h"
#include "host/sdmanager.h"

struct fsid {
	char uuid[64], label[128];
};

static void fs_ids(const char *dev, struct fsid *id)
{
	blkid_probe pr = blkid_new_probe_from_filename(dev);
	const char *v;

	memset(id, 0, sizeof(*id));
	if (!pr)
		return;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_UUID | BLKID_SUBLKS_LABEL);
	if (blkid_do_safeprobe(pr) == 0) {
		if (blkid_probe_lookup_value(pr, "UUID", &v, NULL) == 0)
			snprintf(id->uuid, sizeof(id->uuid), "%s", v);
		if (blkid_probe_lookup_value(pr, "LABEL", &v, NULL) == 0)
			snprintf(id->label, sizeof(id->label), "%s", v);
	}
	blkid_free_probe(pr);
}

static bool names_mapping(const char *src, const char *mapping, const struct fsid *id)
{
	struct stat a, b;

	if (!strcmp(src, mapping))
		return true;
	if (!strncasecmp(src, "UUID=", 5))
		return id->uuid[0] && !strcasecmp(src + 5, id->uuid);
	if (!strncmp(src, "LABEL=", 6))
		return id->label[0] && !strcmp(src + 6, id->label);
	return src[0] == '/' && stat(src, &a) == 0 && stat(mapping, &b) == 0 && S_ISBLK(a.st_mode) &&
	       a.st_rdev == b.st_rdev;
}

int latemount_start(const struct volkey_config *cfg, const char *mapping)
{
	FILE *f = setmntent(cfg->policy.fstab, "re");
	struct mntent *m;
	struct fsid id;
	int started = 0;

	if (!f)
		return errno == ENOENT ? 0 : -errno;
	fs_ids(mapping, &id);
	while ((m = getmntent(f))) {
		char unit[512], err[256];
		int r;

		if (!names_mapping(m->mnt_fsname, mapping, &id) || hasmntopt(m, "noauto"))
			continue;
		r = unit_name_from_path(m->mnt_dir, ".mount", unit, sizeof(unit));
		if (r < 0) {
			log_warning("%s: %s line for %s: mount point %s has no unit name: %s", mapping,
				    cfg->policy.fstab, m->mnt_fsname, m->mnt_dir, strerror(-r));
			continue;
		}
		r = sdm_start_unit(unit, err, sizeof(err));
		if (r < 0)
			log_warning("%s: cannot start %s (%s): %s", mapping, unit, m->mnt_dir, err);
		else {
			log_info("%s: unlocked after boot: started %s (%s)", mapping, unit, m->mnt_dir);
			started++;
		}
	}
	endmntent(f);
	return started;
}
