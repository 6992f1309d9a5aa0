/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PKCS#11 modules and logged-in sessions, cached on the key context so that
 * several unwraps share one module load and one login. A module (the URI's
 * module-path, else [pkcs11] module from volkey.conf) must be one volkey.conf
 * names; it is opened and checked (keytrust_module_open()), loaded with dlopen
 * through that descriptor, once per file (device and inode), and initialized
 * once; its token is the one initialized token the URI matches;
 * the session is read-write (session objects need it) and logged in as CKU_USER
 * with the PIN from the URI's pin-source. */
#pragma once

#include <stdbool.h>
#include <p11-kit/pkcs11.h>
#include "keys/kctx.h"

struct p11_module;

struct p11_token {
	struct p11_module *module;
	CK_FUNCTION_LIST *f;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE session;
	bool logged_in;
	unsigned uses;     /* how many operations got this session (>1: it was cached) */
	CK_RV last_rv;     /* the last failing call's return value, for the reconnect decision */
	char label[33];    /* token label, trailing blanks removed */
	char model[17];
	char manufacturer[33];
	struct p11_token *next;
};

/* The session for u's token, from the cache or newly opened and logged in.
 * Errors are set on the context: -EINVAL (no module, no pin-source), -EPERM
 * (module not in volkey.conf, pin-source outside [pkcs11] pin_dir), -ENOENT
 * (module file missing), -ENOPKG (not a PKCS#11 module), -ENODEV (no matching
 * token), -ENOTUNIQ (several match), -EACCES (PIN rejected), ... */
int p11_token_get(struct kctx *c, const struct key_uri *u, struct p11_token **ret);
/* Closes and forgets t (e.g. its session broke); the next get reconnects. */
void p11_token_drop(struct kctx *c, struct p11_token *t);
/* True for return values after which the session is worth reopening once. */
bool p11_rv_session_lost(CK_RV rv);
