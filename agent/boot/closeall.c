// SPDX-License-Identifier: LGPL-2.1-or-later
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libcryptsetup.h>

#include "base/cslock.h"
#include "base/fileio.h"
#include "base/log.h"
#include "base/macro.h"
#include "boot/closeall.h"

static bool ours(const char *name, const char *uuid)
{
	return !strncmp(name, "volkey-", 7) && strncmp(name, "volkey-bench-", 13) && !strncmp(uuid, "CRYPT-", 6);
}

int closeall_one(const char *name)
{
	CS_LOCKED;
	struct crypt_device *cd = NULL;
	char path[160];
	int r;

	if (strncmp(name, "volkey-", 7) || !strncmp(name, "volkey-bench-", 13))
		return -EPERM;
	r = crypt_init_by_name(&cd, name);
	if (r >= 0)
		r = crypt_deactivate_by_name(cd, name, CRYPT_DEACTIVATE_DEFERRED);
	crypt_free(cd);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/dev/mapper/%s", name);
	return access(path, F_OK) == 0 && crypt_status(NULL, name) != CRYPT_INACTIVE;
}

static void close_one(const char *name, struct closeall_result *res)
{
	int r = closeall_one(name);

	if (r < 0) {
		log_warning("shutdown: cannot close %s: %s", name, strerror(-r));
		res->failed++;
	} else if (r == 1) {
		log_info("shutdown: %s is in use: the kernel removes it at its last close", name);
		res->deferred++;
	} else {
		res->closed++;
	}
}

void closeall_mappings(const char *sysfs_block, struct closeall_result *res)
{
	_cleanup_(closedirp) DIR *d = opendir(sysfs_block);
	struct dirent *de;

	memset(res, 0, sizeof(*res));
	if (!d)
		return;
	while ((de = readdir(d))) {
		_cleanup_free_ char *name = NULL, *uuid = NULL;
		char p[512];

		if (strncmp(de->d_name, "dm-", 3))
			continue;
		snprintf(p, sizeof(p), "%s/%s/dm/name", sysfs_block, de->d_name);
		if (read_first_line(NULL, p, &name) < 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s/dm/uuid", sysfs_block, de->d_name);
		if (read_first_line(NULL, p, &uuid) < 0 || !ours(name, uuid))
			continue;
		close_one(name, res);
	}
}
