/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /etc/volkey/volkey.conf (or $VOLKEY_CONFIG), INI syntax, parsed with libinih.
 * Every field has a default; a missing file is fine, a malformed one is not.
 * docs/config.md documents each key. */
#pragma once

#include <stdbool.h>
#include "conf/policy.h"

#define CONFIG_DEFAULT_PATH "/etc/volkey/volkey.conf"
#define CONFIG_MAX_REGIONS 8

struct region_endpoint {
	char region[48];
	char endpoint[256];
};

struct volkey_config {
	char path[256]; /* the file read, or "" */
	/* [kms] */
	char kms_region[48];
	char kms_regions[CONFIG_MAX_REGIONS][48]; /* multi-Region failover order */
	int kms_nregions;
	char kms_endpoint[256];
	bool kms_fips;
	long kms_connect_timeout_ms;
	long kms_timeout_ms;
	long kms_deadline_ms;
	int kms_max_attempts;
	long kms_retry_base_ms;
	long kms_retry_cap_ms;
	char kms_ca_file[256];
	char kms_ca_path[256]; /* a hashed certificate directory (c_rehash) */
	/* Keys named in volume headers (LUKS tokens) are used only if their ARN's
	 * account is listed here (when set) and the key is listed in allowed_keys
	 * (when set); space- or comma-separated. */
	char kms_allowed_accounts[512];
	char kms_allowed_keys[2048];
	/* [kms:REGION] endpoint = URL */
	struct region_endpoint kms_region_endpoints[CONFIG_MAX_REGIONS];
	int kms_nregion_endpoints;
	/* [aws] */
	char aws_profile[64];
	/* [imds] */
	char imds_endpoint[256];
	long imds_timeout_ms;
	/* [pkcs11] */
	char p11_mechanism[64];
	char p11_module[256];
	/* Space-separated module paths a pkcs11: URI may load besides [pkcs11] module;
	 * no other module is ever loaded (keytrust.c). */
	char p11_allowed_modules[1024];
	/* The directory every pin-source must be in (default /etc/volkey/pins). */
	char p11_pin_dir[256];
	/* [nvme] match = CLASS|MODEL-GLOB|SERIAL-GLOB, repeatable (see nvme_match.h) */
	char nvme_match[8][128];
	int nvme_nmatch;
	/* [initramfs]: `volkey unwrap` in early boot (docs/root.md) */
	long initramfs_wait_s;     /* bound on waiting for the key service; 0: no wait */
	long initramfs_interval_s; /* a console line this often while waiting */
	char initramfs_fallback[16]; /* "passphrase", "fail" or "retry" */
	/* [rotation]: ages (days) past which a volume is rotation-due in status and
	 * metrics; 0: never due for that kind. */
	long rotation_rewrap_days;
	long rotation_secret_days;
	long rotation_volume_key_days;
	/* [metrics]: the node_exporter textfile volkeyd keeps ("" : none), written
	 * only when its directory exists, refreshed every interval seconds. */
	char metrics_textfile[256];
	long metrics_interval_s;
	/* [volkey], [instance-store], [ebs]: the agent's policy */
	struct policy policy;
};

void config_defaults(struct volkey_config *c);
/* path NULL: $VOLKEY_CONFIG, else CONFIG_DEFAULT_PATH (absent is fine only then).
 * -EINVAL with *ret_line set (when non-NULL) for a bad line. */
/* [initramfs] fallback: passphrase, fail or retry. */
bool config_fallback_valid(const char *v);
int config_load(const char *path, struct volkey_config *c, int *ret_line);
