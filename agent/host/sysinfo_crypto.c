// SPDX-License-Identifier: LGPL-2.1-or-later
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/macro.h"
#include "host/sysinfo.h"

struct crypto_entry {
	char name[64], driver[64], module[64], type[32];
	int priority, refcnt;
	bool async, internal, passed;
};

static void consider(const struct crypto_entry *e, struct xts_driver *best)
{
	if (strcmp(e->name, "xts(aes)") != 0 || e->internal || strcmp(e->type, "skcipher") != 0)
		return;
	if (best->found && e->priority <= best->priority)
		return;
	best->found = true;
	snprintf(best->driver, sizeof(best->driver), "%s", e->driver);
	snprintf(best->module, sizeof(best->module), "%s", e->module);
	best->priority = e->priority;
	best->async = e->async;
	best->refcnt = e->refcnt;
	best->selftest_passed = e->passed;
}

/* "key   : value" into key and value, both trimmed. */
static bool split_kv(char *line, char **k, char **v)
{
	char *c = strchr(line, ':');
	char *end;

	if (!c)
		return false;
	*c = '\0';
	end = c;
	while (end > line && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	c++;
	while (*c == ' ' || *c == '\t')
		c++;
	c[strcspn(c, "\n")] = '\0';
	*k = line;
	*v = c;
	return true;
}

int sysinfo_xts_probe(const char *root, struct xts_driver *ret)
{
	_cleanup_free_ char *text = NULL;
	struct xts_driver best = { 0 };
	struct crypto_entry e = { 0 };
	char *save = NULL, *line;
	int r;

	r = read_small_file(root, "/proc/crypto", 4 * 1024 * 1024, &text);
	if (r < 0)
		return r;
	for (line = strtok_r(text, "\n", &save);; line = strtok_r(NULL, "\n", &save)) {
		char *k, *v;
		/* strtok_r skips empty lines, so a new "name" starts a new entry. */
		if (!line || strncmp(line, "name", 4) == 0) {
			consider(&e, &best);
			memset(&e, 0, sizeof(e));
			if (!line)
				break;
		}
		if (!split_kv(line, &k, &v))
			continue;
		if (strcmp(k, "name") == 0)
			snprintf(e.name, sizeof(e.name), "%s", v);
		else if (strcmp(k, "driver") == 0)
			snprintf(e.driver, sizeof(e.driver), "%s", v);
		else if (strcmp(k, "module") == 0)
			snprintf(e.module, sizeof(e.module), "%s", v);
		else if (strcmp(k, "type") == 0)
			snprintf(e.type, sizeof(e.type), "%s", v);
		else if (strcmp(k, "priority") == 0)
			e.priority = atoi(v);
		else if (strcmp(k, "refcnt") == 0)
			e.refcnt = atoi(v);
		else if (strcmp(k, "async") == 0)
			e.async = strcmp(v, "yes") == 0;
		else if (strcmp(k, "internal") == 0)
			e.internal = strcmp(v, "yes") == 0;
		else if (strcmp(k, "selftest") == 0)
			e.passed = strcmp(v, "passed") == 0;
	}
	*ret = best;
	return 0;
}
