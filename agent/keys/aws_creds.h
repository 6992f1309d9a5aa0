/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* AWS credentials, found in the order the AWS SDKs use:
 *   1. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN (captured and
 *      wiped from the environment at startup by aws_env_capture())
 *   2. shared files (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE, AWS_PROFILE or
 *      [aws] profile, default "default"); files readable by group/others are refused
 *   3. container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI / _RELATIVE_URI,
 *      AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE])
 *   4. the instance role through IMDSv2
 * Web identity (AWS_WEB_IDENTITY_TOKEN_FILE) needs STS and is not supported: it is
 * skipped, and said so if nothing else is found. Secrets live in secret memory. */
#pragma once

#include <stdbool.h>
#include <time.h>
#include "conf/config.h"

struct aws_creds {
	char akid[128];
	char *secret; /* secret memory */
	char *token;  /* secret memory, or NULL */
	time_t expires; /* 0: does not expire */
	char source[640];
};

/* Copies the AWS secret variables into secret memory and wipes them from the
 * environment. Idempotent; call early in main(). */
/* The same without touching the environment: for the token plugin, a guest in
 * another program's process whose environment is not volkey's to change. */
void aws_env_capture_keep(void);
void aws_env_capture(void);

/* -ENOKEY with err filled when no source has credentials; other -errno when a
 * source is broken (bad file mode, unreachable service). */
int aws_creds_load(const struct volkey_config *cfg, struct aws_creds *ret, char *err, size_t err_n);
void aws_creds_clear(struct aws_creds *c);
/* Drops the process-wide copy of network-fetched credentials (after ExpiredToken). */
void aws_creds_forget(void);
/* Still usable for at least margin seconds. */
bool aws_creds_fresh(const struct aws_creds *c, time_t now, long margin);
/* The JSON answer of the container agent or IMDS ({AccessKeyId, SecretAccessKey,
 * Token, Expiration}) into c; body (secret memory) is blanked. -EBADMSG when malformed
 * (c may then hold part: aws_creds_clear it). */
int aws_creds_parse_json(char *body, size_t len, struct aws_creds *c);
/* Region from the shared config file's profile (for the region chain), or -ENOENT. */
int aws_profile_region(const struct volkey_config *cfg, char *buf, size_t n);
