// SPDX-License-Identifier: LGPL-2.1-or-later
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/macro.h"
#include "keys/binding.h"

#define AAD_MAGIC "volkey-binding-v1"

static bool is_uuid(const char *s)
{
	static const int dash[] = { 8, 13, 18, 23 };
	size_t n = strlen(s);

	if (n != 36)
		return false;
	for (size_t i = 0, d = 0; i < n; i++) {
		if (d < 4 && (int)i == dash[d]) {
			if (s[i] != '-')
				return false;
			d++;
		} else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F'))) {
			return false;
		}
	}
	return true;
}

static bool clean(const char *s, size_t max)
{
	size_t n = 0;
	for (; *s; s++, n++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return n <= max;
}

static int insert(struct binding *b, const char *key, const char *value)
{
	size_t i;
	char *k, *v;

	if (b->n == BINDING_MAX_PAIRS)
		return -E2BIG;
	for (i = 0; i < b->n; i++) {
		int c = strcmp(b->pairs[i].key, key);
		if (c == 0)
			return -EEXIST;
		if (c > 0)
			break;
	}
	k = strdup(key);
	v = strdup(value);
	if (!k || !v) {
		free(k);
		free(v);
		return -ENOMEM;
	}
	memmove(&b->pairs[i + 1], &b->pairs[i], (b->n - i) * sizeof(b->pairs[0]));
	b->pairs[i].key = k;
	b->pairs[i].value = v;
	b->n++;
	return 0;
}

int binding_new(const char *uuid, struct binding **ret)
{
	struct binding *b;
	int r;

	if (!uuid || !is_uuid(uuid))
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	r = insert(b, BINDING_UUID_KEY, uuid);
	if (r < 0) {
		binding_free(b);
		return r;
	}
	*ret = b;
	return 0;
}

void binding_free(struct binding *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++) {
		free(b->pairs[i].key);
		free(b->pairs[i].value);
	}
	free(b);
}

int binding_add(struct binding *b, const char *key, const char *value)
{
	if (!key || !*key || !value || !clean(key, 256) || !clean(value, 1024))
		return -EINVAL;
	/* "volkey:" is ours; KMS reserves "aws" prefixes for its own context keys. */
	if (strncmp(key, "volkey:", 7) == 0 || strncmp(key, "aws:", 4) == 0 || strncmp(key, "aws-", 4) == 0)
		return -EINVAL;
	return insert(b, key, value);
}

int binding_add_kv(struct binding *b, const char *kv)
{
	_cleanup_free_ char *k = NULL;
	const char *eq = kv ? strchr(kv, '=') : NULL;

	if (!eq)
		return -EINVAL;
	k = strndup(kv, (size_t)(eq - kv));
	if (!k)
		return -ENOMEM;
	return binding_add(b, k, eq + 1);
}

int binding_with_uuid(const struct binding *b, const char *luks_uuid, struct binding **ret)
{
	struct binding *n = NULL;
	int r = binding_new(luks_uuid, &n);

	for (size_t i = 0; r >= 0 && i < b->n; i++)
		if (strcmp(b->pairs[i].key, BINDING_UUID_KEY) != 0)
			r = insert(n, b->pairs[i].key, b->pairs[i].value);
	if (r < 0) {
		binding_free(n);
		return r;
	}
	*ret = n;
	return 0;
}

const char *binding_get(const struct binding *b, const char *key)
{
	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->pairs[i].key, key) == 0)
			return b->pairs[i].value;
	return NULL;
}

static unsigned char *put_str(unsigned char *p, const char *s)
{
	uint32_t n = (uint32_t)strlen(s);
	*p++ = (unsigned char)(n >> 24);
	*p++ = (unsigned char)(n >> 16);
	*p++ = (unsigned char)(n >> 8);
	*p++ = (unsigned char)n;
	memcpy(p, s, n);
	return p + n;
}

int binding_aad(const struct binding *b, unsigned char **ret, size_t *ret_len)
{
	size_t len = sizeof(AAD_MAGIC);
	unsigned char *buf, *p;

	for (size_t i = 0; i < b->n; i++)
		len += 8 + strlen(b->pairs[i].key) + strlen(b->pairs[i].value);
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, AAD_MAGIC, sizeof(AAD_MAGIC)); /* with its NUL */
	p = buf + sizeof(AAD_MAGIC);
	for (size_t i = 0; i < b->n; i++) {
		p = put_str(p, b->pairs[i].key);
		p = put_str(p, b->pairs[i].value);
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

int binding_aad_prefixed(const unsigned char *hdr, size_t hdr_len, const struct binding *b, unsigned char **ret,
			 size_t *ret_len)
{
	_cleanup_free_ unsigned char *ba = NULL;
	size_t blen;
	unsigned char *a;
	int r = binding_aad(b, &ba, &blen);

	if (r < 0)
		return r;
	a = malloc(hdr_len + blen);
	if (!a)
		return -ENOMEM;
	memcpy(a, hdr, hdr_len);
	memcpy(a + hdr_len, ba, blen);
	*ret = a;
	*ret_len = hdr_len + blen;
	return 0;
}
