// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "base/macro.h"
#include "host/sdmanager.h"

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_IFACE "org.freedesktop.systemd1.Manager"

#define PRIVATE_SOCKET "/run/systemd/private"

static void busp(sd_bus **b)
{
	if (*b)
		sd_bus_flush_close_unref(*b);
}

static int bus_open(sd_bus **ret)
{
	char addr[300];
	sd_bus *b = NULL;
	int r;

	snprintf(addr, sizeof(addr), "unix:path=%s", PRIVATE_SOCKET);
	r = sd_bus_new(&b);
	if (r < 0)
		return r;
	r = sd_bus_set_address(b, addr);
	if (r >= 0)
		r = sd_bus_start(b);
	if (r < 0) {
		sd_bus_unref(b);
		return r;
	}
	*ret = b;
	return 0;
}

int sdm_system_state(char *buf, size_t n)
{
	_cleanup_(busp) sd_bus *b = NULL;
	sd_bus_error e = SD_BUS_ERROR_NULL;
	_cleanup_free_ char *s = NULL;
	int r = bus_open(&b);

	if (r < 0)
		return r;
	r = sd_bus_get_property_string(b, SD_DEST, SD_PATH, SD_IFACE, "SystemState", &e, &s);
	sd_bus_error_free(&e);
	if (r < 0)
		return r;
	snprintf(buf, n, "%s", s);
	return 0;
}

bool sdm_shutting_down(void)
{
	char st[32];

	return sdm_system_state(st, sizeof(st)) == 0 && !strcmp(st, "stopping");
}

int sdm_start_unit(const char *unit, char *err, size_t n)
{
	_cleanup_(busp) sd_bus *b = NULL;
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus_message *m = NULL, *reply = NULL;
	int r = bus_open(&b);

	if (r < 0) {
		snprintf(err, n, "cannot reach systemd at %s: %s", PRIVATE_SOCKET, strerror(-r));
		return r;
	}
	/* Built call by call, not with the variadic sd_bus_call_method: base/dl_sdbus.c
	 * forwards only fixed signatures. */
	r = sd_bus_message_new_method_call(b, &m, SD_DEST, SD_PATH, SD_IFACE, "StartUnit");
	if (r >= 0)
		r = sd_bus_message_append_basic(m, 's', unit);
	if (r >= 0)
		r = sd_bus_message_append_basic(m, 's', "replace");
	if (r >= 0)
		r = sd_bus_call(b, m, 0, &e, &reply);
	sd_bus_message_unref(m);
	if (r < 0)
		snprintf(err, n, "%s", e.message ? e.message : strerror(-r));
	sd_bus_message_unref(reply);
	sd_bus_error_free(&e);
	return r < 0 ? r : 0;
}

static bool plain(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' ||
	       c == '_' || (c == '.' && !first);
}

int unit_name_from_path(const char *path, const char *suffix, char *buf, size_t n)
{
	size_t o = 0;
	bool first = true;
	const char *p = path;

	if (path[0] != '/')
		return -EINVAL;
	while (*p == '/')
		p++;
	if (!*p)
		return snprintf(buf, n, "-%s", suffix) >= (int)n ? -ENAMETOOLONG : 0;
	while (*p) {
		/* one component */
		size_t len = strcspn(p, "/");

		if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return -EINVAL;
		if (!first) {
			if (o + 1 >= n)
				return -ENAMETOOLONG;
			buf[o++] = '-';
		}
		for (size_t i = 0; i < len; i++) {
			if (plain(p[i], first && i == 0)) {
				if (o + 1 >= n)
					return -ENAMETOOLONG;
				buf[o++] = p[i];
			} else {
				if (o + 4 >= n)
					return -ENAMETOOLONG;
				o += (size_t)snprintf(buf + o, n - o, "\\x%02x", (unsigned char)p[i]);
			}
		}
		first = false;
		p += len;
		while (*p == '/')
			p++;
	}
	if (o + strlen(suffix) >= n)
		return -ENAMETOOLONG;
	snprintf(buf + o, n - o, "%s", suffix);
	return 0;
}
