// SPDX-License-Identifier: LGPL-2.1-or-later
#include <stdio.h>
#include <string.h>

#include "base/fileio.h"
#include "base/macro.h"
#include "host/sysinfo.h"

static bool has_flag(const char *flags, const char *want)
{
	size_t n = strlen(want);

	for (const char *p = flags; (p = strstr(p, want)); p += n) {
		bool start = p == flags || p[-1] == ' ' || p[-1] == '\t';
		bool end = p[n] == '\0' || p[n] == ' ' || p[n] == '\n';
		if (start && end)
			return true;
	}
	return false;
}

int sysinfo_cpu_probe(const char *root, struct cpu_aes *ret)
{
	_cleanup_free_ char *text = NULL;
	struct cpu_aes c = { 0 };
	char *flags = NULL, *model, *save = NULL;
	int r;

	r = read_small_file(root, "/proc/cpuinfo", 16 * 1024 * 1024, &text);
	if (r < 0)
		return r;
	/* The first processor stands for all: EC2 instances are homogeneous. */
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		if (!flags && strncmp(line, "flags", 5) == 0)
			flags = colon + 1;
		else if (!c.model[0] && strncmp(line, "model name", 10) == 0) {
			model = colon + 1;
			while (*model == ' ')
				model++;
			snprintf(c.model, sizeof(c.model), "%s", model);
		}
		if (flags && c.model[0])
			break;
	}
	if (!flags)
		return -ENODATA;
	c.aes = has_flag(flags, "aes");
	c.vaes = has_flag(flags, "vaes");
	c.avx2 = has_flag(flags, "avx2");
	c.avx512f = has_flag(flags, "avx512f");
	c.pclmulqdq = has_flag(flags, "pclmulqdq");
	*ret = c;
	return 0;
}
