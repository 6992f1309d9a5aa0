// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/macro.h"
#include "conf/crypttab.h"

/* A crypttab source as a path: KEY=VALUE tags map to udev's /dev/disk/by-* links. */
static void source_path(const char *src, char *buf, size_t n)
{
	static const struct {
		const char *tag, *dir;
	} tags[] = {
		{ "UUID=", "by-uuid" },	    { "PARTUUID=", "by-partuuid" }, { "LABEL=", "by-label" },
		{ "PARTLABEL=", "by-partlabel" }, { "ID=", "by-id" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(tags); i++)
		if (!strncmp(src, tags[i].tag, strlen(tags[i].tag))) {
			snprintf(buf, n, "/dev/disk/%s/%s", tags[i].dir, src + strlen(tags[i].tag));
			return;
		}
	snprintf(buf, n, "%s", src);
}

static bool same_device(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && S_ISBLK(sa.st_mode) && S_ISBLK(sb.st_mode) &&
	       sa.st_rdev == sb.st_rdev;
}

static bool uuid_match(const char *src, const char *luks_uuid)
{
	static const char byuuid[] = "/dev/disk/by-uuid/";
	const char *u = NULL;

	if (!luks_uuid || !luks_uuid[0])
		return false;
	if (!strncasecmp(src, "UUID=", 5))
		u = src + 5;
	else if (!strncmp(src, byuuid, strlen(byuuid)))
		u = src + strlen(byuuid);
	return u && !strcasecmp(u, luks_uuid);
}

int crypttab_lookup(const char *path, const char *devnode, const char *luks_uuid, struct crypttab_entry *ret)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char buf[4096];
	int line = 0;

	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fgets(buf, sizeof(buf), f)) {
		char name[128], src[1024], p[1100];

		line++;
		if (sscanf(buf, " %127s %1023s", name, src) != 2 || name[0] == '#')
			continue;
		source_path(src, p, sizeof(p));
		if (uuid_match(src, luks_uuid) || same_device(p, devnode)) {
			snprintf(ret->name, sizeof(ret->name), "%s", name);
			ret->line = line;
			return 1;
		}
	}
	return ferror(f) ? -EIO : 0;
}
