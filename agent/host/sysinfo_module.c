// SPDX-License-Identifier: LGPL-2.1-or-later
#include <stdio.h>
#include <string.h>

#include "base/fileio.h"
#include "base/macro.h"
#include "host/sysinfo.h"

const char *feature_state_to_string(enum feature_state s)
{
	switch (s) {
	case FEATURE_AVAILABLE:
		return "available";
	case FEATURE_LOADABLE:
		return "loadable";
	case FEATURE_MISSING:
	default:
		return "missing";
	}
}

/* "kernel/drivers/md/dm-crypt.ko.xz: ..." names module dm_crypt. */
static bool line_names_module(const char *line, const char *want)
{
	const char *end = strstr(line, ".ko");
	const char *start;
	size_t n;

	if (!end)
		return false;
	start = end;
	while (start > line && start[-1] != '/')
		start--;
	n = (size_t)(end - start);
	if (n != strlen(want))
		return false;
	for (size_t i = 0; i < n; i++) {
		char a = start[i] == '-' ? '_' : start[i];
		char b = want[i] == '-' ? '_' : want[i];
		if (a != b)
			return false;
	}
	return true;
}

static bool module_listed(const char *root, const char *release, const char *file, const char *name)
{
	char rel[512], p[4096], line[1024];
	_cleanup_fclose_ FILE *f = NULL;

	snprintf(rel, sizeof(rel), "/lib/modules/%s/%s", release, file);
	if (path_join(p, sizeof(p), root, rel) < 0)
		return false;
	f = fopen(p, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (colon)
			*colon = '\0';
		if (line_names_module(line, name))
			return true;
	}
	return false;
}

enum feature_state sysinfo_module_state(const char *root, const char *release, const char *name)
{
	char sys[256], norm[128];
	size_t i;

	for (i = 0; name[i] && i < sizeof(norm) - 1; i++)
		norm[i] = name[i] == '-' ? '_' : name[i];
	norm[i] = '\0';
	snprintf(sys, sizeof(sys), "/sys/module/%s", norm);
	if (path_exists(root, sys))
		return FEATURE_AVAILABLE; /* loaded, or built in with parameters */
	if (module_listed(root, release, "modules.builtin", name))
		return FEATURE_AVAILABLE;
	if (module_listed(root, release, "modules.dep", name))
		return FEATURE_LOADABLE;
	return FEATURE_MISSING;
}
