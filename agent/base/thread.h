/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Threads started with a bounded stack. glibc reserves RLIMIT_STACK (8 MiB) for
 * each thread; volkey's deepest thread (a volkeyd worker: provision, format,
 * unlock, libcryptsetup, a TLS handshake in libcurl and OpenSSL) uses well
 * under 128 KiB, so THREAD_STACK_BYTES leaves it eight times that. Only the
 * pages a thread touches are resident either way; the bound keeps 32 workers
 * from reserving 256 MiB of address space, and a runaway recursion from going
 * unnoticed for 8 MiB. */
#pragma once

#include <pthread.h>
#include <stdbool.h>

#define THREAD_STACK_BYTES (1024 * 1024)

/* pthread_create with THREAD_STACK_BYTES of stack, detached when asked (ret may
 * then be NULL). -errno on failure. */
int thread_start(pthread_t *ret, void *(*fn)(void *), void *arg, bool detached);
