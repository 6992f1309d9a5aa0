// SPDX-License-Identifier: LGPL-2.1-or-later
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macro.h"
#include "conf/config.h"
#include "host/nvme_id.h"

#define AWS_VID 0x1d0f
#define EBS_MODEL "Amazon Elastic Block Store"
#define INSTANCE_STORE_MODEL "Amazon EC2 NVMe Instance Storage"

/* A fixed-width identify string: printable ASCII, trailing blanks and NULs cut. */
static void field(char *dst, size_t dstsize, const char *src, size_t n)
{
	size_t o = 0;

	while (n > 0 && (src[n - 1] == ' ' || src[n - 1] == '\0'))
		n--;
	for (size_t i = 0; i < n && o + 1 < dstsize; i++) {
		unsigned char ch = (unsigned char)src[i];
		if (ch == '\0')
			break;
		dst[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	dst[o] = '\0';
}

/* "vol0123abcd" → "vol-0123abcd" (the serial drops the dash). */
static void ebs_volume_id(const char *serial, char *ret, size_t n)
{
	if (strncmp(serial, "vol", 3) == 0 && serial[3] && serial[3] != '-')
		snprintf(ret, n, "vol-%s", serial + 3);
	else if (strncmp(serial, "vol-", 4) == 0)
		snprintf(ret, n, "%s", serial);
	else
		ret[0] = '\0';
}

/* First 32 bytes of the vendor-specific area: "sdf", "/dev/sdf", "ephemeral0". */
static void device_name(const struct nvme_id_ctrl *id, struct nvme_ident *ret)
{
	char name[33];
	const char *p;

	field(name, sizeof(name), (const char *)id->vs, 32);
	p = strncmp(name, "/dev/", 5) == 0 ? name + 5 : name;
	/* Only what a device name can be: anything else (an emulator's zeros, garbage) is ignored. */
	for (const char *q = p; *q; q++)
		if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9')))
			return;
	snprintf(ret->device_name, sizeof(ret->device_name), "%s", p);
	if (strncmp(p, "ephemeral", 9) == 0 && p[9]) {
		char *end;
		long k = strtol(p + 9, &end, 10);
		if (!*end && k >= 0 && k < 64)
			ret->instance_store_index = (int)k;
	}
}

void nvme_classify(const struct nvme_id_ctrl *id, const struct nvme_rules *rules, struct nvme_ident *ret)
{
	struct nvme_ident r = { .cls = NVME_CLASS_OTHER, .instance_store_index = -1 };

	r.vid = le16toh(id->vid);
	field(r.model, sizeof(r.model), id->mn, sizeof(id->mn));
	field(r.serial, sizeof(r.serial), id->sn, sizeof(id->sn));
	if (r.vid == AWS_VID && strcmp(r.model, EBS_MODEL) == 0)
		r.cls = NVME_CLASS_EBS;
	else if (strcmp(r.model, INSTANCE_STORE_MODEL) == 0)
		r.cls = NVME_CLASS_INSTANCE_STORE; /* vid 0x1d0f expected but not confirmed */
	for (int i = 0; rules && r.cls == NVME_CLASS_OTHER && i < rules->n; i++)
		if (fnmatch(rules->m[i].model, r.model, 0) == 0 && fnmatch(rules->m[i].serial, r.serial, 0) == 0)
			r.cls = rules->m[i].cls;
	if (r.cls != NVME_CLASS_OTHER)
		device_name(id, &r);
	if (r.cls == NVME_CLASS_EBS)
		ebs_volume_id(r.serial, r.ebs_volume_id, sizeof(r.ebs_volume_id));
	else
		r.ebs_volume_id[0] = '\0';
	*ret = r;
}

int nvme_identify_path(const char *devnode, struct nvme_id_ctrl *ret)
{
	_cleanup_close_ int fd = open(devnode, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct nvme_id_ctrl id;
	int r;

	if (fd < 0)
		return negative_errno();
	r = nvme_identify_ctrl(fd, &id);
	if (r < 0)
		return negative_errno();
	if (r > 0)
		return -EIO; /* an NVMe status code */
	*ret = id;
	return 0;
}

int nvme_rules_from_config(const struct volkey_config *cfg, struct nvme_rules *ret)
{
	struct nvme_rules r = { 0 };
	int k;

	for (int i = 0; i < cfg->nvme_nmatch; i++) {
		k = nvme_rules_add(&r, cfg->nvme_match[i]);
		if (k < 0)
			return k;
	}
	*ret = r;
	return 0;
}
