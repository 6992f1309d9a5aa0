// SPDX-License-Identifier: LGPL-2.1-or-later
#include <string.h>

#include "base/macro.h"
#include "boot/devfilter.h"

bool devfilter_wanted(const char *sysname, const char *devtype, const char *devnode, const char *size,
		      const char *raid_node)
{
	static const char *const skip[] = { "dm-", "md", "ram", "zram", "sr", "fd", "nbd" };

	if (!sysname || !devtype || strcmp(devtype, "disk") || !devnode || !size || !strcmp(size, "0"))
		return false;
	if (raid_node && !strcmp(devnode, raid_node))
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(skip); i++)
		if (!strncmp(sysname, skip[i], strlen(skip[i])))
			return false;
	return true;
}
