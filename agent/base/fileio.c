// SPDX-License-Identifier: LGPL-2.1-or-later
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fileio.h"
#include "base/macro.h"

int path_join(char *buf, size_t n, const char *root, const char *path)
{
	int k;

	if (!root || !*root || (root[0] == '/' && root[1] == '\0'))
		root = "";
	k = snprintf(buf, n, "%s%s", root, path);
	if (k < 0 || (size_t)k >= n)
		return -ENAMETOOLONG;
	return 0;
}

int read_small_file(const char *root, const char *path, size_t max, char **ret)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	char p[4096];
	size_t len = 0;
	int r;

	r = path_join(p, sizeof(p), root, path);
	if (r < 0)
		return r;
	fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return negative_errno();
	buf = malloc(max + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t k = read(fd, buf + len, max + 1 - len);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (k == 0)
			break;
		len += (size_t)k;
		if (len > max)
			return -EFBIG;
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	return 0;
}

int read_first_line(const char *root, const char *path, char **ret)
{
	char *s;
	int r = read_small_file(root, path, 64 * 1024, &s);

	if (r < 0)
		return r;
	s[strcspn(s, "\n")] = '\0';
	*ret = s;
	return 0;
}

bool path_exists(const char *root, const char *path)
{
	char p[4096];
	struct stat st;

	if (path_join(p, sizeof(p), root, path) < 0)
		return false;
	return stat(p, &st) == 0;
}

bool name_component_safe(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}
