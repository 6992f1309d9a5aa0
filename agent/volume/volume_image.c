// SPDX-License-Identifier: LGPL-2.1-or-later
/* The image marker on a volume: a `volkey-image` token saying "template from a
 * machine image, not yet re-keyed", and the progress of the re-key that gives
 * the volume its own identity (volume_rekey.c). Reading, writing (one atomic
 * header write each), marking. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/cslock.h"
#include "base/macro.h"
#include "base/testhook.h"
#include "volume/volume.h"

int volume_image_marker(struct volume *v, struct image_marker *ret, int *ret_token)
{
	CS_LOCKED;
	for (int i = 0; i < v->ntokens; i++) {
		const char *json = NULL;

		if (!streq_ptr(v->tokens[i].type, VOLKEY_IMAGE_TOKEN_TYPE))
			continue;
		if (crypt_token_json_get(v->cd, v->tokens[i].id, &json) < 0 || volkey_image_token_parse(json, ret) < 0)
			return -EBADMSG;
		if (ret_token)
			*ret_token = v->tokens[i].id;
		return 1;
	}
	return 0;
}

int volume_image_write(struct volume *v, const struct image_marker *m, struct errbuf *e)
{
	CS_LOCKED;
	_cleanup_free_ char *json = NULL;
	struct image_marker old;
	int id = CRYPT_ANY_TOKEN, r;

	r = volume_image_marker(v, &old, &id);
	if (r == -EBADMSG)
		return err_fail(e, r, "%s: its volkey-image token is malformed", v->path);
	r = volkey_image_token_format(m, &json);
	if (r < 0)
		return err_fail(e, r, "%s: cannot build the volkey-image token: %s", v->path, strerror(-r));
	r = crypt_token_json_set(v->cd, id, json);
	if (r < 0)
		return err_fail(e, r, "%s: cannot write the volkey-image token: %s", v->path, strerror(-r));
	return volume_reload_tokens(v, e);
}

int volume_image_clear(struct volume *v, struct errbuf *e)
{
	CS_LOCKED;
	for (int i = 0; i < v->ntokens; i++) {
		int r;

		if (!streq_ptr(v->tokens[i].type, VOLKEY_IMAGE_TOKEN_TYPE))
			continue;
		r = crypt_token_json_set(v->cd, v->tokens[i].id, NULL);
		if (r < 0)
			return err_fail(e, r, "%s: cannot remove the volkey-image token: %s", v->path, strerror(-r));
	}
	return volume_reload_tokens(v, e);
}

int volume_image_mark_loaded(struct volume *v, struct errbuf *e)
{
	struct image_marker m = { .state = IMAGE_TEMPLATE };
	int r;

	r = volume_image_marker(v, &m, NULL);
	if (r < 0)
		return err_fail(e, r, "%s: its volkey-image token is malformed", v->path);
	if (r > 0)
		return 1;
	rfc3339_now(m.created, sizeof(m.created));
	r = volume_image_write(v, &m, e);
	if (r < 0)
		return r;
	test_crash_point("image-marked");
	return 0;
}

int volume_mark_image(const char *device, const struct volkey_config *cfg, struct errbuf *e)
{
	CS_LOCKED;
	struct volume v;
	int r;

	r = volume_load_for_change(device, cfg, &v, e);
	if (r < 0)
		return r;
	if (volume_count_volkey(&v) == 0)
		r = err_fail(e, -ENOENT, "%s: no volkey token: not a volkey volume", device);
	else
		r = volume_image_mark_loaded(&v, e);
	volume_done(&v);
	return r;
}

int volume_image_mark_path(const char *device, struct errbuf *e)
{
	CS_LOCKED;
	struct volume v;
	int r;

	r = volume_load(device, &v, e);
	if (r < 0)
		return r;
	r = volume_image_mark_loaded(&v, e);
	volume_done(&v);
	return r;
}

int volume_rekey_in_progress(const char *device)
{
	CS_LOCKED;
	struct errbuf e = { { 0 } };
	struct image_marker m;
	struct volume v;
	int r;

	if (volume_load(device, &v, &e) < 0)
		return 0;
	r = volume_image_marker(&v, &m, NULL) > 0 && m.state > IMAGE_TEMPLATE;
	volume_done(&v);
	return r;
}
