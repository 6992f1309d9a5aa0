/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The service manager's notification protocol (sd_notify(3), written here so
 * that volkeyd does not link libsystemd for one datagram): "READY=1",
 * "STATUS=...", "STOPPING=1" sent to the AF_UNIX datagram socket named by
 * $NOTIFY_SOCKET (a path, or "@name" for an abstract socket). */
#pragma once

#include "base/macro.h"

/* 1 when sent, 0 when there is no $NOTIFY_SOCKET (not started by systemd with
 * Type=notify), -errno on failure. */
int sdnotify(const char *state);
int sdnotifyf(const char *fmt, ...) _printf_(1, 2);
