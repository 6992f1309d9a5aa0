/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What an NVMe namespace is on EC2, from Identify Controller: an EBS volume
 * (its vol- id from the serial, its block-device-mapping name from the
 * vendor-specific area), an instance-store disk, or something else. The AWS
 * model strings are built in; [nvme] match rules in volkey.conf extend them
 * (emulators have their own model strings). No ioctl here: nvme_probe.c reads
 * the data, so this part is tested on fixtures. */
#pragma once

#include <stdint.h>
#include <libnvme.h>

#define NVME_MATCH_MAX 8

enum nvme_class {
	NVME_CLASS_OTHER,
	NVME_CLASS_EBS,
	NVME_CLASS_INSTANCE_STORE,
};

/* One extra rule: CLASS|MODEL-GLOB|SERIAL-GLOB (fnmatch). */
struct nvme_match {
	enum nvme_class cls;
	char model[48];
	char serial[32];
};

struct nvme_rules {
	int n;
	struct nvme_match m[NVME_MATCH_MAX];
};

struct nvme_ident {
	enum nvme_class cls;
	uint16_t vid;
	char model[41];
	char serial[21];
	char ebs_volume_id[32];   /* "vol-0123…" for EBS, else "" */
	char device_name[33];     /* vendor-specific area: "sdf" (EBS), "ephemeral0" (instance store), or "" */
	int instance_store_index; /* N of "ephemeralN", else -1 */
};

const char *nvme_class_to_string(enum nvme_class c);
int nvme_class_from_string(const char *s, enum nvme_class *ret);
/* Parses "CLASS|MODEL-GLOB|SERIAL-GLOB" into rules. -EINVAL, -E2BIG. */
int nvme_rules_add(struct nvme_rules *r, const char *spec);
struct volkey_config;
/* The [nvme] match rules of a configuration. */
int nvme_rules_from_config(const struct volkey_config *cfg, struct nvme_rules *ret);
/* Classifies identify data. Never fails: unknown devices are NVME_CLASS_OTHER. */
void nvme_classify(const struct nvme_id_ctrl *id, const struct nvme_rules *rules, struct nvme_ident *ret);
/* Identify Controller through the namespace or controller node (libnvme). */
int nvme_identify_path(const char *devnode, struct nvme_id_ctrl *ret);
