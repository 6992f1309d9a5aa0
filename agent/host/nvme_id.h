/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What an NVMe namespace is on EC2, from Identify Controller: an EBS volume
 * (its vol- id from the serial, its block-device-mapping name from the
 * vendor-specific area), an instance-store disk, or something else. The AWS
 * model strings are built in; [nvme] match rules in volkey.conf extend them
 * (emulators have their own model strings; the classes and the rules are in
 * conf/nvme_match.h, below both this file and the configuration). */
#pragma once

#include <stdint.h>
#include <libnvme.h>
#include "conf/nvme_match.h"

struct nvme_ident {
	enum nvme_class cls;
	uint16_t vid;
	char model[41];
	char serial[21];
	char ebs_volume_id[32];   /* "vol-0123…" for EBS, else "" */
	char device_name[33];     /* vendor-specific area: "sdf" (EBS), "ephemeral0" (instance store), or "" */
	int instance_store_index; /* N of "ephemeralN", else -1 */
};

struct volkey_config;
/* The [nvme] match rules of a configuration. */
int nvme_rules_from_config(const struct volkey_config *cfg, struct nvme_rules *ret);
/* Classifies identify data. Never fails: unknown devices are NVME_CLASS_OTHER. */
void nvme_classify(const struct nvme_id_ctrl *id, const struct nvme_rules *rules, struct nvme_ident *ret);
/* Identify Controller through the namespace or controller node (libnvme). */
int nvme_identify_path(const char *devnode, struct nvme_id_ctrl *ret);
