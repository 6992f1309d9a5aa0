/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which block devices the agent looks at (docs/agent.md, "Which devices volkeyd
 * looks at"): whole disks with a device node and a size, except device-mapper
 * devices (its own mappings among them), md arrays, RAM disks, optical and
 * floppy drives and network block devices. The one md array it does look at is
 * its own instance-store stripe. */
#pragma once

#include <stdbool.h>

/* sysname ("nvme0n1"), devtype ("disk"), devnode, size (sysfs, in sectors) as
 * udev gives them, any of them NULL; raid_node: the node of the agent's stripe
 * (realpath of /dev/md/volkey-is) or NULL when there is none. */
bool devfilter_wanted(const char *sysname, const char *devtype, const char *devnode, const char *size,
		      const char *raid_node);
