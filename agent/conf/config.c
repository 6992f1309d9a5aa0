// SPDX-License-Identifier: LGPL-2.1-or-later
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ini.h>

#include "base/awsname.h"
#include "conf/config.h"
#include "conf/nvme_match.h"

void config_defaults(struct volkey_config *c)
{
	memset(c, 0, sizeof(*c));
	c->kms_connect_timeout_ms = 2000;
	c->kms_timeout_ms = 5000;
	c->kms_deadline_ms = 15000;
	c->kms_max_attempts = 3;
	c->kms_retry_base_ms = 1000;
	c->kms_retry_cap_ms = 20000;
	c->imds_timeout_ms = 1000;
	c->initramfs_wait_s = 60;
	c->initramfs_interval_s = 5;
	snprintf(c->initramfs_fallback, sizeof(c->initramfs_fallback), "passphrase");
	c->rotation_rewrap_days = 0;
	c->rotation_secret_days = 365;
	c->rotation_volume_key_days = 0;
	snprintf(c->metrics_textfile, sizeof(c->metrics_textfile), "/var/lib/prometheus/node-exporter/volkey.prom");
	c->metrics_interval_s = 300;
	snprintf(c->p11_mechanism, sizeof(c->p11_mechanism), "aes-key-wrap");
	snprintf(c->p11_pin_dir, sizeof(c->p11_pin_dir), "/etc/volkey/pins");
	policy_defaults(&c->policy);
}

static int set_str(char *dst, size_t n, const char *v)
{
	if (strlen(v) >= n)
		return 0;
	snprintf(dst, n, "%s", v);
	return 1;
}

static int set_long(long *dst, const char *v, long min, long max)
{
	char *end;
	long x;

	errno = 0;
	x = strtol(v, &end, 10);
	if (errno || end == v || *end || x < min || x > max)
		return 0;
	*dst = x;
	return 1;
}

static int set_bool(bool *dst, const char *v)
{
	if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1") || !strcasecmp(v, "on"))
		*dst = true;
	else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcmp(v, "0") || !strcasecmp(v, "off"))
		*dst = false;
	else
		return 0;
	return 1;
}

static int set_regions(struct volkey_config *c, const char *v)
{
	char buf[512], *save = NULL, *p;

	if (!set_str(buf, sizeof(buf), v))
		return 0;
	c->kms_nregions = 0;
	for (p = strtok_r(buf, ", ", &save); p; p = strtok_r(NULL, ", ", &save)) {
		if (c->kms_nregions == CONFIG_MAX_REGIONS || !aws_region_valid(p))
			return 0;
		snprintf(c->kms_regions[c->kms_nregions++], 48, "%s", p);
	}
	return c->kms_nregions > 0;
}

/* Twelve-digit account ids, space- or comma-separated. */
static int set_accounts(char *dst, size_t n, const char *v)
{
	char buf[512], *save = NULL;
	int k = 0;

	if (!set_str(buf, sizeof(buf), v))
		return 0;
	for (char *p = strtok_r(buf, ", ", &save); p; p = strtok_r(NULL, ", ", &save), k++)
		if (!aws_account_valid(p))
			return 0;
	return k > 0 && set_str(dst, n, v);
}

bool config_fallback_valid(const char *v)
{
	return !strcmp(v, "passphrase") || !strcmp(v, "fail") || !strcmp(v, "retry");
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct volkey_config *c = user;

	if (!strcmp(section, "kms")) {
		if (!strcmp(name, "region"))
			return aws_region_valid(value) && set_str(c->kms_region, sizeof(c->kms_region), value);
		if (!strcmp(name, "regions"))
			return set_regions(c, value);
		if (!strcmp(name, "endpoint"))
			return set_str(c->kms_endpoint, sizeof(c->kms_endpoint), value);
		if (!strcmp(name, "fips"))
			return set_bool(&c->kms_fips, value);
		if (!strcmp(name, "connect_timeout_ms"))
			return set_long(&c->kms_connect_timeout_ms, value, 50, 600000);
		if (!strcmp(name, "timeout_ms"))
			return set_long(&c->kms_timeout_ms, value, 50, 600000);
		if (!strcmp(name, "deadline_ms"))
			return set_long(&c->kms_deadline_ms, value, 50, 3600000);
		if (!strcmp(name, "retry_base_ms"))
			return set_long(&c->kms_retry_base_ms, value, 0, 60000);
		if (!strcmp(name, "retry_cap_ms"))
			return set_long(&c->kms_retry_cap_ms, value, 0, 600000);
		if (!strcmp(name, "max_attempts")) {
			long x;
			if (!set_long(&x, value, 1, 10))
				return 0;
			c->kms_max_attempts = (int)x;
			return 1;
		}
		if (!strcmp(name, "ca_file"))
			return set_str(c->kms_ca_file, sizeof(c->kms_ca_file), value);
		if (!strcmp(name, "ca_path"))
			return set_str(c->kms_ca_path, sizeof(c->kms_ca_path), value);
		if (!strcmp(name, "allowed_accounts"))
			return set_accounts(c->kms_allowed_accounts, sizeof(c->kms_allowed_accounts), value);
		if (!strcmp(name, "allowed_keys"))
			return set_str(c->kms_allowed_keys, sizeof(c->kms_allowed_keys), value);
		return 0;
	}
	if (!strncmp(section, "kms:", 4)) {
		struct region_endpoint *e;
		if (strcmp(name, "endpoint") || !aws_region_valid(section + 4))
			return 0;
		for (int i = 0; i < c->kms_nregion_endpoints; i++)
			if (!strcmp(c->kms_region_endpoints[i].region, section + 4))
				return set_str(c->kms_region_endpoints[i].endpoint, 256, value);
		if (c->kms_nregion_endpoints == CONFIG_MAX_REGIONS)
			return 0;
		e = &c->kms_region_endpoints[c->kms_nregion_endpoints++];
		snprintf(e->region, sizeof(e->region), "%s", section + 4);
		return set_str(e->endpoint, sizeof(e->endpoint), value);
	}
	if (!strcmp(section, "aws")) {
		if (!strcmp(name, "profile"))
			return set_str(c->aws_profile, sizeof(c->aws_profile), value);
		return 0;
	}
	if (!strcmp(section, "imds")) {
		if (!strcmp(name, "endpoint"))
			return set_str(c->imds_endpoint, sizeof(c->imds_endpoint), value);
		if (!strcmp(name, "timeout_ms"))
			return set_long(&c->imds_timeout_ms, value, 50, 60000);
		return 0;
	}
	if (!strcmp(section, "initramfs")) {
		if (!strcmp(name, "wait"))
			return set_long(&c->initramfs_wait_s, value, 0, 86400);
		if (!strcmp(name, "interval"))
			return set_long(&c->initramfs_interval_s, value, 1, 3600);
		if (!strcmp(name, "fallback"))
			return config_fallback_valid(value) &&
			       set_str(c->initramfs_fallback, sizeof(c->initramfs_fallback), value);
		return 0;
	}
	if (!strcmp(section, "rotation")) {
		if (!strcmp(name, "rewrap_max_age_days"))
			return set_long(&c->rotation_rewrap_days, value, 0, 36500);
		if (!strcmp(name, "secret_max_age_days"))
			return set_long(&c->rotation_secret_days, value, 0, 36500);
		if (!strcmp(name, "volume_key_max_age_days"))
			return set_long(&c->rotation_volume_key_days, value, 0, 36500);
		return 0;
	}
	if (!strcmp(section, "metrics")) {
		if (!strcmp(name, "textfile"))
			return (!value[0] || (value[0] == '/' && strlen(value) > 5 &&
					      !strcmp(value + strlen(value) - 5, ".prom"))) &&
			       set_str(c->metrics_textfile, sizeof(c->metrics_textfile), value);
		if (!strcmp(name, "interval"))
			return set_long(&c->metrics_interval_s, value, 10, 86400);
		return 0;
	}
	if (!strcmp(section, "pkcs11")) {
		if (!strcmp(name, "mechanism"))
			return set_str(c->p11_mechanism, sizeof(c->p11_mechanism), value);
		if (!strcmp(name, "module"))
			return set_str(c->p11_module, sizeof(c->p11_module), value);
		if (!strcmp(name, "allowed_modules"))
			return set_str(c->p11_allowed_modules, sizeof(c->p11_allowed_modules), value);
		if (!strcmp(name, "pin_dir"))
			return value[0] == '/' && set_str(c->p11_pin_dir, sizeof(c->p11_pin_dir), value);
		return 0;
	}
	if (!strcmp(section, "nvme")) {
		if (!strcmp(name, "match")) {
			struct nvme_rules check = { 0 };
			if (c->nvme_nmatch >= (int)(sizeof(c->nvme_match) / sizeof(c->nvme_match[0])) ||
			    nvme_rules_add(&check, value) < 0)
				return 0;
			return set_str(c->nvme_match[c->nvme_nmatch++], sizeof(c->nvme_match[0]), value);
		}
		return 0;
	}
	{
		int r = policy_set(&c->policy, section, name, value);
		if (r >= 0)
			return r;
	}
	return 0;
}

int config_load(const char *path, struct volkey_config *c, int *ret_line)
{
	bool explicit_path = path != NULL;
	int r;

	config_defaults(c);
	if (!path) {
		path = getenv("VOLKEY_CONFIG");
		explicit_path = path != NULL;
		if (!path)
			path = CONFIG_DEFAULT_PATH;
	}
	/* Named in errors too (cfg->path), also when the file is bad. */
	snprintf(c->path, sizeof(c->path), "%s", path);
	r = ini_parse(path, handler, c);
	if (r == -1) {
		if (!explicit_path && errno == ENOENT) {
			c->path[0] = '\0';
			return 0; /* no config file: defaults */
		}
		return errno ? -errno : -ENOENT;
	}
	if (r == -2)
		return -ENOMEM;
	if (r > 0) {
		if (ret_line)
			*ret_line = r;
		return -EINVAL;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	return 0;
}
