// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/aead.h"
#include "base/macro.h"
#include "base/secret.h"
#include "cli/doctor_keys.h"
#include "keys/backend.h"

static double ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static int random_uuid(char buf[37])
{
	unsigned char b[16];
	if (random_bytes(b, sizeof(b)) < 0)
		return -EIO;
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(buf, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
		 b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

static int check_one(struct kctx *c, struct key_check *k)
{
	_cleanup_(key_uri_freep) struct key_uri *u = NULL;
	_cleanup_(binding_freep) struct binding *b = NULL;
	_cleanup_secret_ void *s1 = NULL, *s2 = NULL;
	struct wrapped w = { 0 };
	struct timespec t0;
	char uuid[37];
	size_t len = 0;
	int r;

	r = key_uri_parse(k->uri, &u);
	if (r < 0) {
		if (r == -EINVAL)
			snprintf(k->message, sizeof(k->message), "not a key URI (aws-kms:…, pkcs11:…, file:/…)");
		else
			snprintf(k->message, sizeof(k->message), "the key URI %s", key_uri_parse_error(r));
		return r;
	}
	r = random_uuid(uuid);
	if (r >= 0)
		r = binding_new(uuid, &b);
	if (r >= 0)
		r = binding_add(b, "purpose", "volkey-doctor");
	if (r < 0)
		return r;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = key_wrap_new(c, u, b, VOLUME_SECRET_BYTES, &s1, &w);
	k->wrap_ms = ms_since(&t0);
	if (r < 0) {
		snprintf(k->message, sizeof(k->message), "wrap: %s", kctx_error(c));
		return r;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = key_unwrap(c, u, b, &w, &s2, &len);
	k->unwrap_ms = ms_since(&t0);
	wrapped_clear(&w);
	if (r < 0) {
		snprintf(k->message, sizeof(k->message), "unwrap: %s", kctx_error(c));
		return r;
	}
	snprintf(k->key_ref, sizeof(k->key_ref), "%s", kctx_last_info(c)->key_ref);
	snprintf(k->region, sizeof(k->region), "%s", kctx_last_info(c)->region);
	snprintf(k->cred_source, sizeof(k->cred_source), "%s", kctx_last_info(c)->cred_source);
	if (len != VOLUME_SECRET_BYTES || !secret_memeq(s1, s2, len)) {
		snprintf(k->message, sizeof(k->message), "the unwrapped secret differs from the wrapped one");
		return -EBADMSG;
	}
	snprintf(k->message, sizeof(k->message), "wrap and unwrap round trip ok");
	return 0;
}

int doctor_check_keys(const struct volkey_config *cfg, char **uris, int n, struct key_check *checks)
{
	_cleanup_(kctx_freep) struct kctx *c = NULL;
	int r, first = 0;

	r = kctx_new(cfg, &c);
	if (r < 0)
		return r;
	for (int i = 0; i < n; i++) {
		memset(&checks[i], 0, sizeof(checks[i]));
		checks[i].uri = uris[i];
		r = check_one(c, &checks[i]);
		checks[i].ok = r >= 0;
		checks[i].error = r < 0 ? r : 0;
		if (r < 0 && !first)
			first = r;
	}
	return first;
}

void doctor_print_keys(const struct key_check *k, int n)
{
	for (int i = 0; i < n; i++) {
		printf("%-12s %s\n", "key", k[i].uri);
		if (k[i].ok)
			printf("%-12s   OK: %s; wrap %.1f ms, unwrap %.1f ms; key %s%s%s; credentials: %s\n", "",
			       k[i].message, k[i].wrap_ms, k[i].unwrap_ms, k[i].key_ref, k[i].region[0] ? ", region " : "",
			       k[i].region, k[i].cred_source[0] ? k[i].cred_source : "n/a");
		else
			printf("%-12s   FAILED: %s\n", "", k[i].message);
	}
}

json_object *doctor_keys_json(const struct key_check *k, int n)
{
	json_object *a = json_object_new_array();

	for (int i = 0; i < n; i++) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "uri", json_object_new_string(k[i].uri));
		json_object_object_add(o, "ok", json_object_new_boolean(k[i].ok));
		json_object_object_add(o, "message", json_object_new_string(k[i].message));
		json_object_object_add(o, "errno", json_object_new_int(-k[i].error));
		json_object_object_add(o, "key_ref", k[i].key_ref[0] ? json_object_new_string(k[i].key_ref) : NULL);
		json_object_object_add(o, "region", k[i].region[0] ? json_object_new_string(k[i].region) : NULL);
		json_object_object_add(o, "credential_source",
				       k[i].cred_source[0] ? json_object_new_string(k[i].cred_source) : NULL);
		json_object_object_add(o, "wrap_ms", json_object_new_double(k[i].wrap_ms));
		json_object_object_add(o, "unwrap_ms", json_object_new_double(k[i].unwrap_ms));
		json_object_array_add(a, o);
	}
	return a;
}
