/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which key URIs may be acted on (keytrust.c). */
#pragma once

#include <sys/stat.h>

#include "base/errbuf.h"
#include "conf/config.h"
#include "keys/keyuri.h"

/* May a URI be used here? Refuses a PKCS#11 module that volkey.conf does not
 * name, and a pin-source outside [pkcs11] pin_dir (a token is data from a disk;
 * a module path is code run as root). The same checks run again where the
 * module is loaded and the PIN read; this one answers before anything is done
 * (format and bind check their keys before writing). */
int key_uri_trusted(const struct key_uri *u, const struct volkey_config *cfg, struct errbuf *e);
/* key_uri_parse() then key_uri_trusted(); the reason in why ("key URI X is malformed", or the refusal). */
int key_uri_load(const char *text, const struct volkey_config *cfg, struct key_uri **ret, struct errbuf *why);
/* Opens the PKCS#11 module at path for loading: its real path, opened with
 * O_NOFOLLOW, must be a regular file that is the same file (st_dev, st_ino) as
 * [pkcs11] module or an allowed_modules entry, owned by root and not writable by
 * group or others. The caller loads that descriptor (/proc/self/fd/N), so the
 * file checked is the file loaded. Errors: -EPERM (not allowed), -EINVAL (not
 * absolute), -ENOENT and other open errors. */
int keytrust_module_open(const struct volkey_config *cfg, const char *path, int *ret_fd, struct stat *ret_st,
			 struct errbuf *e);
