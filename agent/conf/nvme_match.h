/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the agent's policy matches an NVMe device on: its class (EBS, instance
 * store, other) and the [nvme] match rules of volkey.conf that extend the
 * built-in AWS model strings. Pure data and parsing: the configuration checks
 * its rules here, and host/nvme_id.c classifies Identify data with them. */
#pragma once

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

const char *nvme_class_to_string(enum nvme_class c);
int nvme_class_from_string(const char *s, enum nvme_class *ret);
/* Parses "CLASS|MODEL-GLOB|SERIAL-GLOB" into rules. -EINVAL, -E2BIG. */
int nvme_rules_add(struct nvme_rules *r, const char *spec);
