// SPDX-License-Identifier: LGPL-2.1-or-later
/* Which key URIs may be acted on. A LUKS token is data an attacker with the
 * disk can write; a PKCS#11 module-path in it would be code that volkey loads
 * as root, a pin-source a file it reads as root. Only the modules volkey.conf
 * names are loaded, and only PIN files under [pkcs11] pin_dir are read. A KMS
 * key ARN in it names an account: [kms] allowed_accounts / allowed_keys say
 * which ones are tried. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/macro.h"
#include "keys/keytrust.h"
#include "keys/p11_pin.h"

/* Is the configured path p (symlinks followed: the administrator wrote it) the file st? */
static bool same_file(const struct stat *st, const char *p)
{
	struct stat ps;

	return p && *p && stat(p, &ps) == 0 && ps.st_dev == st->st_dev && ps.st_ino == st->st_ino;
}

static bool allowed(const struct stat *st, const struct volkey_config *cfg)
{
	char buf[sizeof(cfg->p11_allowed_modules)];
	char *save = NULL;

	if (same_file(st, cfg->p11_module))
		return true;
	snprintf(buf, sizeof(buf), "%s", cfg->p11_allowed_modules);
	for (char *w = strtok_r(buf, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save))
		if (same_file(st, w))
			return true;
	return false;
}

int keytrust_module_open(const struct volkey_config *cfg, const char *path, int *ret_fd, struct stat *ret_st,
			 struct errbuf *e)
{
	_cleanup_free_ char *real = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st, first;

	if (path[0] != '/')
		return err_fail(e, -EINVAL, "PKCS#11 module path %s is not absolute", path);
	real = realpath(path, NULL);
	if (!real)
		return err_fail(e, negative_errno(), "PKCS#11 module %s: %s", path, strerror(errno));
	/* Judged before it is opened: opening a device node or a FIFO a token names
	 * has effects of its own (a watchdog starts, a FIFO blocks). */
	if (stat(real, &first) < 0)
		return err_fail(e, negative_errno(), "PKCS#11 module %s: %s", path, strerror(errno));
	if (!S_ISREG(first.st_mode) || !allowed(&first, cfg))
		return err_fail(e, -EPERM,
				"PKCS#11 module %s is not allowed: volkey.conf names it in neither [pkcs11] module nor "
				"allowed_modules",
				path);
	/* The file itself from here on: a symlink swapped in after realpath() fails
	 * with ELOOP, and whatever was opened is judged again by its descriptor. */
	fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0)
		return err_fail(e, negative_errno(), "PKCS#11 module %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_dev != first.st_dev || st.st_ino != first.st_ino)
		return err_fail(e, -EPERM, "PKCS#11 module %s changed while it was checked: refused", path);
	if (st.st_uid != 0 || (st.st_mode & 022))
		return err_fail(e, -EPERM,
				"PKCS#11 module %s is refused: owned by uid %u, mode %04o (must be owned by root and "
				"not writable by group or others)",
				path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	*ret_fd = TAKE_FD(fd);
	*ret_st = st;
	return 0;
}

/* word (optionally written with "aws-kms:") in a space- or comma-separated list */
static bool listed(const char *list, const char *word)
{
	_cleanup_free_ char *buf = strdup(list);
	char *save = NULL;

	for (char *w = buf ? strtok_r(buf, " \t,", &save) : NULL; w; w = strtok_r(NULL, " \t,", &save)) {
		if (!strncmp(w, "aws-kms:", 8))
			w += 8;
		if (!strcmp(w, word))
			return true;
	}
	return false;
}

/* [kms] allowed_accounts / allowed_keys. A bare key id or alias is resolved by
 * KMS in the caller's own account, so only an ARN can name another account. */
static int kms_key_allowed(const struct key_uri *u, const struct volkey_config *cfg, struct errbuf *e)
{
	if (cfg->kms_allowed_accounts[0] && u->arn_account && !listed(cfg->kms_allowed_accounts, u->arn_account))
		return err_fail(e, -EPERM,
				"KMS key %s is in account %s, which [kms] allowed_accounts does not list: not tried",
				u->key_id, u->arn_account);
	if (cfg->kms_allowed_keys[0] && !listed(cfg->kms_allowed_keys, u->key_id))
		return err_fail(e, -EPERM, "KMS key %s is not in [kms] allowed_keys: not tried", u->key_id);
	return 0;
}

int key_uri_trusted(const struct key_uri *u, const struct volkey_config *cfg, struct errbuf *e)
{
	struct stat st;
	int fd, r;

	if (u->kind == KEY_AWS_KMS)
		return kms_key_allowed(u, cfg, e);
	if (u->kind != KEY_PKCS11)
		return 0;
	if (u->module_path) {
		r = keytrust_module_open(cfg, u->module_path, &fd, &st, e);
		if (r < 0)
			return r;
		close(fd);
	}
	if (u->pin_source && *u->pin_source) {
		r = p11_pin_open(cfg, u->pin_source, &fd, e);
		if (r < 0)
			return r;
		close(fd);
	}
	return 0;
}

int key_uri_load(const char *text, const struct volkey_config *cfg, struct key_uri **ret, struct errbuf *why)
{
	_cleanup_(key_uri_freep) struct key_uri *u = NULL;
	int r = key_uri_parse(text, &u);

	if (r < 0)
		return err_fail(why, r, "key URI %s %s", text, key_uri_parse_error(r));
	r = key_uri_trusted(u, cfg, why);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(u);
	return 0;
}
