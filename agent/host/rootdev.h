/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The LUKS2 device under the root filesystem: `/` in mountinfo, its dm-crypt
 * mapping, the one device under that mapping (volkey rekey --root). */
#pragma once

#include <stddef.h>
#include "base/errbuf.h"

/* mountinfo: a /proc/PID/mountinfo file; sys: the sysfs root ("/sys"). The
 * device as /dev/KNAME in ret (and the mapping's name in ret_name, may be NULL).
 * -ENOENT "/" not mounted, -ENOTBLK not on a block device, -ENODEV not on a
 * LUKS2 mapping, -ENOTUNIQ not on exactly one device; each with a line in e. */
int rootdev_luks(const char *mountinfo, const char *sys, char *ret, size_t n, char *ret_name, size_t nn,
		 struct errbuf *e);
