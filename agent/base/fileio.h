/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading small text files (sysfs, procfs, DMI) under an optional root prefix,
 * so probes can be pointed at fixture trees in unit tests. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* root + path into buf (root NULL or "" or "/" means the real root). -ENAMETOOLONG if it does not fit. */
int path_join(char *buf, size_t n, const char *root, const char *path);
/* First line of root/path without its newline, malloc'ed into *ret. */
int read_first_line(const char *root, const char *path, char **ret);
/* Whole file (at most max bytes, NUL-terminated), malloc'ed into *ret. -EFBIG when larger. */
int read_small_file(const char *root, const char *path, size_t max, char **ret);
bool path_exists(const char *root, const char *path);
/* May s (a device-derived string: an NVMe serial, a volume id, a LUKS UUID)
 * become one component of a path or a device-mapper name? Only [A-Za-z0-9._-],
 * 1 to 128 characters, and never "." or "..". */
bool name_component_safe(const char *s);
