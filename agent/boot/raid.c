// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/fs.h>
#include <unistd.h>

#include "base/macro.h"
#include "base/spawn.h"
#include "base/testhook.h"
#include "boot/raid.h"
#include "conf/policy.h"
#include "host/devcheck.h"

static int run(char *const argv[])
{
	int r = spawn_wait(argv, true);

	return r < 0 ? r : r == 0 ? 0 : -EIO;
}

/* The array's node once it has a size (assembly and creation finish asynchronously). */
static int resolved(char *ret, size_t n)
{
	for (int i = 0; i < 100; i++) {
		_cleanup_free_ char *p = realpath(VOLKEY_RAID_PATH, NULL);
		_cleanup_close_ int fd = -1;
		uint64_t sz = 0;

		if (!p)
			return 0;
		fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && ioctl(fd, BLKGETSIZE64, &sz) == 0 && sz > 0) {
			snprintf(ret, n, "%s", p);
			return 1;
		}
		usleep(50 * 1000);
	}
	return 0;
}

int raid_prepare(char *const *devs, int n, char *ret_md, size_t md_len, char *why, size_t wl)
{
	char *argv[64], count[16];
	int members = 0, blank = 0, a = 0, r;

	if (resolved(ret_md, md_len))
		return 1;
	if (n < 2 || n > 32) {
		snprintf(why, wl, "%d instance-store disk(s): a stripe needs at least two", n);
		return 0;
	}
	for (int i = 0; i < n; i++) {
		struct dev_state s;
		if (dev_probe(devs[i], &s) < 0)
			continue;
		members += !strcmp(s.signature, "linux_raid_member");
		blank += !s.signature[0] && !s.has_data && !s.holder[0] && !s.mountpoint[0];
	}
	if (members == n) {
		argv[a++] = "mdadm";
		argv[a++] = "--assemble";
		argv[a++] = "--run";
		argv[a++] = VOLKEY_RAID_PATH;
		for (int i = 0; i < n; i++)
			argv[a++] = devs[i];
		argv[a] = NULL;
		r = run(argv);
		if (r < 0 || !resolved(ret_md, md_len)) {
			snprintf(why, wl, "mdadm could not assemble %s from the instance-store disks", VOLKEY_RAID_PATH);
			return r < 0 ? r : -ENODEV;
		}
		return 1;
	}
	if (blank != n) {
		snprintf(why, wl, "not every instance-store disk is blank (%d of %d): no stripe, each is handled alone",
			 blank, n);
		return 0;
	}
	/* mdadm writes a superblock to every disk: look at each again right before,
	 * and build no stripe if anything was written to one since the first look. */
	test_pause_point("raid-probed");
	for (int i = 0; i < n; i++) {
		struct dev_state s;
		if (dev_probe(devs[i], &s) < 0 || s.signature[0] || s.has_data || s.holder[0] || s.mountpoint[0]) {
			snprintf(why, wl, "%s changed since it was checked: no stripe, each disk is handled alone",
				 devs[i]);
			return 0;
		}
	}
	snprintf(count, sizeof(count), "%d", n);
	argv[a++] = "mdadm";
	argv[a++] = "--create";
	argv[a++] = VOLKEY_RAID_PATH;
	argv[a++] = "--run";
	argv[a++] = "--quiet";
	argv[a++] = "--level=0";
	argv[a++] = "--metadata=1.2";
	argv[a++] = "--homehost=any";
	argv[a++] = "--name=" VOLKEY_RAID_NAME;
	argv[a++] = "--raid-devices";
	argv[a++] = count;
	for (int i = 0; i < n; i++)
		argv[a++] = devs[i];
	argv[a] = NULL;
	r = run(argv);
	if (r < 0 || !resolved(ret_md, md_len)) {
		snprintf(why, wl, "mdadm --create %s failed", VOLKEY_RAID_PATH);
		return r < 0 ? r : -ENODEV;
	}
	return 1;
}
