// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target: the volkey LUKS2 token parser (and the recovery marker's)
 * on arbitrary bytes, as a disk may hold them. A token that parses must
 * serialize and parse again to the same fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "volume/luks_token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct volkey_token t = { 0 }, u = { 0 };
	char why[256], *json = NULL, *buf;
	int k;

	if (size > VOLKEY_TOKEN_JSON_MAX + 16)
		return 0;
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (volkey_token_parse(buf, size, &t, why, sizeof(why)) == 0) {
		if (!t.key_uri || !t.wrapped.len || !t.binding || !binding_get(t.binding, BINDING_UUID_KEY))
			abort();
		if (t.keyslot >= 0) {
			if (volkey_token_format(&t, &json) != 0)
				abort();
			if (volkey_token_parse(json, strlen(json), &u, why, sizeof(why)) != 0)
				abort();
			if (strcmp(u.key_uri, t.key_uri) || u.wrapped.len != t.wrapped.len ||
			    memcmp(u.wrapped.data, t.wrapped.data, t.wrapped.len) || u.keyslot != t.keyslot ||
			    u.generation != t.generation || u.binding->n != t.binding->n)
				abort();
			free(json);
			volkey_token_clear(&u);
		}
		volkey_token_clear(&t);
	}
	(void)volkey_recovery_token_parse(buf, &k);
	{
		/* The image marker: whatever parses formats and parses back the same. */
		struct image_marker m, back;
		char *json = NULL;
		if (volkey_image_token_parse(buf, &m) == 0) {
			if (volkey_image_token_format(&m, &json) != 0 || volkey_image_token_parse(json, &back) != 0 ||
			    memcmp(&m, &back, sizeof(m)) != 0)
				abort();
			free(json);
		}
	}
	free(buf);
	return 0;
}
