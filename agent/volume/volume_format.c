// SPDX-License-Identifier: LGPL-2.1-or-later
/* volkey format: wrap a secret per key first (nothing on disk changes if a key
 * is unreachable), then write a LUKS2 header marked "volkey-provisioning", a
 * keyslot and a token per key, verify every token unlocks through the real
 * path, and only then mark the header "volkey". A crash anywhere before the
 * mark leaves a header that open refuses and format redoes without --force. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "base/cslock.h"
#include "base/log.h"
#include "base/secret.h"
#include "base/testhook.h"
#include "host/devcheck.h"
#include "keys/backend.h"
#include "keys/keytrust.h"
#include "volume/volume.h"

struct wrapped_key {
	struct key_uri *uri;
	void *secret;
	struct wrapped w;
};

static void wrapped_keys_free(struct wrapped_key *k, int n)
{
	for (int i = 0; i < n; i++) {
		key_uri_free(k[i].uri);
		secret_free(k[i].secret);
		wrapped_clear(&k[i].w);
	}
}

int volume_new_uuid(char *buf, size_t n)
{
	unsigned char u[16];

	if (getrandom(u, sizeof(u), 0) != sizeof(u))
		return -EIO;
	u[6] = (u[6] & 0x0f) | 0x40;
	u[8] = (u[8] & 0x3f) | 0x80;
	snprintf(buf, n, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
		 u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
	return 0;
}

/* What is on the device; 1 when it is volkey's own interrupted format. ret_seen
 * gets what the probe saw, for the second look right before the header write. */
static int check_device(const struct format_opts *o, struct dev_state *ret_seen, struct errbuf *e)
{
	CS_LOCKED;
	const char *dev = o->device;
	struct dev_state s;
	int r = dev_probe(dev, &s);

	if (r >= 0)
		*ret_seen = s;
	if (r == -ENOTBLK)
		return err_fail(e, r, "%s: not a block device or regular file", dev);
	if (r < 0)
		return err_fail(e, r, "%s: %s", dev, strerror(-r));
	/* Mounted or held: refused even with --force; a live filesystem or mapping
	 * under a new header is corruption, not a choice. */
	if (s.mountpoint[0])
		return err_fail(e, -EBUSY, "%s: mounted on %s; refusing to format it", dev, s.mountpoint);
	if (s.holder[0])
		return err_fail(e, -EBUSY, "%s: held by %s; refusing to format it", dev, s.holder);
	if (s.busy)
		return err_fail(e, -EBUSY, "%s: in use by the kernel (exclusive open refused); refusing to format it",
				dev);
	if (!s.is_block && !o->force)
		return err_fail(e, -ENOTBLK, "%s: not a block device (--force formats a regular file)", dev);
	if (strcmp(s.signature, "crypto_LUKS") == 0) {
		struct volume v;
		struct errbuf ignore = { { 0 } };
		bool ours = false;
		char desc[160];

		if (volume_load(dev, &v, &ignore) == 0) {
			/* Our own interrupted format, provided nothing was ever written through it
			 * (open and the token plugin refuse it, but a volume key could be had
			 * elsewhere): its data area must still be blank. */
			ours = streq_ptr(v.subsystem, VOLKEY_SUBSYSTEM_PROVISIONING) &&
			       dev_range_blank(dev, crypt_get_data_offset(v.cd) * 512ULL) == 1;
			snprintf(desc, sizeof(desc), "a LUKS2 volume (%s%sUUID %s)", v.subsystem,
				 v.subsystem[0] ? ", " : "", v.uuid);
			volume_done(&v);
		} else {
			snprintf(desc, sizeof(desc), "a LUKS volume");
		}
		if (ours)
			return 1;
		if (!o->force)
			return err_fail(e, -EEXIST, "%s: holds %s; refusing to format it without --force", dev, desc);
		return 0;
	}
	if (s.signature[0] && !o->force)
		return err_fail(e, -EEXIST, "%s: holds a %s signature; refusing to format it without --force", dev,
				s.signature);
	if (s.has_data && !o->force)
		return err_fail(e, -EEXIST,
				"%s: holds data (non-zero bytes, no known signature); refusing to format it without "
				"--force",
				dev);
	return 0;
}

static int unwrap_check(struct kctx *c, const struct wrapped_key *k, const struct binding *b)
{
	_cleanup_secret_ void *back = NULL;
	size_t len = 0;
	int r = key_unwrap(c, k->uri, b, &k->w, &back, &len);

	if (r < 0)
		return r;
	if (len != VOLUME_SECRET_BYTES || !secret_memeq(back, k->secret, len))
		return kctx_fail(c, -EBADMSG, "the unwrapped secret differs from the one wrapped");
	return 0;
}

static int wrap_all(const struct format_opts *o, const struct volkey_config *cfg, const struct binding *b,
		    struct wrapped_key *keys, struct errbuf *e)
{
	_cleanup_(kctx_freep) struct kctx *c = NULL;
	struct errbuf why = { { 0 } };
	int r;

	r = kctx_new(cfg, &c);
	if (r < 0)
		return err_fail(e, r, "out of memory");
	for (int i = 0; i < o->nkeys; i++) {
		for (int j = 0; j < i; j++)
			if (strcmp(o->keys[i], o->keys[j]) == 0)
				return err_fail(e, -EINVAL, "key %s is given twice", o->keys[i]);
		r = key_uri_parse(o->keys[i], &keys[i].uri);
		if (r < 0)
			return err_fail(e, r, "key URI %s %s", o->keys[i], key_uri_parse_error(r));
		/* The URI will be read back from the token at every unlock: refuse now what
		 * unlock would refuse then. */
		r = key_uri_trusted(keys[i].uri, cfg, &why);
		if (r < 0)
			return err_fail(e, r, "%s: %s; nothing was written", o->device, why.msg);
		r = key_wrap_new(c, keys[i].uri, b, VOLUME_SECRET_BYTES, &keys[i].secret, &keys[i].w);
		if (r < 0)
			return err_fail(e, r, "%s: cannot wrap a secret with %s: %s; nothing was written", o->device,
					o->keys[i], kctx_error(c));
		/* A key that wraps but cannot unwrap (a KMS policy without Decrypt) must fail
		 * here, before the old header is gone. */
		r = unwrap_check(c, &keys[i], b);
		if (r < 0)
			return err_fail(e, r, "%s: %s wraps but does not unwrap: %s; nothing was written", o->device,
					o->keys[i], kctx_error(c));
	}
	return 0;
}

static int add_token(struct crypt_device *cd, const char *dev, const struct wrapped_key *k, int keyslot,
		     const struct binding *b, struct errbuf *e)
{
	CS_LOCKED;
	struct volkey_token t = {
		.version = VOLKEY_TOKEN_VERSION,
		.keyslot = keyslot,
		.key_uri = k->uri->text,
		.key_ref = k->w.key_ref,
		.wrapped = k->w,
		.binding = (struct binding *)b,
		.generation = 1,
	};
	_cleanup_free_ char *json = NULL;
	int r;

	rfc3339_now(t.created, sizeof(t.created));
	r = volkey_token_format(&t, &json);
	if (r < 0)
		return err_fail(e, r, "cannot build the token: %s", strerror(-r));
	r = crypt_token_json_set(cd, CRYPT_ANY_TOKEN, json);
	if (r < 0)
		return err_fail(e, r, "%s: cannot write a LUKS2 token: %s", dev, strerror(-r));
	return r;
}

static int verify_all(const char *dev, const struct volkey_config *cfg, struct errbuf *e)
{
	struct volume v;
	int r;

	r = volume_load(dev, &v, e);
	if (r < 0)
		return r;
	for (int i = 0; i < v.ntokens && r >= 0; i++) {
		struct unlock_result u = { .token = -1 };
		if (v.tokens[i].role != TOKEN_VOLKEY && v.tokens[i].role != TOKEN_BAD)
			continue;
		r = volume_unlock(&v, cfg, v.tokens[i].id, &u, e);
		unlock_result_clear(&u);
	}
	volume_done(&v);
	return r;
}

/* The keys were wrapped between the first look and now (seconds, through the
 * network): look again right before writing. Anything changed (data written, a
 * file system made, mounted, mapped, resized) aborts with nothing written. */
static int same_as_seen(const char *dev, const struct dev_state *seen, struct errbuf *e)
{
	CS_LOCKED;
	struct dev_state now;
	const char *what = NULL;
	int r = dev_probe(dev, &now);

	if (r < 0)
		return err_fail(e, r, "%s: cannot look at it again before writing: %s; nothing was written", dev,
				strerror(-r));
	if (now.rdev != seen->rdev || now.size != seen->size)
		what = "its size or identity";
	else if (strcmp(now.signature, seen->signature))
		what = "its signature";
	else if (now.has_data != seen->has_data)
		what = "its contents";
	else if (strcmp(now.mountpoint, seen->mountpoint) || strcmp(now.holder, seen->holder) || now.busy != seen->busy)
		what = "who uses it";
	if (what)
		return err_fail(e, -EBUSY, "%s: %s changed since it was checked; nothing was written", dev, what);
	return 0;
}

static int write_volume(const struct format_opts *o, const char *uuid, const struct binding *b,
			struct wrapped_key *keys, struct errbuf *e)
{
	CS_LOCKED;
	struct crypt_params_luks2 params = {
		.sector_size = o->sector_size ? o->sector_size : 4096,
		.subsystem = VOLKEY_SUBSYSTEM_PROVISIONING,
	};
	struct crypt_device *cd = NULL;
	int r, slot;

	r = crypt_init(&cd, o->device);
	if (r < 0)
		return err_fail(e, r, "%s: cannot open device: %s", o->device, strerror(-r));
	r = volume_set_fast_pbkdf(cd);
	if (r < 0)
		goto out;
	r = crypt_format(cd, CRYPT_LUKS2, "aes", "xts-plain64", uuid, NULL, 64, &params);
	if (r < 0) {
		err_fail(e, r, "%s: cannot write a LUKS2 header: %s", o->device, strerror(-r));
		goto out;
	}
	test_crash_point("format-header");
	for (int i = 0; i < o->nkeys; i++) {
		slot = crypt_keyslot_add_by_volume_key(cd, CRYPT_ANY_SLOT, NULL, 0, keys[i].secret,
						       VOLUME_SECRET_BYTES);
		if (slot < 0) {
			r = err_fail(e, slot, "%s: cannot add a keyslot: %s", o->device, strerror(-slot));
			goto out;
		}
		test_crash_point("format-keyslot");
		r = add_token(cd, o->device, &keys[i], slot, b, e);
		if (r < 0)
			goto out;
		test_crash_point("format-token");
	}
	r = 0;
out:
	crypt_free(cd);
	return r;
}

/* After the header was written: say what the device now holds. */
static int interrupted(const char *dev, int r, struct errbuf *e)
{
	char was[sizeof(e->msg)];

	snprintf(was, sizeof(was), "%s", e->msg);
	return err_set(e, r, "%s (%s now holds an interrupted volkey format; run format again)", was, dev);
}

static int mark_ready(const char *dev, struct errbuf *e)
{
	CS_LOCKED;
	struct crypt_device *cd = NULL;
	int r;

	r = crypt_init(&cd, dev);
	if (r >= 0)
		r = crypt_load(cd, CRYPT_LUKS2, NULL);
	if (r >= 0)
		r = crypt_set_label(cd, NULL, VOLKEY_SUBSYSTEM);
	crypt_free(cd);
	if (r < 0)
		return err_fail(e, r, "%s: cannot mark the header ready: %s", dev, strerror(-r));
	return 0;
}

int volume_format(const struct format_opts *o, const struct volkey_config *cfg, char *ret_uuid, size_t uuid_len,
		  struct errbuf *e)
{
	_cleanup_(binding_freep) struct binding *b = NULL;
	struct wrapped_key keys[VOLKEY_MAX_KEYS] = { 0 };
	struct dev_state seen;
	char uuid[40];
	int r;

	if (o->nkeys < 1 || o->nkeys > VOLKEY_MAX_KEYS)
		return err_fail(e, -EINVAL, "give between 1 and %d --key options", VOLKEY_MAX_KEYS);
	if (o->sector_size && o->sector_size != 512 && o->sector_size != 1024 && o->sector_size != 2048 &&
	    o->sector_size != 4096)
		return err_fail(e, -EINVAL, "sector size %u is not 512, 1024, 2048 or 4096", o->sector_size);
	r = check_device(o, &seen, e);
	if (r < 0)
		return r;
	if (r == 1)
		log_notice("%s: redoing a volkey format that was interrupted", o->device);
	r = volume_new_uuid(uuid, sizeof(uuid));
	if (r < 0)
		return err_fail(e, r, "cannot draw a UUID");
	r = binding_new(uuid, &b);
	if (r < 0)
		return err_fail(e, r, "out of memory");
	for (int i = 0; i < o->ncontext; i++) {
		r = binding_add_kv(b, o->context[i]);
		if (r < 0)
			return err_fail(e, -EINVAL, "--context %s: %s", o->context[i],
					r == -EEXIST ? "key given twice" : "not K=V with an allowed key");
	}
	r = wrap_all(o, cfg, b, keys, e);
	if (r < 0) {
		wrapped_keys_free(keys, o->nkeys);
		return r;
	}
	test_pause_point("format-wrapped");
	r = same_as_seen(o->device, &seen, e);
	if (r < 0) {
		wrapped_keys_free(keys, o->nkeys);
		return r;
	}
	r = write_volume(o, uuid, b, keys, e);
	wrapped_keys_free(keys, o->nkeys);
	if (r >= 0)
		r = verify_all(o->device, cfg, e);
	if (r < 0)
		return interrupted(o->device, r, e);
	test_crash_point("format-verify");
	if (o->image) {
		/* Before "ready": a crash leaves a half-format, never an unmarked template. */
		r = volume_image_mark_path(o->device, e);
		if (r < 0)
			return interrupted(o->device, r, e);
	}
	r = mark_ready(o->device, e);
	if (r < 0)
		return interrupted(o->device, r, e);
	test_crash_point("format-done");
	if (ret_uuid)
		snprintf(ret_uuid, uuid_len, "%s", uuid);
	return 0;
}
