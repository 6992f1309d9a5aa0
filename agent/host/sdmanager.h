/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* systemd's manager, spoken to over its private socket (/run/systemd/private:
 * root only, no dbus-daemon needed, still there while the system shuts down),
 * and unit names made from paths as systemd makes them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* systemd's SystemState ("running", "degraded", "stopping", ...) into buf.
 * -errno when systemd is not PID 1 or cannot be reached. */
int sdm_system_state(char *buf, size_t n);
/* Whether the system is shutting down (SystemState "stopping"); false when
 * there is no systemd to ask. */
bool sdm_shutting_down(void);
/* StartUnit(unit, "replace") without waiting for the job. On failure, -errno
 * and the bus error's message in err. */
int sdm_start_unit(const char *unit, char *err, size_t n);
/* The unit name systemd gives a path, with suffix (".mount"): "/srv/my data" →
 * "srv-my\x20data.mount", "/" → "-.mount". -EINVAL for a relative path or one
 * with "." or ".." components, -ENAMETOOLONG when buf is too small. */
int unit_name_from_path(const char *path, const char *suffix, char *buf, size_t n);
