/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* After boot, a volume that unlocks late (its key service came back, or it was
 * hot-attached) has fstab mounts whose units already gave up or never ran: ask
 * systemd to start them, so the mount and what wants it follow without a reboot. */
#pragma once

#include "conf/config.h"

/* Starts the mount unit of every /etc/fstab ([volkey] fstab) line that names the
 * mapping (/dev/mapper/NAME, the same device by another path, or UUID=/LABEL= of
 * the file system on it), except noauto lines. Logs one line per unit. Returns
 * how many were started, or -errno when the file cannot be read. */
int latemount_start(const struct volkey_config *cfg, const char *mapping);
