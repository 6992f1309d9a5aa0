// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <stdbool.h>
#include <time.h>
#include <json-c/json.h>

#include "base/b64.h"
#include "base/macro.h"
#include "volume/luks_token.h"

static inline void json_putp(struct json_object **o)
{
	if (*o)
		json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_putp)

void volkey_token_clear(struct volkey_token *t)
{
	if (!t)
		return;
	free(t->key_uri);
	free(t->key_ref);
	wrapped_clear(&t->wrapped);
	binding_free(t->binding);
	memset(t, 0, sizeof(*t));
}

void rfc3339_now(char *buf, size_t n)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int why(char *buf, size_t n, int r, const char *fmt, const char *arg)
{
	if (buf && n)
		snprintf(buf, n, fmt, arg);
	return r;
}

static int parse_json(const char *json, size_t len, struct json_object **ret)
{
	struct json_tokener *tok;
	struct json_object *o;

	if (!json || len == 0 || len > VOLKEY_TOKEN_JSON_MAX || memchr(json, '\0', len))
		return -EBADMSG;
	tok = json_tokener_new_ex(8);
	if (!tok)
		return -ENOMEM;
	o = json_tokener_parse_ex(tok, json, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success || json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		json_tokener_free(tok);
		return -EBADMSG;
	}
	json_tokener_free(tok);
	*ret = o;
	return 0;
}

/* A string member without control characters (they would reach terminals and
 * logs through status, luksDump and error lines), or NULL. */
static const char *get_string(struct json_object *o, const char *key)
{
	struct json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return NULL;
	return s;
}

/* "YYYY-MM-DDTHH:MM:SSZ", a real calendar time. */
static bool rfc3339_ok(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	struct tm tm = { 0 }, back;
	time_t t;

	if (strlen(s) != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return false;
	if (!strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm))
		return false;
	back = tm;
	t = timegm(&back);
	if (t == (time_t)-1 || !gmtime_r(&t, &back))
		return false;
	return back.tm_year == tm.tm_year && back.tm_mon == tm.tm_mon && back.tm_mday == tm.tm_mday &&
	       back.tm_hour == tm.tm_hour && back.tm_min == tm.tm_min && back.tm_sec == tm.tm_sec;
}

/* One keyslot number: a canonical decimal string 0..31. */
static int keyslot_number(struct json_object *v, int *ret)
{
	const char *s;
	char *end;
	long n;

	if (!json_object_is_type(v, json_type_string))
		return -EBADMSG;
	s = json_object_get_string(v);
	if (s[0] < '0' || s[0] > '9')
		return -EBADMSG;
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || end == s || *end || n < 0 || n > 31 || s[0] == '-' || s[0] == '+' || (s[0] == '0' && s[1]))
		return -EBADMSG;
	*ret = (int)n;
	return 0;
}

/* "keyslots": up to max decimal keyslot numbers as strings (none: -1, libcryptsetup
 * unassigns a keyslot that was removed behind volkey's back). A volkey token has a
 * second keyslot only while a volume-key re-encryption is prepared or running: the
 * same secret in a keyslot of the new volume key. */
static int get_keyslots(struct json_object *o, size_t max, int *ret, int *ret2)
{
	struct json_object *arr;
	int second = -1;
	size_t n;

	*ret = -1;
	if (!ret2)
		ret2 = &second;
	*ret2 = -1;
	if (!json_object_object_get_ex(o, "keyslots", &arr) || !json_object_is_type(arr, json_type_array))
		return -EBADMSG;
	n = json_object_array_length(arr);
	if (n > max)
		return -EBADMSG;
	if (n >= 1 && keyslot_number(json_object_array_get_idx(arr, 0), ret) < 0)
		return -EBADMSG;
	if (n == 2 && (keyslot_number(json_object_array_get_idx(arr, 1), ret2) < 0 || *ret2 == *ret))
		return -EBADMSG;
	return 0;
}

static int parse_binding(struct json_object *o, struct binding **ret, char *w, size_t wl)
{
	_cleanup_(binding_freep) struct binding *b = NULL;
	struct json_object *bo;
	const char *uuid;
	int r;

	if (!json_object_object_get_ex(o, "binding", &bo) || !json_object_is_type(bo, json_type_object))
		return why(w, wl, -EBADMSG, "%s", "no \"binding\" object");
	uuid = get_string(bo, BINDING_UUID_KEY);
	if (!uuid)
		return why(w, wl, -EBADMSG, "binding has no string %s", BINDING_UUID_KEY);
	r = binding_new(uuid, &b);
	if (r < 0)
		return why(w, wl, -EBADMSG, "binding's %s is not a UUID", BINDING_UUID_KEY);
	json_object_object_foreach(bo, key, val)
	{
		if (strcmp(key, BINDING_UUID_KEY) == 0)
			continue;
		if (!get_string(bo, key))
			return why(w, wl, -EBADMSG, "%s", "a binding value is not a plain string");
		r = binding_add(b, key, json_object_get_string(val));
		if (r == -E2BIG)
			return why(w, wl, -EBADMSG, "%s", "binding has too many pairs");
		if (r < 0)
			return why(w, wl, -EBADMSG, "%s", "a binding key is not allowed (reserved prefix, control character, "
							"or repeated)");
	}
	*ret = TAKE_PTR(b);
	return 0;
}

int volkey_token_parse(const char *json, size_t len, struct volkey_token *ret, char *w, size_t wl)
{
	_cleanup_json_ struct json_object *o = NULL;
	struct volkey_token t = { 0 };
	struct json_object *v;
	const char *s, *blob;
	int64_t n;
	int r;

	if (parse_json(json, len, &o) < 0)
		return why(w, wl, -EBADMSG, "%s", "not a JSON object");
	s = get_string(o, "type");
	if (!s || strcmp(s, VOLKEY_TOKEN_TYPE) != 0)
		return why(w, wl, -EBADMSG, "%s", "type is not \"volkey\"");
	if (!json_object_object_get_ex(o, "volkey_version", &v) || !json_object_is_type(v, json_type_int))
		return why(w, wl, -EBADMSG, "%s", "no integer \"volkey_version\"");
	n = json_object_get_int64(v);
	if (n != VOLKEY_TOKEN_VERSION) {
		if (w && wl)
			snprintf(w, wl, "token version %lld; this volkey reads version %d", (long long)n,
				 VOLKEY_TOKEN_VERSION);
		return -EPROTONOSUPPORT;
	}
	t.version = (int)n;
	if (get_keyslots(o, 2, &t.keyslot, &t.keyslot2) < 0)
		return why(w, wl, -EBADMSG, "%s", "\"keyslots\" is not a list of one or two keyslot numbers");
	t.has_keyslot2 = t.keyslot2 >= 0;
	if (!json_object_object_get_ex(o, "generation", &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 1 || json_object_get_int64(v) > INT32_MAX)
		return why(w, wl, -EBADMSG, "%s", "no positive integer \"generation\"");
	t.generation = (unsigned long)json_object_get_int64(v);
	s = get_string(o, "created");
	if (!s || !rfc3339_ok(s))
		return why(w, wl, -EBADMSG, "%s", "no \"created\" time (YYYY-MM-DDTHH:MM:SSZ)");
	memcpy(t.created, s, strlen(s) + 1);
	if (json_object_object_get_ex(o, "rewrapped", &v)) {
		s = get_string(o, "rewrapped");
		if (!s || !rfc3339_ok(s))
			return why(w, wl, -EBADMSG, "%s", "\"rewrapped\" is not a time (YYYY-MM-DDTHH:MM:SSZ)");
		memcpy(t.rewrapped, s, strlen(s) + 1);
	}

	s = get_string(o, "key_uri");
	if (!s || !*s || strlen(s) > 4096)
		return why(w, wl, -EBADMSG, "%s", "no \"key_uri\"");
	blob = get_string(o, "wrapped");
	if (!blob || !*blob)
		return why(w, wl, -EBADMSG, "%s", "no \"wrapped\" secret");
	r = parse_binding(o, &t.binding, w, wl);
	if (r < 0)
		return r;
	r = -ENOMEM;
	t.key_uri = strdup(s);
	s = get_string(o, "key_ref");
	if (s && *s)
		t.key_ref = strdup(s);
	t.wrapped.data = malloc(b64_decoded_max(strlen(blob)) + 1);
	if (!t.key_uri || (s && *s && !t.key_ref) || !t.wrapped.data)
		goto fail;
	r = b64_decode(blob, strlen(blob), t.wrapped.data, b64_decoded_max(strlen(blob)) + 1, &t.wrapped.len);
	if (r < 0 || t.wrapped.len == 0 || t.wrapped.len > WRAPPED_MAX) {
		r = why(w, wl, -EBADMSG, "%s", "\"wrapped\" is not base64 of a wrapped secret");
		goto fail;
	}
	*ret = t;
	return 0;
fail:
	volkey_token_clear(&t);
	return r;
}

static int add_string(struct json_object *o, const char *k, const char *v)
{
	struct json_object *s = json_object_new_string(v);

	if (!s)
		return -ENOMEM;
	if (json_object_object_add(o, k, s) < 0) {
		json_object_put(s);
		return -ENOMEM;
	}
	return 0;
}

static int add_keyslots(struct json_object *o, int keyslot, int keyslot2)
{
	struct json_object *arr = json_object_new_array();
	char num[16], num2[16];

	if (!arr)
		return -ENOMEM;
	snprintf(num, sizeof(num), "%d", keyslot);
	snprintf(num2, sizeof(num2), "%d", keyslot2);
	if (json_object_array_add(arr, json_object_new_string(num)) < 0 ||
	    (keyslot2 >= 0 && json_object_array_add(arr, json_object_new_string(num2)) < 0) ||
	    json_object_object_add(o, "keyslots", arr) < 0) {
		json_object_put(arr);
		return -ENOMEM;
	}
	return 0;
}

static int to_string(struct json_object *o, char **ret)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	char *d;

	if (!s)
		return -ENOMEM;
	d = strdup(s);
	if (!d)
		return -ENOMEM;
	*ret = d;
	return 0;
}

int volkey_token_format(const struct volkey_token *t, char **ret)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	_cleanup_json_ struct json_object *bo = json_object_new_object();
	_cleanup_free_ char *blob = NULL;
	int r;

	if (!o || !bo || !t->binding || !t->key_uri || !t->wrapped.len || t->keyslot < 0)
		return !o || !bo ? -ENOMEM : -EINVAL;
	blob = b64_encode(t->wrapped.data, t->wrapped.len);
	if (!blob)
		return -ENOMEM;
	for (size_t i = 0; i < t->binding->n; i++) {
		r = add_string(bo, t->binding->pairs[i].key, t->binding->pairs[i].value);
		if (r < 0)
			return r;
	}
	if ((r = add_string(o, "type", VOLKEY_TOKEN_TYPE)) < 0 || (r = add_keyslots(o, t->keyslot, t->has_keyslot2 ? t->keyslot2 : -1)) < 0)
		return r;
	if (json_object_object_add(o, "volkey_version", json_object_new_int(VOLKEY_TOKEN_VERSION)) < 0)
		return -ENOMEM;
	if ((r = add_string(o, "key_uri", t->key_uri)) < 0 ||
	    (t->key_ref && (r = add_string(o, "key_ref", t->key_ref)) < 0) ||
	    (r = add_string(o, "wrapped", blob)) < 0)
		return r;
	if (json_object_object_add(o, "binding", bo) < 0)
		return -ENOMEM;
	bo = NULL; /* owned by o now */
	if ((r = add_string(o, "created", t->created)) < 0 ||
	    (t->rewrapped[0] && (r = add_string(o, "rewrapped", t->rewrapped)) < 0))
		return r;
	if (json_object_object_add(o, "generation", json_object_new_int64((int64_t)t->generation)) < 0)
		return -ENOMEM;
	return to_string(o, ret);
}

int volkey_recovery_token_format(int keyslot, const char *created, char **ret)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	int r;

	if (!o)
		return -ENOMEM;
	if ((r = add_string(o, "type", VOLKEY_RECOVERY_TOKEN_TYPE)) < 0 || (r = add_keyslots(o, keyslot, -1)) < 0 ||
	    (r = add_string(o, "created", created)) < 0)
		return r;
	return to_string(o, ret);
}

int volkey_recovery_token_parse(const char *json, int *ret_keyslot)
{
	_cleanup_json_ struct json_object *o = NULL;
	const char *s;

	if (!json || parse_json(json, strlen(json), &o) < 0)
		return -EBADMSG;
	s = get_string(o, "type");
	if (!s || strcmp(s, VOLKEY_RECOVERY_TOKEN_TYPE) != 0)
		return -EBADMSG;
	/* Two while a volume-key re-encryption carries the recovery key over. */
	return get_keyslots(o, 2, ret_keyslot, NULL);
}

static const char *const image_states[] = { "template", "reencrypting", "new-secrets", "uuid-switched" };

static bool uuid_shape(const char *s)
{
	if (!s || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-' : !strchr("0123456789abcdef", s[i]))
			return false;
	return true;
}

int volkey_image_state_parse(const char *s)
{
	for (size_t i = 0; s && i < ARRAY_SIZE(image_states); i++)
		if (strcmp(s, image_states[i]) == 0)
			return (int)i;
	return -EBADMSG;
}

const char *volkey_image_state_name(enum image_state s)
{
	return (unsigned)s < ARRAY_SIZE(image_states) ? image_states[s] : "?";
}

int volkey_image_token_parse(const char *json, struct image_marker *ret)
{
	_cleanup_json_ struct json_object *o = NULL;
	struct image_marker m = { .state = IMAGE_TEMPLATE };
	const char *s;
	int k, st;

	if (!json || parse_json(json, strlen(json), &o) < 0)
		return -EBADMSG;
	s = get_string(o, "type");
	if (!s || strcmp(s, VOLKEY_IMAGE_TOKEN_TYPE) != 0)
		return -EBADMSG;
	if (get_keyslots(o, 0, &k, NULL) < 0)
		return -EBADMSG;
	s = get_string(o, "created");
	if (!s || !rfc3339_ok(s))
		return -EBADMSG;
	snprintf(m.created, sizeof(m.created), "%s", s);
	st = volkey_image_state_parse(get_string(o, "state"));
	if (st < 0)
		return -EBADMSG;
	m.state = (enum image_state)st;
	/* From new-secrets on, both identities are recorded. */
	if (m.state >= IMAGE_NEW_SECRETS) {
		const char *old = get_string(o, "old_uuid"), *neu = get_string(o, "new_uuid");
		if (!uuid_shape(old) || !uuid_shape(neu) || strcmp(old, neu) == 0)
			return -EBADMSG;
		snprintf(m.old_uuid, sizeof(m.old_uuid), "%s", old);
		snprintf(m.new_uuid, sizeof(m.new_uuid), "%s", neu);
	}
	*ret = m;
	return 0;
}

int volkey_image_token_format(const struct image_marker *m, char **ret)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	struct json_object *arr;
	int r;

	if (!o || !(arr = json_object_new_array()))
		return -ENOMEM;
	if (json_object_object_add(o, "keyslots", arr) < 0) {
		json_object_put(arr);
		return -ENOMEM;
	}
	if ((unsigned)m->state >= ARRAY_SIZE(image_states) || !rfc3339_ok(m->created))
		return -EINVAL;
	if (m->state >= IMAGE_NEW_SECRETS &&
	    (!uuid_shape(m->old_uuid) || !uuid_shape(m->new_uuid) || strcmp(m->old_uuid, m->new_uuid) == 0))
		return -EINVAL;
	if ((r = add_string(o, "type", VOLKEY_IMAGE_TOKEN_TYPE)) < 0 || (r = add_string(o, "created", m->created)) < 0 ||
	    (r = add_string(o, "state", image_states[m->state])) < 0)
		return r;
	if (m->state >= IMAGE_NEW_SECRETS &&
	    ((r = add_string(o, "old_uuid", m->old_uuid)) < 0 || (r = add_string(o, "new_uuid", m->new_uuid)) < 0))
		return r;
	return to_string(o, ret);
}
