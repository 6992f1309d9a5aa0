/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What is on a device and who uses it, before volkey writes a header there:
 * any signature libblkid knows, non-zero data where no signature is known,
 * mounts, holders (device-mapper, md) and exclusive use by the kernel. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct dev_state {
	bool is_block;
	dev_t rdev;
	unsigned long long size;
	char signature[64];  /* blkid TYPE (or PTTYPE "gpt"...), "" if none */
	bool has_data;       /* no signature, but non-zero bytes in the first 64 MiB, the last MiB, or
	                      * 256 samples between (not scanned when there is a signature) */
	char mountpoint[256];/* "" if not mounted */
	char holder[128];    /* first holder ("dm-3 (name)", or the loop device a file backs), "" if none */
	bool busy;           /* the kernel refuses exclusive use (O_EXCL) */
};

/* Whether the first and last MiB from offset on are all zero (a data area never
 * written through its mapping). 1 yes, 0 no, -errno. */
int dev_range_blank(const char *path, unsigned long long offset);
/* Fills ret for path. -ENOENT etc. when the path cannot be opened or stat'ed. */
int dev_probe(const char *path, struct dev_state *ret);
