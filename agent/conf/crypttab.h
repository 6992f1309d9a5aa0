/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /etc/crypttab: the volumes systemd-cryptsetup owns. volkeyd leaves every
 * device listed there alone, so one volume never has two owners (two mappings
 * of one LUKS volume, two mounts of one file system). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct crypttab_entry {
	char name[128]; /* the mapping systemd-cryptsetup makes */
	int line;       /* 1-based line of the file */
};

/* Whether the crypttab at path lists the device at devnode, whose LUKS UUID is
 * luks_uuid ("" when it has none): by UUID= or /dev/disk/by-uuid/ (compared as
 * text, so it holds before udev made the link), or by any other source that
 * resolves to the same block device (a /dev path, PARTUUID=, LABEL=...).
 * Returns 1 and fills ret, 0 when not listed or there is no such file, or
 * -errno when the file cannot be read. */
int crypttab_lookup(const char *path, const char *devnode, const char *luks_uuid, struct crypttab_entry *ret);
