/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One lock around libcryptsetup and libdevmapper. Neither library is
 * thread-safe (libdevmapper keeps global state: its log function, udev
 * cookies, the control fd), and the boot agent handles each device in its own
 * thread. Every function that calls into them opens with CS_LOCKED; the lock
 * is recursive per thread, so locked functions may call each other. A thread
 * that must wait for something slow while it holds the lock (the unwrap lanes
 * of an unlock, which talk to KMS or an HSM; mkfs) releases it with
 * cs_suspend() and takes it back with cs_resume(), so unwrapping stays parallel.
 * The token plugin is the exception: it runs inside a libcryptsetup call of
 * another program and takes no lock of its own.
 * The sanitizer builds wrap every libcryptsetup and libdevmapper function the
 * code calls (tests/lockcheck-gen) with a check that this thread holds it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

void cs_lock(void);
void cs_unlock(void);
/* Releases the lock entirely if this thread holds it; returns the depth to give back to cs_resume. */
int cs_suspend(void);
void cs_resume(int depth);
bool cs_held(void);

struct cs_lock_stats {
	uint64_t acquired;   /* first-level acquisitions */
	uint64_t contended;  /* of which found the lock taken */
	uint64_t wait_ns;    /* time spent waiting for it, all threads */
	uint64_t hold_ns;    /* time it was held */
};
void cs_lock_stats(struct cs_lock_stats *ret);

/* Called by the lock-check wrappers: aborts, naming fn, unless this thread holds the lock. */
void cs_check_held(const char *fn);

static inline void cs_unlockp(int *p)
{
	(void)p;
	cs_unlock();
}
/* Holds the lock until the end of the enclosing scope. */
#define CS_LOCKED __attribute__((cleanup(cs_unlockp), unused)) int cs_guard_ = (cs_lock(), 0)

static inline void cs_resumep(int *depth)
{
	cs_resume(*depth);
}
/* Releases the lock (if this thread holds it) until the end of the enclosing
 * scope: for code that waits on the network, an HSM or other threads. */
#define CS_SUSPENDED __attribute__((cleanup(cs_resumep), unused)) int cs_suspended_ = cs_suspend()

/* Lets other threads take the lock once, if this thread holds it (long loops). */
void cs_yield(void);
