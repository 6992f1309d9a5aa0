/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* volkeyd finishes a volume-key re-encryption that a crash, a reboot or a
 * power cut interrupted, once the volume is open again (online: the filesystem
 * is in use meanwhile). It runs in the device's worker after the device's
 * outcome is recorded, so it never holds up boot readiness. */
#pragma once

#include <stdbool.h>
#include "boot/provision.h"
#include "conf/config.h"

/* Resumes device's re-encryption if one is pending; updates and re-records o. */
void resume_reencryption(const char *dev, const struct volkey_config *cfg, struct device_outcome *o);
/* Asks running resumes to pause at their next checkpoint and waits up to timeout_ms. */
void resume_stop_all(long timeout_ms);
/* Waits for running resumes to finish (volkeyd --once). */
void resume_wait_all(void);
