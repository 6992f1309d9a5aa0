// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target: NVMe Identify Controller data as a device (or an emulator)
 * hands it over, classified with [nvme] match rules. The input is compact: its
 * first 64 bytes are the page's first 64 (VID at 0, SN at 4, MN at 24), the next
 * 32 the vendor-specific area at 3072 (the device name), the rest [nvme] match
 * specs, one a line, for nvme_rules_add(); the page's other bytes are random
 * fill from the input's hash (nvme_classify must not read them). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host/nvme_id.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nvme_id_ctrl id;
	struct nvme_rules rules = { 0 };
	struct nvme_ident n;
	char spec[512];
	size_t head = size < 64 ? size : 64, vs = size > 64 ? (size - 64 < 32 ? size - 64 : 32) : 0;
	uint32_t h = 2166136261u;

	if (size > 4096)
		return 0;
	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	for (size_t i = 0; i < sizeof(id); i++) {
		h = h * 1103515245u + 12345u;
		((unsigned char *)&id)[i] = (unsigned char)(h >> 16);
	}
	memcpy(&id, data, head);
	memset(id.vs, 0, 32);
	memcpy(id.vs, data + 64, vs);
	for (size_t i = 96; i < size;) {
		size_t e = i;
		while (e < size && data[e] != '\n')
			e++;
		if (e - i < sizeof(spec)) {
			memcpy(spec, data + i, e - i);
			spec[e - i] = '\0';
			(void)nvme_rules_add(&rules, spec);
		}
		i = e + 1;
	}
	if (rules.n < 0 || rules.n > NVME_MATCH_MAX)
		abort();
	for (int i = 0; i < rules.n; i++)
		if (rules.m[i].cls == NVME_CLASS_OTHER)
			abort();
	nvme_classify(&id, rules.n ? &rules : NULL, &n);
	printable(n.model);
	printable(n.serial);
	printable(n.device_name);
	if (n.cls != NVME_CLASS_OTHER && n.cls != NVME_CLASS_EBS && n.cls != NVME_CLASS_INSTANCE_STORE)
		abort();
	if (n.cls == NVME_CLASS_OTHER && (n.device_name[0] || n.instance_store_index != -1))
		abort();
	if (n.ebs_volume_id[0] && (n.cls != NVME_CLASS_EBS || strncmp(n.ebs_volume_id, "vol-", 4)))
		abort();
	for (const char *q = n.device_name; *q; q++)
		if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9')))
			abort();
	if (n.instance_store_index < -1 || n.instance_store_index > 63 ||
	    (n.instance_store_index >= 0 && strncmp(n.device_name, "ephemeral", 9)))
		abort();
	return 0;
}
