/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's provisioning policy: what volkeyd may do to which device, from
 * the [volkey], [instance-store] and [ebs] sections of volkey.conf
 * (docs/config.md). A device with foreign data is never touched, whatever
 * the policy says. */
#pragma once

#include <stdbool.h>

enum provision_mode {
	PROVISION_OFF,       /* leave blank devices alone */
	PROVISION_AUTO,      /* format blank ones with `key`, then open */
	PROVISION_EPHEMERAL, /* a random volume key kept nowhere: scratch, gone at reboot */
};

struct class_policy {
	enum provision_mode provision;
	char key[512];     /* key URI for PROVISION_AUTO */
	char mkfs[16];     /* "", "ext4" or "xfs": after a new format */
	char mount[256];   /* "" or a mount point; "%s" is replaced by the device's id */
	bool raid0;        /* instance store only: stripe all its disks into one md RAID0 first */
	bool noexec;       /* mount with noexec too (nosuid,nodev always) */
};

/* The md array volkeyd builds from the instance-store disks ([instance-store] raid0). */
#define VOLKEY_RAID_NAME "volkey-is"
#define VOLKEY_RAID_PATH "/dev/md/" VOLKEY_RAID_NAME

#define POLICY_MAX_EBS 16

/* [volkey] kernel_module: whether volkeyd loads volkey_xts at start. */
enum kmod_mode {
	KMOD_OFF,
	KMOD_AUTO, /* only when `volkey bench` measured a gain from it on this kernel */
	KMOD_ON,
};

struct policy {
	long unlock_timeout_ms;   /* how long volkeyd waits for the devices present at start before it
	                           * reports ready (boot goes on; late devices keep working) */
	char status_file[256];    /* /run/volkey/status.json */
	bool unlock_unlisted;     /* a volkey volume the policy neither provisions nor lists: unlocked (never
	                           * mounted) when true, left locked when false */
	enum kmod_mode kernel_module;
	char crypttab[256];       /* /etc/crypttab: volumes listed there belong to systemd-cryptsetup */
	bool retry;               /* keep retrying, after ready, devices whose key service was unreachable */
	long retry_base_ms;       /* first retry delay (before jitter) */
	long retry_cap_ms;        /* longest delay between retries */
	long retry_max;           /* retries per device, 0 = forever */
	bool close_at_shutdown;   /* at system shutdown, close the volkey-* mappings (deferred while in use) */
	bool start_mounts;        /* after a late unlock, start the /etc/fstab mount units on its mapping */
	char fstab[256];          /* /etc/fstab */
	char kernel_module_file[256]; /* a .ko to load instead of `modprobe volkey_xts` ("" default) */
	char module_record[256];  /* /var/lib/volkey/module-bench.json: what bench measured */
	struct class_policy instance_store;
	struct class_policy ebs;  /* provision applies only to volumes listed in ebs_volumes */
	char ebs_volumes[POLICY_MAX_EBS][32];
	int n_ebs_volumes;
};

void policy_defaults(struct policy *p);
/* Takes one key of the sections above; returns 1 if taken, 0 for a bad value,
 * -1 when the section is not a policy section. */
int policy_set(struct policy *p, const char *section, const char *name, const char *value);
const char *provision_mode_to_string(enum provision_mode m);
/* Whether vol-id is listed for provisioning in [ebs] volumes. */
bool policy_ebs_listed(const struct policy *p, const char *volume_id);
