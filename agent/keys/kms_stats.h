/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Counters of this process's KMS requests by operation, and of the failed
 * ones by error (the KMS error type, or unreachable / tls / malformed), for the
 * metrics of volkeyd (docs/fleet.md). Thread-safe. */
#pragma once

#include <json-c/json.h>

#include "keys/kms_parse.h"

/* One HTTP request to KMS: error NULL when it succeeded. */
void kms_stats_count(enum kms_op op, const char *error);
/* The calling thread's own requests (all operations) since it started: the
 * boot-storm benchmark runs one simulated instance per thread and reads them. */
struct kms_tally {
	unsigned long requests;
	unsigned long throttled; /* answered ThrottlingException or another throttling error */
};
void kms_stats_thread(struct kms_tally *ret);
/* {"Decrypt": {"requests": N, "errors": {"ThrottlingException": N, ...}}, ...}:
 * operations without a request are left out. */
struct json_object *kms_stats_json(void);
