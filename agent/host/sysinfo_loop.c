// SPDX-License-Identifier: LGPL-2.1-or-later
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "base/fileio.h"
#include "base/macro.h"
#include "host/sysinfo.h"

int sysinfo_loop_probe(const char *root, const char *release, struct loop_support *ret)
{
	_cleanup_(closedirp) DIR *d = NULL;
	struct loop_support l = { 0 };
	char p[4096];
	struct dirent *de;

	if (path_exists(root, "/dev/loop-control"))
		l.state = FEATURE_AVAILABLE;
	else
		l.state = sysinfo_module_state(root, release, "loop");
	if (path_join(p, sizeof(p), root, "/dev") == 0 && (d = opendir(p)))
		while ((de = readdir(d))) {
			const char *n = de->d_name;
			if (strncmp(n, "loop", 4) == 0 && n[4] >= '0' && n[4] <= '9')
				l.count++;
		}
	*ret = l;
	return 0;
}
