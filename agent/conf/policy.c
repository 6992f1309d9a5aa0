// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macro.h"
#include "conf/policy.h"

void policy_defaults(struct policy *p)
{
	memset(p, 0, sizeof(*p));
	p->unlock_timeout_ms = 60000;
	p->unlock_unlisted = true;
	snprintf(p->status_file, sizeof(p->status_file), "/run/volkey/status.json");
	p->kernel_module = KMOD_AUTO;
	snprintf(p->crypttab, sizeof(p->crypttab), "/etc/crypttab");
	snprintf(p->fstab, sizeof(p->fstab), "/etc/fstab");
	p->retry = true;
	p->retry_base_ms = 2000;
	p->retry_cap_ms = 5000; /* boot storms: docs/agent.md#boot-storms-and-the-kms-quota */
	p->retry_max = 0;
	p->close_at_shutdown = true;
	p->start_mounts = true;
	snprintf(p->module_record, sizeof(p->module_record), "/var/lib/volkey/module-bench.json");
}

const char *provision_mode_to_string(enum provision_mode m)
{
	switch (m) {
	case PROVISION_AUTO:
		return "auto";
	case PROVISION_EPHEMERAL:
		return "ephemeral";
	default:
		return "off";
	}
}

static int copy(char *dst, size_t n, const char *v)
{
	if (strlen(v) >= n)
		return 0;
	snprintf(dst, n, "%s", v);
	return 1;
}

static int set_yes_no(bool *b, const char *value)
{
	if (strcmp(value, "yes") && strcmp(value, "no"))
		return 0;
	*b = !strcmp(value, "yes");
	return 1;
}

static int set_long(long *x, const char *value, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno || *end || end == value || v < min || v > max)
		return 0;
	*x = v;
	return 1;
}

static int set_class(struct class_policy *c, const char *name, const char *value, bool ephemeral_ok)
{
	if (!strcmp(name, "provision")) {
		if (!strcmp(value, "off"))
			c->provision = PROVISION_OFF;
		else if (!strcmp(value, "auto"))
			c->provision = PROVISION_AUTO;
		else if (!strcmp(value, "ephemeral") && ephemeral_ok)
			c->provision = PROVISION_EPHEMERAL;
		else
			return 0;
		return 1;
	}
	if (!strcmp(name, "key"))
		return copy(c->key, sizeof(c->key), value);
	if (!strcmp(name, "noexec")) {
		if (strcmp(value, "yes") && strcmp(value, "no"))
			return 0;
		c->noexec = !strcmp(value, "yes");
		return 1;
	}
	if (!strcmp(name, "raid0") && ephemeral_ok) {
		if (strcmp(value, "yes") && strcmp(value, "no"))
			return 0;
		c->raid0 = !strcmp(value, "yes");
		return 1;
	}
	if (!strcmp(name, "mkfs")) {
		if (strcmp(value, "none") && strcmp(value, "ext4") && strcmp(value, "xfs"))
			return 0;
		return copy(c->mkfs, sizeof(c->mkfs), strcmp(value, "none") ? value : "");
	}
	if (!strcmp(name, "mount")) {
		const char *pct = strchr(value, '%');
		if (value[0] != '/' || (pct && (pct[1] != 's' || strchr(pct + 1, '%'))))
			return 0;
		return copy(c->mount, sizeof(c->mount), value);
	}
	return 0;
}

static int set_volumes(struct policy *p, const char *value)
{
	char buf[1024], *save = NULL;

	if (!copy(buf, sizeof(buf), value))
		return 0;
	p->n_ebs_volumes = 0;
	for (char *w = strtok_r(buf, " ,\t", &save); w; w = strtok_r(NULL, " ,\t", &save)) {
		if (strncmp(w, "vol-", 4) || strlen(w) < 5 || p->n_ebs_volumes == POLICY_MAX_EBS)
			return 0;
		if (!copy(p->ebs_volumes[p->n_ebs_volumes++], sizeof(p->ebs_volumes[0]), w))
			return 0;
	}
	return 1;
}

int policy_set(struct policy *p, const char *section, const char *name, const char *value)
{
	if (!strcmp(section, "volkey")) {
		if (!strcmp(name, "unlock_timeout_ms")) {
			char *end;
			long x = strtol(value, &end, 10);
			/* below the unit's TimeoutStartSec=5min */
			if (*end || end == value || x < 100 || x > 240000)
				return 0;
			p->unlock_timeout_ms = x;
			return 1;
		}
		if (!strcmp(name, "unlock_unlisted"))
			return set_yes_no(&p->unlock_unlisted, value);
		if (!strcmp(name, "retry"))
			return set_yes_no(&p->retry, value);
		if (!strcmp(name, "retry_base_ms"))
			return set_long(&p->retry_base_ms, value, 100, 3600000);
		if (!strcmp(name, "retry_cap_ms"))
			return set_long(&p->retry_cap_ms, value, 100, 86400000);
		if (!strcmp(name, "retry_max"))
			return set_long(&p->retry_max, value, 0, 1000000);
		if (!strcmp(name, "close_at_shutdown"))
			return set_yes_no(&p->close_at_shutdown, value);
		if (!strcmp(name, "start_mounts"))
			return set_yes_no(&p->start_mounts, value);
		if (!strcmp(name, "crypttab"))
			return value[0] == '/' && copy(p->crypttab, sizeof(p->crypttab), value);
		if (!strcmp(name, "fstab"))
			return value[0] == '/' && copy(p->fstab, sizeof(p->fstab), value);
		if (!strcmp(name, "status_file"))
			return value[0] == '/' && copy(p->status_file, sizeof(p->status_file), value);
		if (!strcmp(name, "kernel_module")) {
			static const char *const modes[] = { [KMOD_OFF] = "off", [KMOD_AUTO] = "auto", [KMOD_ON] = "on" };

			for (size_t i = 0; i < ARRAY_SIZE(modes); i++)
				if (!strcmp(value, modes[i])) {
					p->kernel_module = (enum kmod_mode)i;
					return 1;
				}
			return 0;
		}
		if (!strcmp(name, "kernel_module_file"))
			return value[0] == '/' && copy(p->kernel_module_file, sizeof(p->kernel_module_file), value);
		if (!strcmp(name, "module_record"))
			return value[0] == '/' && copy(p->module_record, sizeof(p->module_record), value);
		return 0;
	}
	if (!strcmp(section, "instance-store"))
		return set_class(&p->instance_store, name, value, true);
	if (!strcmp(section, "ebs")) {
		if (!strcmp(name, "volumes"))
			return set_volumes(p, value);
		return set_class(&p->ebs, name, value, false);
	}
	return -1;
}

bool policy_ebs_listed(const struct policy *p, const char *volume_id)
{
	for (int i = 0; volume_id && *volume_id && i < p->n_ebs_volumes; i++)
		if (!strcmp(p->ebs_volumes[i], volume_id))
			return true;
	return false;
}
