/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Running a helper program (mkfs, mdadm, modprobe) and waiting for it. The child
 * starts with no signal blocked and every signal at its default action,
 * whatever the calling thread has blocked or ignored: volkeyd blocks SIGTERM and
 * SIGINT (it reads them from a signalfd), and a child inheriting that mask
 * could not be stopped. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* argv[0] is looked up in PATH. null_stdio: stdin and stdout on /dev/null.
 * Returns the exit status (0..255; 128+N when killed by signal N), or -errno
 * when it could not be started or waited for. */
int spawn_wait(char *const argv[], bool null_stdio);
/* Runs argv with its standard output read into buf (at most cap bytes: more is
 * -E2BIG; the caller wipes buf). Returns the exit status as spawn_wait(). */
int spawn_read(char *const argv[], void *buf, size_t cap, size_t *ret_len);
