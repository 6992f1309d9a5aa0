// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target: volkey.conf through config_load() itself (libinih, the
 * [kms], [aws], [imds], [pkcs11], [nvme] handlers and the policy sections),
 * the input served from a memfd by its /proc/self/fd path. A configuration that
 * loads must hold only values its readers accept: bounded strings, counts within
 * their arrays, [nvme] match rules that parse again, policy paths absolute. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf/config.h"
#include "conf/nvme_match.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fd = -1;
static char path[64];

#define BOUNDED(f) do { if (strnlen((f), sizeof(f)) >= sizeof(f)) abort(); } while (0)

static void check_class(const struct class_policy *c)
{
	const char *pct;

	BOUNDED(c->key);
	BOUNDED(c->mkfs);
	BOUNDED(c->mount);
	if (c->mount[0] && c->mount[0] != '/')
		abort();
	pct = strchr(c->mount, '%');
	if (pct && (pct[1] != 's' || strchr(pct + 1, '%')))
		abort();
	if (c->mkfs[0] && strcmp(c->mkfs, "ext4") && strcmp(c->mkfs, "xfs"))
		abort();
}

static void check(const struct volkey_config *c)
{
	struct nvme_rules rules = { 0 };

	BOUNDED(c->path);
	BOUNDED(c->kms_region);
	BOUNDED(c->kms_endpoint);
	BOUNDED(c->kms_ca_file);
	BOUNDED(c->aws_profile);
	BOUNDED(c->imds_endpoint);
	BOUNDED(c->p11_mechanism);
	BOUNDED(c->p11_module);
	BOUNDED(c->p11_allowed_modules);
	if (c->kms_nregions < 0 || c->kms_nregions > CONFIG_MAX_REGIONS || c->kms_nregion_endpoints < 0 ||
	    c->kms_nregion_endpoints > CONFIG_MAX_REGIONS)
		abort();
	for (int i = 0; i < c->kms_nregions; i++)
		if (strnlen(c->kms_regions[i], 48) < 3 || strnlen(c->kms_regions[i], 48) >= 48)
			abort();
	for (int i = 0; i < c->kms_nregion_endpoints; i++) {
		BOUNDED(c->kms_region_endpoints[i].region);
		BOUNDED(c->kms_region_endpoints[i].endpoint);
	}
	if (c->kms_max_attempts < 1 || c->kms_max_attempts > 10 || c->kms_timeout_ms < 50 || c->imds_timeout_ms < 50)
		abort();
	if (c->nvme_nmatch < 0 || c->nvme_nmatch > 8)
		abort();
	for (int i = 0; i < c->nvme_nmatch; i++) {
		BOUNDED(c->nvme_match[i]);
		if (nvme_rules_add(&rules, c->nvme_match[i]) != 0)
			abort();
	}
	BOUNDED(c->policy.status_file);
	BOUNDED(c->policy.kernel_module_file);
	BOUNDED(c->policy.module_record);
	if (c->policy.status_file[0] != '/' || (c->policy.kernel_module_file[0] && c->policy.kernel_module_file[0] != '/'))
		abort();
	if (c->policy.n_ebs_volumes < 0 || c->policy.n_ebs_volumes > POLICY_MAX_EBS)
		abort();
	for (int i = 0; i < c->policy.n_ebs_volumes; i++)
		if (strncmp(c->policy.ebs_volumes[i], "vol-", 4) || strnlen(c->policy.ebs_volumes[i], 32) >= 32)
			abort();
	/* [rotation] and [metrics]: what status, the metrics and volkeyd rely on */
	if (c->rotation_rewrap_days < 0 || c->rotation_secret_days < 0 || c->rotation_volume_key_days < 0 ||
	    c->rotation_rewrap_days > 36500 || c->rotation_secret_days > 36500 || c->rotation_volume_key_days > 36500)
		abort();
	BOUNDED(c->metrics_textfile);
	if (c->metrics_textfile[0] && (c->metrics_textfile[0] != '/' || strlen(c->metrics_textfile) < 6 ||
				       strcmp(c->metrics_textfile + strlen(c->metrics_textfile) - 5, ".prom")))
		abort();
	if (c->metrics_interval_s < 10 || c->metrics_interval_s > 86400)
		abort();
	check_class(&c->policy.instance_store);
	check_class(&c->policy.ebs);
	if (c->policy.ebs.provision == PROVISION_EPHEMERAL || c->policy.ebs.raid0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct volkey_config c;
	int line = 0, r;

	if (size > 65536)
		return 0;
	if (fd < 0) {
		fd = memfd_create("volkey.conf", MFD_CLOEXEC);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	r = config_load(path, &c, &line);
	if (r == 0)
		check(&c);
	else if (r != -EINVAL || line <= 0)
		abort(); /* the file is there: only a bad line fails, and it is named */
	return 0;
}
