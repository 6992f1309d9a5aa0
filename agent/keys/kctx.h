/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The key context every key operation shares: a copy of the configuration,
 * the one-line explanation of the last failure, each backend's state (the KMS
 * client, PKCS#11 sessions) and what the last operation learnt (key_info).
 * It sits below the backends and their dispatcher (backend.c): both use it,
 * and it knows neither. */
#pragma once

#include "conf/config.h"
#include "keys/keyuri.h"

struct key_info {
	char key_ref[512];   /* key ARN / fingerprint / token:label */
	char state[48];      /* "Enabled", "Disabled", "PendingDeletion", "present", ... */
	char region[48];     /* KMS region that answered */
	char cred_source[64];/* "environment", "profile NAME", "container", "imds role NAME", "file", "pin-source" */
	char detail[256];    /* backend-specific: key spec, mechanism, token label */
	char request_id[64]; /* KMS x-amzn-RequestId of the answer (for support cases and the journal) */
};

struct kctx; /* shared across calls: config, KMS connections and credentials, error text */

/* cfg NULL: the defaults. */
int kctx_new(const struct volkey_config *cfg, struct kctx **ret);
/* Frees every backend's state with the function it was set with. */
void kctx_free(struct kctx *c);
static inline void kctx_freep(struct kctx **c)
{
	kctx_free(*c);
}
const char *kctx_error(const struct kctx *c);
const struct volkey_config *kctx_config(const struct kctx *c);
/* Backends set the error text; returns r for `return kctx_fail(c, r, ...)`. */
int kctx_fail(struct kctx *c, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* An operation starts: no error text, an empty key_info. */
void kctx_begin(struct kctx *c);
/* A backend's state on the context (e.g. the KMS client), or NULL before it set one. */
void *kctx_state(struct kctx *c, enum key_kind kind);
/* Hangs state on the context; kctx_free() releases it with free_state. */
void kctx_set_state(struct kctx *c, enum key_kind kind, void *state, void (*free_state)(void *state));
/* Last key_info filled by an operation: which region answered, credential source. */
struct key_info *kctx_last_info(struct kctx *c);
