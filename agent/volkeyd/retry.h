/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Devices that failed because their key service could not be reached are tried
 * again in the background, during and after boot, until they unlock: capped
 * exponential backoff with full jitter ([volkey] retry, retry_base_ms,
 * retry_cap_ms, retry_max), so a fleet that lost KMS does not come back to it
 * in step. A udev event or a restart still retries at once. */
#pragma once

#include <stdbool.h>
#include "conf/policy.h"

/* Starts the retry thread; due devices are handed to submit(). */
int retry_start(const struct policy *p, void (*submit)(const char *dev));
/* Whether a failure with this -errno is worth retrying: the key service or the
 * credentials endpoint was unreachable, timed out, throttled or failed inside;
 * not a refusal (access denied, disabled or unknown key, bad data). */
bool retry_transient(int err);
/* The delay before retry number attempt (0 for the first) of a device:
 * capped exponential backoff with full jitter, a uniformly random time in
 * [100 ms, min(retry_cap_ms, retry_base_ms * 2^attempt)]; without jitter, that
 * bound itself. retry_schedule() uses it; so does the boot-storm benchmark
 * (tests/progs/storm.c), which plays one device of one instance. */
long retry_delay_ms(const struct policy *p, long attempt, bool jitter);
/* Arms a retry of dev after its attempt failed. Returns the delay in ms; -1
 * when retries are off (or the thread is not running: --once), -2 when
 * retry_max is used up (then the device stays failed). */
long retry_schedule(const char *dev);
/* Forgets dev: it unlocked, or it was removed. */
void retry_forget(const char *dev);
/* Stops the thread; no retry is submitted afterwards. */
void retry_stop(void);
