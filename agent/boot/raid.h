/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The instance-store stripe ([instance-store] raid0 = yes): all instance-store
 * disks as one md RAID0 (mdadm), named volkey-is, encrypted as one volume.
 * Built only from disks that are all blank; assembled again at later boots. */
#pragma once

#include <stddef.h>

/* 1: the array exists (built or assembled now, or already there) and its device
 * node is in ret_md; 0: no stripe (why says why); -errno. */
int raid_prepare(char *const *devs, int n, char *ret_md, size_t md_len, char *why, size_t why_len);
