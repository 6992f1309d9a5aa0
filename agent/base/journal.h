/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Structured entries for the systemd journal over its native protocol
 * (systemd's JOURNAL_NATIVE_PROTOCOL: one datagram to
 * /run/systemd/journal/socket, "NAME=value\n" per field, or "NAME\n", a 64-bit
 * little-endian length, the value and "\n" when the value holds a newline),
 * written here so that volkey does not link libsystemd for it. Fields are
 * "NAME=value" strings; NAME is upper case letters, digits and '_' and does
 * not start with a digit or '_'. */
#pragma once

#include <stddef.h>

/* The socket journald reads. */
#define JOURNAL_SOCKET "/run/systemd/journal/socket"

/* Sends one entry to JOURNAL_SOCKET. -EINVAL for a malformed field or more than
 * 64, -EMSGSIZE when the entry does not fit in one datagram, -errno when the
 * journal is not there. */
int journal_send(const char *const *fields, size_t n);
/* The same to another datagram socket (the unit test). */
int journal_send_at(const char *socket_path, const char *const *fields, size_t n);
