/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the agent does with one block device, decided from what is on it and the
 * policy: unlock a volkey volume; finish an interrupted format the policy
 * covers; format a blank instance-store disk (auto or ephemeral) or a blank EBS
 * volume the policy names; leave everything else untouched. Then mkfs and mount
 * as configured. Never touches a device with foreign data. */
#pragma once

#include <stdbool.h>

#include "conf/config.h"
#include "host/nvme_id.h"

#define VOLKEY_SUBSYSTEM_EPHEMERAL "volkey-ephemeral"

struct device_outcome {
	char device[256];
	char cls[24];          /* ebs, instance-store, other */
	char id[64];           /* vol-… for EBS, the serial for instance store, else "" */
	char state[24];        /* unlocked, formatted, ephemeral, already-open, untouched, failed */
	char detail[768];      /* one line: what was done or why not */
	char mapping[128];     /* /dev/mapper/NAME or "" */
	char mountpoint[256];
	char luks_uuid[40];
	int token;             /* the token that unlocked, or -1 */
	double seconds;
	int error;             /* -errno for state failed */
	bool owned;            /* the policy owns the device (it may be mounted: agent.md) */
	unsigned long generation; /* statusfile_working()'s ticket for this run (not set by provision_device) */
	char at[24];           /* when the outcome was recorded (statusfile_put), RFC 3339 UTC */
};

int provision_device(const char *devnode, const struct volkey_config *cfg, const struct nvme_rules *rules,
		     struct device_outcome *out);
