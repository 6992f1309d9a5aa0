// SPDX-License-Identifier: LGPL-2.1-or-later
/* libcryptsetup-token-volkey.so: the external token handler that lets
 * cryptsetup and systemd-cryptsetup unlock volkey volumes with no volkey
 * process running. It links the same agent code as the CLI (libvolkey.a):
 * token parser, key backends, PKCS#11 module allow-list. Messages go through
 * libcryptsetup's log, so they appear where cryptsetup prints its own. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <libcryptsetup.h>

#include "base/exitcode.h"
#include "base/log.h"
#include "base/secret.h"
#include "keys/aws_creds.h"
#include "keys/backend.h"
#include "keys/keytrust.h"
#include "volume/luks_token.h"
#include "volume/volume.h"

#define EXPORT __attribute__((visibility("default")))

int cryptsetup_token_open(struct crypt_device *cd, int token, char **buffer, size_t *buffer_len, void *usrptr);
void cryptsetup_token_buffer_free(void *buffer, size_t buffer_len);
int cryptsetup_token_validate(struct crypt_device *cd, const char *json);
void cryptsetup_token_dump(struct crypt_device *cd, const char *json);
const char *cryptsetup_token_version(void);

static pthread_once_t setup_once = PTHREAD_ONCE_INIT;

static void setup(void)
{
	/* A guest in someone else's process (cryptsetup, systemd-cryptsetup): read AWS
	 * credentials from the environment without scrubbing it, and leave OpenSSL's and
	 * libcurl's allocators alone. */
	aws_env_capture_keep();
	log_setup("volkey-token");
}

/* libcryptsetup goes on to the next token only after -ENOENT, -EPERM, -EAGAIN or
 * -ENOANO; any other error ends its loop and would hide the volume's other ways in.
 * So: a key service that cannot be reached now is -EAGAIN, anything else -ENOENT. */
static int fail(struct crypt_device *cd, int token, int r, const char *what)
{
	crypt_logf(cd, CRYPT_LOG_ERROR, "volkey token %d: %s\n", token, what);
	return exit_code_from_errno(r) == EXIT_UNAVAILABLE ? -EAGAIN : -ENOENT;
}

EXPORT int cryptsetup_token_open(struct crypt_device *cd, int token, char **buffer, size_t *buffer_len,
				 void *usrptr)
{
	_cleanup_(kctx_freep) struct kctx *c = NULL;
	_cleanup_(key_uri_freep) struct key_uri *u = NULL;
	struct volkey_token t = { 0 };
	struct volkey_config cfg;
	struct errbuf e = { { 0 } };
	const char *json = NULL, *uuid;
	char why[256] = "";
	void *secret = NULL;
	size_t len = 0;
	int r;

	(void)usrptr;
	pthread_once(&setup_once, setup);
	r = crypt_token_json_get(cd, token, &json);
	if (r < 0)
		return fail(cd, token, r, "cannot read the token");
	if (!json)
		return fail(cd, token, -EBADMSG, "empty token");
	r = volkey_token_parse(json, strlen(json), &t, why, sizeof(why));
	if (r < 0)
		return fail(cd, token, r, why);
	if (streq_ptr(crypt_get_subsystem(cd), VOLKEY_SUBSYSTEM_PROVISIONING)) {
		r = fail(cd, token, -EUCLEAN, "the volume's format was interrupted; run volkey format again");
		goto out;
	}
	uuid = crypt_get_uuid(cd);
	if (!streq_ptr(binding_get(t.binding, BINDING_UUID_KEY), uuid)) {
		r = fail(cd, token, -EBADMSG, "its secret is bound to another volume");
		goto out;
	}
	r = config_load(NULL, &cfg, NULL);
	if (r < 0) {
		r = fail(cd, token, r, "cannot read volkey.conf");
		goto out;
	}
	r = key_uri_parse(t.key_uri, &u);
	if (r < 0) {
		snprintf(why, sizeof(why), "key URI %s", key_uri_parse_error(r));
		r = fail(cd, token, r, why);
		goto out;
	}
	r = key_uri_trusted(u, &cfg, &e);
	if (r < 0) {
		r = fail(cd, token, r, e.msg);
		goto out;
	}
	r = kctx_new(&cfg, &c);
	if (r < 0) {
		r = fail(cd, token, r, "out of memory");
		goto out;
	}
	r = key_unwrap(c, u, t.binding, &t.wrapped, &secret, &len);
	if (r < 0) {
		char msg[600];
		snprintf(msg, sizeof(msg), "%s: %s", t.key_uri, kctx_error(c));
		r = fail(cd, token, r, msg);
		goto out;
	}
	*buffer = secret;
	*buffer_len = len;
	r = 0;
out:
	volkey_token_clear(&t);
	return r;
}

EXPORT void cryptsetup_token_buffer_free(void *buffer, size_t buffer_len)
{
	(void)buffer_len;
	secret_free(buffer);
}

EXPORT int cryptsetup_token_validate(struct crypt_device *cd, const char *json)
{
	struct volkey_token t = { 0 };
	char why[256] = "";
	int r;

	r = volkey_token_parse(json, strlen(json), &t, why, sizeof(why));
	if (r < 0) {
		crypt_logf(cd, CRYPT_LOG_DEBUG, "volkey token rejected: %s", why);
		return -EINVAL;
	}
	volkey_token_clear(&t);
	return 0;
}

EXPORT void cryptsetup_token_dump(struct crypt_device *cd, const char *json)
{
	struct volkey_token t = { 0 };
	char why[256] = "";

	if (volkey_token_parse(json, strlen(json), &t, why, sizeof(why)) < 0) {
		crypt_logf(cd, CRYPT_LOG_NORMAL, "\tvolkey:     unreadable (%s)\n", why);
		return;
	}
	crypt_logf(cd, CRYPT_LOG_NORMAL, "\tVersion:    %d\n", t.version);
	crypt_logf(cd, CRYPT_LOG_NORMAL, "\tKey URI:    %s\n", t.key_uri);
	if (t.key_ref)
		crypt_logf(cd, CRYPT_LOG_NORMAL, "\tWrapped by: %s\n", t.key_ref);
	crypt_logf(cd, CRYPT_LOG_NORMAL, "\tGeneration: %lu\n", t.generation);
	crypt_logf(cd, CRYPT_LOG_NORMAL, "\tCreated:    %s\n", t.created);
	crypt_logf(cd, CRYPT_LOG_NORMAL, "\tWrapped:    %zu bytes\n", t.wrapped.len);
	for (size_t i = 0; i < t.binding->n; i++)
		crypt_logf(cd, CRYPT_LOG_NORMAL, "\tContext:    %s=%s\n", t.binding->pairs[i].key,
			   t.binding->pairs[i].value);
	volkey_token_clear(&t);
}

EXPORT const char *cryptsetup_token_version(void)
{
	return VOLKEY_VERSION;
}
