// SPDX-License-Identifier: LGPL-2.1-or-later
/* Which key URIs read from a disk may be acted on. A LUKS token is data an
 * attacker with the disk can write; a PKCS#11 module-path in it would be code
 * that volkey loads as root. Only modules the administrator named, or root-owned
 * ones in the system library directories, are loaded. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/macro.h"
#include "keys/keytrust.h"

static bool same_file(const char *a_real, const char *b)
{
	_cleanup_free_ char *rb = NULL;

	if (!b || !*b)
		return false;
	rb = realpath(b, NULL);
	return rb && strcmp(a_real, rb) == 0;
}

static bool in_list(const char *real, const char *list)
{
	char buf[sizeof(((struct volkey_config *)0)->p11_allowed_modules)];
	char *save = NULL;

	snprintf(buf, sizeof(buf), "%s", list);
	for (char *w = strtok_r(buf, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save))
		if (same_file(real, w))
			return true;
	return false;
}

static bool system_owned(const char *real)
{
	static const char *const dirs[] = { "/usr/lib/", "/lib/", "/usr/lib64/", "/lib64/" };
	struct stat st;

	if (stat(real, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		if (strncmp(real, dirs[i], strlen(dirs[i])) == 0)
			return true;
	return false;
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
	_cleanup_free_ char *real = NULL;

	if (u->kind == KEY_AWS_KMS)
		return kms_key_allowed(u, cfg, e);
	if (u->kind != KEY_PKCS11 || !u->module_path)
		return 0;
	real = realpath(u->module_path, NULL);
	if (!real)
		return err_fail(e, negative_errno(), "PKCS#11 module %s: %s", u->module_path, strerror(errno));
	if (same_file(real, cfg->p11_module) || in_list(real, cfg->p11_allowed_modules) || system_owned(real))
		return 0;
	return err_fail(e, -EPERM,
			"PKCS#11 module %s is not allowed for keys named in volume headers (name it in [pkcs11] "
			"allowed_modules)",
			u->module_path);
}

int key_uri_load(const char *text, const struct volkey_config *cfg, struct key_uri **ret, struct errbuf *why)
{
	_cleanup_(key_uri_freep) struct key_uri *u = NULL;
	int r = key_uri_parse(text, &u);

	if (r < 0)
		return err_fail(why, r, "key URI %s is malformed", text);
	r = key_uri_trusted(u, cfg, why);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(u);
	return 0;
}
