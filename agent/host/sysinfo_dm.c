// SPDX-License-Identifier: LGPL-2.1-or-later
#include <stdio.h>
#include <string.h>
#include <libdevmapper.h>

#include "base/cslock.h"
#include "base/fileio.h"
#include "base/macro.h"
#include "host/dmlog.h"
#include "host/sysinfo.h"

static bool root_is_real(const char *root)
{
	return !root || !*root || streq_ptr(root, "/");
}

static bool dm_core_live(const char *root)
{
	_cleanup_free_ char *misc = NULL;

	/* The kernel's list is the authority: a stale /dev/mapper/control node (libdevmapper
	 * creates one when asked) exists on kernels without device-mapper too. */
	if (read_small_file(root, "/proc/misc", 64 * 1024, &misc) == 0)
		return strstr(misc, " device-mapper\n") != NULL;
	return path_exists(root, "/dev/mapper/control");
}

/* Why the kernel has no device-mapper, from its config when we can read it. */
static void explain_missing(const char *root, const char *release, char *buf, size_t n)
{
	_cleanup_free_ char *cfg = NULL;
	char p[512];

	snprintf(p, sizeof(p), "/boot/config-%s", release);
	if (read_small_file(root, p, 1024 * 1024, &cfg) == 0 && strstr(cfg, "# CONFIG_BLK_DEV_DM is not set"))
		snprintf(buf, n, "kernel %s is built without device-mapper (CONFIG_BLK_DEV_DM is not set)", release);
	else
		snprintf(buf, n,
			 "kernel %s has no device-mapper: no /dev/mapper/control, none in /proc/misc, "
			 "and no dm_mod module in /lib/modules/%s", release, release);
}

static void crypt_target_version(struct dm_support *s)
{
	CS_LOCKED;
	struct dm_task *dmt;
	struct dm_versions *v, *last;

	dmt = dm_task_create(DM_DEVICE_LIST_VERSIONS);
	if (!dmt)
		return;
	if (dm_task_run(dmt)) {
		v = dm_task_get_versions(dmt);
		do {
			last = v;
			if (strcmp(v->name, "crypt") == 0) {
				s->crypt = FEATURE_AVAILABLE;
				snprintf(s->crypt_version, sizeof(s->crypt_version), "%u.%u.%u",
					 v->version[0], v->version[1], v->version[2]);
			}
			v = (struct dm_versions *)((char *)v + v->next);
		} while (last != v);
	}
	dm_task_destroy(dmt);
}

int sysinfo_dm_probe(const char *root, const char *release, struct dm_support *ret)
{
	CS_LOCKED;
	struct dm_support s = { 0 };

	if (dm_core_live(root)) {
		s.dm = FEATURE_AVAILABLE;
		if (root_is_real(root)) {
			dmlog_setup();
			if (!dm_driver_version(s.driver_version, sizeof(s.driver_version)))
				s.driver_version[0] = '\0';
			crypt_target_version(&s);
		}
		if (s.crypt != FEATURE_AVAILABLE) {
			s.crypt = sysinfo_module_state(root, release, "dm_crypt");
			if (s.crypt == FEATURE_LOADABLE)
				snprintf(s.reason, sizeof(s.reason),
					 "the crypt target is not loaded yet (module dm_crypt loads on first use)");
			else if (s.crypt == FEATURE_MISSING)
				snprintf(s.reason, sizeof(s.reason),
					 "device-mapper is present but kernel %s has no crypt target (CONFIG_DM_CRYPT)", release);
		}
	} else {
		s.dm = sysinfo_module_state(root, release, "dm_mod");
		if (s.dm == FEATURE_LOADABLE) {
			s.crypt = sysinfo_module_state(root, release, "dm_crypt");
			snprintf(s.reason, sizeof(s.reason), "device-mapper is not loaded (modprobe dm_mod dm_crypt)");
		} else {
			s.dm = FEATURE_MISSING;
			s.crypt = FEATURE_MISSING;
			explain_missing(root, release, s.reason, sizeof(s.reason));
		}
	}
	*ret = s;
	return 0;
}
