// SPDX-License-Identifier: GPL-2.0-or-later
/* NVMe classification on Identify Controller data built from the documented
 * layout (NVMe base spec: VID at byte 0, SN at 4 (20 bytes), MN at 24 (40 bytes),
 * vendor-specific area at 3072), fed through an interposed ioctl(): the real
 * libnvme call path, no hardware. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf/config.h"
#include "host/nvme_id.h"
#include "unit.h"

static unsigned char fixture[4096];
static int ioctl_calls;

/* Replaces libc's ioctl for libnvme: answers Identify Controller (opcode 0x06, CNS 1). */
int ioctl(int fd, unsigned long req, ...);
int ioctl(int fd, unsigned long req, ...)
{
	struct nvme_passthru_cmd *cmd;
	va_list ap;

	(void)fd;
	va_start(ap, req);
	cmd = va_arg(ap, struct nvme_passthru_cmd *);
	va_end(ap);
	ioctl_calls++;
	if ((req != NVME_IOCTL_ADMIN_CMD && req != NVME_IOCTL_ADMIN64_CMD) || cmd->opcode != 0x06 ||
	    (cmd->cdw10 & 0xff) != 1 || cmd->data_len < sizeof(fixture)) {
		errno = ENOTTY;
		return -1;
	}
	memcpy((void *)(uintptr_t)cmd->addr, fixture, sizeof(fixture));
	return 0;
}

/* Identify data: vid, then space-padded serial and model, then the vendor area. */
static void build(uint16_t vid, const char *sn, const char *mn, const char *vs)
{
	memset(fixture, 0, sizeof(fixture));
	fixture[0] = vid & 0xff;
	fixture[1] = vid >> 8;
	memset(fixture + 4, ' ', 20);
	memcpy(fixture + 4, sn, strlen(sn));
	memset(fixture + 24, ' ', 40);
	memcpy(fixture + 24, mn, strlen(mn));
	if (vs) {
		memset(fixture + 3072, ' ', 32);
		memcpy(fixture + 3072, vs, strlen(vs));
	}
}

static void identify(const struct nvme_rules *rules, struct nvme_ident *ret)
{
	struct nvme_id_ctrl id;
	int before = ioctl_calls;

	CHECK_EQ_INT(nvme_identify_path("/dev/null", &id), 0);
	CHECK_EQ_INT(ioctl_calls, before + 1);
	nvme_classify(&id, rules, ret);
}

TEST(ebs_volume)
{
	struct nvme_ident n;

	build(0x1d0f, "vol0123456789abcdef0", "Amazon Elastic Block Store", "sdf");
	identify(NULL, &n);
	CHECK_STREQ(nvme_class_to_string(n.cls), "ebs");
	CHECK_EQ_INT(n.vid, 0x1d0f);
	CHECK_STREQ(n.serial, "vol0123456789abcdef0");
	CHECK_STREQ(n.ebs_volume_id, "vol-0123456789abcdef0");
	CHECK_STREQ(n.device_name, "sdf");
	CHECK_EQ_INT(n.instance_store_index, -1);
	build(0x1d0f, "vol0abc", "Amazon Elastic Block Store", "/dev/xvdba");
	identify(NULL, &n);
	CHECK_STREQ(n.device_name, "xvdba");
}

TEST(ebs_model_needs_aws_vendor)
{
	struct nvme_ident n;

	build(0x8086, "vol0123", "Amazon Elastic Block Store", "sdf");
	identify(NULL, &n);
	CHECK_STREQ(nvme_class_to_string(n.cls), "other");
	CHECK_STREQ(n.ebs_volume_id, "");
	CHECK_STREQ(n.device_name, "");
}

TEST(instance_store)
{
	struct nvme_ident n;

	build(0x1d0f, "AWS22C4E1C6B0AE3C3D9", "Amazon EC2 NVMe Instance Storage", "ephemeral1");
	identify(NULL, &n);
	CHECK_STREQ(nvme_class_to_string(n.cls), "instance-store");
	CHECK_STREQ(n.device_name, "ephemeral1");
	CHECK_EQ_INT(n.instance_store_index, 1);
	CHECK_STREQ(n.ebs_volume_id, "");
	/* no vendor area: class still known, no index */
	build(0x1d0f, "AWS1", "Amazon EC2 NVMe Instance Storage", NULL);
	identify(NULL, &n);
	CHECK_STREQ(nvme_class_to_string(n.cls), "instance-store");
	CHECK_EQ_INT(n.instance_store_index, -1);
}

TEST(rules_extend_the_built_in_models)
{
	struct volkey_config cfg;
	struct nvme_rules rules;
	struct nvme_ident n;

	config_defaults(&cfg);
	snprintf(cfg.nvme_match[0], sizeof(cfg.nvme_match[0]), "ebs|QEMU NVMe Ctrl|vol*");
	snprintf(cfg.nvme_match[1], sizeof(cfg.nvme_match[1]), "instance-store|QEMU*|AWS*");
	cfg.nvme_nmatch = 2;
	CHECK_EQ_INT(nvme_rules_from_config(&cfg, &rules), 0);
	build(0x1b36, "vol0feed", "QEMU NVMe Ctrl", NULL);
	identify(&rules, &n);
	CHECK_STREQ(nvme_class_to_string(n.cls), "ebs");
	CHECK_STREQ(n.ebs_volume_id, "vol-0feed");
	build(0x1b36, "AWS0001", "QEMU NVMe Ctrl", NULL);
	identify(&rules, &n);
	CHECK_STREQ(nvme_class_to_string(n.cls), "instance-store");
	build(0x1b36, "deadbeef", "QEMU NVMe Ctrl", NULL);
	identify(&rules, &n);
	CHECK_STREQ(nvme_class_to_string(n.cls), "other");
	identify(NULL, &n);
	CHECK_STREQ(nvme_class_to_string(n.cls), "other");
}

TEST(bad_rules_and_garbage_fields)
{
	struct nvme_rules rules = { 0 };
	struct nvme_ident n;

	CHECK_EQ_INT(nvme_rules_add(&rules, "ebs|model"), -EINVAL);
	CHECK_EQ_INT(nvme_rules_add(&rules, "other|a|b"), -EINVAL);
	CHECK_EQ_INT(nvme_rules_add(&rules, "disk|a|b"), -EINVAL);
	CHECK_EQ_INT(nvme_rules_add(&rules, "ebs|a|b|c"), -EINVAL);
	CHECK_EQ_INT(rules.n, 0);
	/* control bytes in the model become '?', a vendor area that is no device name is ignored */
	build(0x1d0f, "vol01", "Amazon Elastic Block\x01Store", "sd f\x7f");
	identify(NULL, &n);
	CHECK_STREQ(n.model, "Amazon Elastic Block?Store");
	CHECK_STREQ(nvme_class_to_string(n.cls), "other");
	build(0x1d0f, "vol01", "Amazon Elastic Block Store", "sd;rm -rf");
	identify(NULL, &n);
	CHECK_STREQ(n.device_name, "");
}

TEST(identify_failure_is_an_error)
{
	struct nvme_id_ctrl id;

	CHECK(nvme_identify_path("/nonexistent/nvme0n1", &id) == -ENOENT);
}
