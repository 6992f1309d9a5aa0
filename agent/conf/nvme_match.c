// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <string.h>

#include "base/macro.h"
#include "conf/nvme_match.h"

static const char *const class_names[] = {
	[NVME_CLASS_OTHER] = "other",
	[NVME_CLASS_EBS] = "ebs",
	[NVME_CLASS_INSTANCE_STORE] = "instance-store",
};

const char *nvme_class_to_string(enum nvme_class c)
{
	return (unsigned)c < ARRAY_SIZE(class_names) ? class_names[c] : "other";
}

int nvme_class_from_string(const char *s, enum nvme_class *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(class_names); i++)
		if (strcmp(s, class_names[i]) == 0) {
			*ret = (enum nvme_class)i;
			return 0;
		}
	return -EINVAL;
}

int nvme_rules_add(struct nvme_rules *r, const char *spec)
{
	char buf[128], *cls, *model, *serial, *save = NULL;
	struct nvme_match *m;

	if (r->n >= NVME_MATCH_MAX)
		return -E2BIG;
	if (strlen(spec) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, spec);
	cls = strtok_r(buf, "|", &save);
	model = strtok_r(NULL, "|", &save);
	serial = strtok_r(NULL, "|", &save);
	if (!cls || !model || !serial || strtok_r(NULL, "|", &save))
		return -EINVAL;
	m = &r->m[r->n];
	if (nvme_class_from_string(cls, &m->cls) < 0 || m->cls == NVME_CLASS_OTHER)
		return -EINVAL;
	if (strlen(model) >= sizeof(m->model) || strlen(serial) >= sizeof(m->serial))
		return -EINVAL;
	strcpy(m->model, model);
	strcpy(m->serial, serial);
	r->n++;
	return 0;
}
