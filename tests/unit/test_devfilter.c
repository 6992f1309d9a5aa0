// SPDX-License-Identifier: GPL-2.0-or-later
/* devfilter_wanted(): which block devices volkeyd looks at, as docs/agent.md
 * lists them; md arrays are skipped except the agent's own stripe. */
#include <stdio.h>

#include "boot/devfilter.h"
#include "unit.h"

static bool want(const char *name, const char *raid)
{
	char node[64];

	snprintf(node, sizeof(node), "/dev/%s", name);
	return devfilter_wanted(name, "disk", node, "131072", raid);
}

TEST(disks_are_looked_at)
{
	CHECK(want("nvme0n1", NULL));
	CHECK(want("nvme12n1", "/dev/md127"));
	CHECK(want("xvdf", NULL));
	CHECK(want("vda", NULL));
	CHECK(want("loop3", NULL));
	CHECK(want("sdb", NULL));
}

TEST(documented_skips)
{
	CHECK(!want("dm-0", NULL));
	CHECK(!want("ram0", NULL));
	CHECK(!want("zram0", NULL));
	CHECK(!want("sr0", NULL));
	CHECK(!want("fd0", NULL));
	CHECK(!want("nbd0", NULL));
}

TEST(md_arrays_skipped_but_our_stripe)
{
	CHECK(!want("md0", NULL));
	CHECK(!want("md127", NULL));
	CHECK(!want("md126", "/dev/md127"));
	/* the instance-store stripe (/dev/md/volkey-is → /dev/md127) is ours */
	CHECK(want("md127", "/dev/md127"));
}

TEST(not_disks_or_empty)
{
	CHECK(!devfilter_wanted("nvme0n1p1", "partition", "/dev/nvme0n1p1", "2048", NULL));
	CHECK(!devfilter_wanted("loop0", "disk", "/dev/loop0", "0", NULL));
	CHECK(!devfilter_wanted("nvme0n1", "disk", NULL, "2048", NULL));
	CHECK(!devfilter_wanted("nvme0n1", "disk", "/dev/nvme0n1", NULL, NULL));
	CHECK(!devfilter_wanted(NULL, "disk", "/dev/nvme0n1", "2048", NULL));
	CHECK(!devfilter_wanted("nvme0n1", NULL, "/dev/nvme0n1", "2048", NULL));
	/* the stripe's node must still be a disk with a size */
	CHECK(!devfilter_wanted("md127", "disk", "/dev/md127", "0", "/dev/md127"));
}
