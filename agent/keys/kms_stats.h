/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Counters of this process's KMS requests by operation, and of the failed
 * ones by error (the KMS error type, or unreachable / tls / malformed), for the
 * metrics of volkeyd (docs/fleet.md). Thread-safe. */
#pragma once

#include <json-c/json.h>

#include "keys/kms_parse.h"

/* One HTTP request to KMS: error NULL when it succeeded. */
void kms_stats_count(enum kms_op op, const char *error);
/* {"Decrypt": {"requests": N, "errors": {"ThrottlingException": N, ...}}, ...}:
 * operations without a request are left out. */
struct json_object *kms_stats_json(void);
