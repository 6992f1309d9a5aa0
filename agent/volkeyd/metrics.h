/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* volkeyd's node_exporter textfile ([metrics] textfile): the status document
 * (volume/status_doc.h) in Prometheus' format, rewritten atomically after each
 * device outcome (a second at most after it, so a burst of devices is one
 * write) and every [metrics] interval, so ages and rotations done by the CLI
 * show without an event. docs/fleet.md#metrics. */
#pragma once

#include "conf/config.h"

/* Starts the writer thread (nothing when textfile is ""). */
int metrics_start(const struct volkey_config *cfg);
/* Something changed: write soon. */
void metrics_kick(void);
/* Writes now, in the caller's thread (--once, and at stop). */
void metrics_write_now(void);
void metrics_stop(void);
