/* SPDX-License-Identifier: GPL-2.0-or-later */
/* volkey doctor --key URI: prove each key works end to end, through the same
 * backend code the agent uses: wrap a fresh random secret for a throwaway
 * binding, unwrap it, compare in constant time. */
#pragma once

#include <stdbool.h>
#include <json-c/json.h>

#include "conf/config.h"

struct key_check {
	const char *uri;
	bool ok;
	int error;          /* -errno when !ok */
	char message[1024]; /* why, in plain words */
	char key_ref[512];
	char region[48];
	char cred_source[64];
	double wrap_ms, unwrap_ms;
};

/* Fills checks[i] for each uri; returns 0 when all work, else the first failure's -errno. */
int doctor_check_keys(const struct volkey_config *cfg, char **uris, int n, struct key_check *checks);
void doctor_print_keys(const struct key_check *checks, int n);
json_object *doctor_keys_json(const struct key_check *checks, int n);
