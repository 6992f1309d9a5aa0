/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which key URIs read from a disk may be acted on (keytrust.c). */
#pragma once

#include "base/errbuf.h"
#include "conf/config.h"
#include "keys/keyuri.h"

/* May a URI read from a token be used here? Refuses PKCS#11 modules outside the
 * allowed set (a token is data from a disk; a module path is code run as root). */
int key_uri_trusted(const struct key_uri *u, const struct volkey_config *cfg, struct errbuf *e);
/* key_uri_parse() then key_uri_trusted(); the reason in why ("key URI X is malformed", or the refusal). */
int key_uri_load(const char *text, const struct volkey_config *cfg, struct key_uri **ret, struct errbuf *why);
