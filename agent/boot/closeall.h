/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* At system shutdown: close every volkey dm-crypt mapping (volkey-*, not the
 * benchmark's), so none is left to systemd-shutdown's last pass. A mapping
 * still in use (a file system not yet unmounted) is marked for deferred
 * removal: the kernel removes it, and drops its key, when the last user closes
 * it. */
#pragma once

struct closeall_result {
	int closed;   /* removed now */
	int deferred; /* in use: removed by the kernel at its last close */
	int failed;
};

/* Closes one volkey mapping by name (deferred while in use): 0 closed, 1 deferred,
 * -errno; -EPERM for a name that is not volkey's (volkey-*, not volkey-bench-*). */
int closeall_one(const char *name);
void closeall_mappings(const char *sysfs_block, struct closeall_result *ret);
