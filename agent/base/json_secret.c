// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <string.h>

#include "base/json_secret.h"
#include "base/secret.h"

size_t json_skip_ws(const char *s, size_t i, size_t n)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

/* s[i] == '"': index just past the closing quote, or 0 on error. */
static size_t skip_string(const char *s, size_t i, size_t n)
{
	for (i++; i < n; i++) {
		if (s[i] == '\\') {
			i++;
			continue;
		}
		if (s[i] == '"')
			return i + 1;
		if ((unsigned char)s[i] < 0x20)
			return 0;
	}
	return 0;
}

static size_t skip_value(const char *s, size_t i, size_t n)
{
	int depth = 0;

	if (i >= n)
		return 0;
	if (s[i] == '"')
		return skip_string(s, i, n);
	if (s[i] != '{' && s[i] != '[') {
		size_t st = i;
		while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\n' &&
		       s[i] != '\r' && s[i] != '\t')
			i++;
		return i > st ? i : 0;
	}
	for (; i < n; i++) {
		if (s[i] == '"') {
			size_t j = skip_string(s, i, n);
			if (!j)
				return 0;
			i = j - 1;
		} else if (s[i] == '{' || s[i] == '[') {
			if (++depth > 64)
				return 0;
		} else if (s[i] == '}' || s[i] == ']') {
			if (--depth == 0)
				return i + 1;
		}
	}
	return 0;
}

int json_find_member(const char *s, size_t n, const char *name, size_t *ret_off, size_t *ret_len)
{
	size_t i = json_skip_ws(s, 0, n), nl = strlen(name);
	int found = 0;

	if (i >= n || s[i] != '{')
		return -EBADMSG;
	i = json_skip_ws(s, i + 1, n);
	if (i < n && s[i] == '}')
		return -ENOENT;
	for (;;) {
		size_t ks, ke, vs, ve;

		if (i >= n || s[i] != '"')
			return -EBADMSG;
		ks = i;
		ke = skip_string(s, i, n);
		if (!ke)
			return -EBADMSG;
		i = json_skip_ws(s, ke, n);
		if (i >= n || s[i] != ':')
			return -EBADMSG;
		vs = json_skip_ws(s, i + 1, n);
		ve = skip_value(s, vs, n);
		if (!ve)
			return -EBADMSG;
		if (ke - ks == nl + 2 && memcmp(s + ks + 1, name, nl) == 0) {
			if (found++ || s[vs] != '"')
				return -EBADMSG;
			*ret_off = vs + 1;
			*ret_len = ve - vs - 2;
		}
		i = json_skip_ws(s, ve, n);
		if (i < n && s[i] == ',') {
			i = json_skip_ws(s, i + 1, n);
			continue;
		}
		if (i < n && s[i] == '}')
			break;
		return -EBADMSG;
	}
	return found ? 0 : -ENOENT;
}

void json_blank(char *p, size_t n)
{
	memset(p, 'A', n);
}

bool json_is_blanked(const char *s, size_t n)
{
	if (!s || strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] != 'A')
			return false;
	return true;
}

int json_take_secret_string(char *body, size_t len, const char *name, char **ret)
{
	size_t off = 0, n = 0;
	char *s;
	int r = json_find_member(body, len, name, &off, &n);

	if (r < 0)
		return r;
	if (n == 0 || memchr(body + off, '\\', n))
		return -EBADMSG;
	s = secret_alloc(n + 1);
	if (!s)
		return -ENOMEM;
	memcpy(s, body + off, n);
	s[n] = '\0';
	json_blank(body + off, n);
	*ret = s;
	return 0;
}
