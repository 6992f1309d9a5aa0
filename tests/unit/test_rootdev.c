// SPDX-License-Identifier: GPL-2.0-or-later
/* rekey --root: the LUKS2 device under the mapping / is mounted from, on a
 * sysfs tree and mountinfo built here (a plain disk, LVM-style dm, dm-crypt on
 * one disk, on helper mappings, on two devices). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/rootdev.h"
#include "unit.h"

static char root[256];

static void put(const char *rel, const char *text)
{
	char path[512], cmd[700];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	if (system(cmd) != 0)
		abort();
	f = fopen(path, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
}

static void mountinfo(const char *majmin, const char *fstype)
{
	char line[512];
	snprintf(line, sizeof(line),
		 "22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
		 "1 0 %s / / rw,relatime shared:1 - %s /dev/x rw\n"
		 "25 1 0:22 / /run rw - tmpfs tmpfs rw\n", majmin, fstype);
	put("mountinfo", line);
}

static int find(char *dev, size_t n, char *name, size_t nn, char *why, size_t wn)
{
	char mi[300], sys[300];
	struct errbuf e = { { 0 } };
	int r;

	snprintf(mi, sizeof(mi), "%s/mountinfo", root);
	snprintf(sys, sizeof(sys), "%s/sys", root);
	r = rootdev_luks(mi, sys, dev, n, name, nn, &e);
	snprintf(why, wn, "%s", e.msg);
	return r;
}

static void fresh(void)
{
	char cmd[300];
	if (root[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		if (system(cmd) != 0)
			abort();
	}
	snprintf(root, sizeof(root), "/tmp/volkey-rootdev.XXXXXX");
	if (!mkdtemp(root))
		abort();
}

TEST(rootdev_finds_the_disk_under_a_luks2_root)
{
	char dev[64], name[64], why[300];

	fresh();
	mountinfo("254:1", "ext4");
	put("sys/dev/block/254:1/dm/uuid", "CRYPT-LUKS2-3ec7a5a25de049f4be0498f8adc93fde-root\n");
	put("sys/dev/block/254:1/dm/name", "root\n");
	put("sys/dev/block/254:1/slaves/nvme0n1p2/x", "");
	CHECK_EQ_INT(find(dev, sizeof(dev), name, sizeof(name), why, sizeof(why)), 0);
	CHECK_STREQ(dev, "/dev/nvme0n1p2");
	CHECK_STREQ(name, "root");

	/* During an online re-encryption: root on root-hotzone-forward on the disk. */
	fresh();
	mountinfo("254:1", "ext4");
	put("sys/dev/block/254:1/dm/uuid", "CRYPT-LUKS2-3ec7a5a25de049f4be0498f8adc93fde-root\n");
	put("sys/dev/block/254:1/dm/name", "root\n");
	put("sys/dev/block/254:1/slaves/dm-2/x", "");
	put("sys/class/block/dm-2/dm/name", "root-hotzone-forward\n");
	put("sys/class/block/dm-2/slaves/vdb/x", "");
	CHECK_EQ_INT(find(dev, sizeof(dev), name, sizeof(name), why, sizeof(why)), 0);
	CHECK_STREQ(dev, "/dev/vdb");
}

TEST(rootdev_refusals_say_why)
{
	char dev[64] = "", name[64], why[300];

	fresh();
	mountinfo("259:2", "ext4"); /* a plain partition */
	put("sys/dev/block/259:2/dev", "259:2\n");
	CHECK_EQ_INT(find(dev, sizeof(dev), name, sizeof(name), why, sizeof(why)), -ENODEV);
	CHECK(strstr(why, "not a device-mapper device") != NULL);

	fresh();
	mountinfo("0:30", "overlay");
	CHECK_EQ_INT(find(dev, sizeof(dev), name, sizeof(name), why, sizeof(why)), -ENOTBLK);
	CHECK(strstr(why, "overlay") != NULL);

	fresh();
	mountinfo("254:0", "xfs"); /* LVM */
	put("sys/dev/block/254:0/dm/uuid", "LVM-abcdef\n");
	put("sys/dev/block/254:0/dm/name", "vg-root\n");
	CHECK_EQ_INT(find(dev, sizeof(dev), name, sizeof(name), why, sizeof(why)), -ENODEV);
	CHECK(strstr(why, "not a LUKS2 mapping") != NULL);

	fresh();
	mountinfo("254:1", "ext4"); /* LUKS2 over two devices (impossible for dm-crypt, but refused) */
	put("sys/dev/block/254:1/dm/uuid", "CRYPT-LUKS2-3ec7a5a25de049f4be0498f8adc93fde-root\n");
	put("sys/dev/block/254:1/dm/name", "root\n");
	put("sys/dev/block/254:1/slaves/vdb/x", "");
	put("sys/dev/block/254:1/slaves/vdc/x", "");
	CHECK_EQ_INT(find(dev, sizeof(dev), name, sizeof(name), why, sizeof(why)), -ENOTUNIQ);
	CHECK_STREQ(dev, "");

	fresh();
	put("mountinfo", "22 1 0:21 / /proc rw - proc proc rw\n");
	CHECK_EQ_INT(find(dev, sizeof(dev), name, sizeof(name), why, sizeof(why)), -ENOENT);
	snprintf(why, sizeof(why), "rm -rf '%s'", root);
	CHECK_EQ_INT(system(why), 0);
}
