/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Taking secret string members out of a JSON document before json-c parses it:
 * a minimal scanner finds a top-level member's string value in the raw buffer
 * (which the caller keeps in secret memory), the caller copies or decodes it
 * into secret memory, and json_blank() overwrites it in place with 'A's (still
 * valid base64 and JSON). The caller then parses the document with json-c and
 * checks with json_is_blanked() that json-c saw the same member blanked, so the
 * scanner and the parser cannot disagree about which value was taken. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

size_t json_skip_ws(const char *s, size_t i, size_t n);
/* Offset and length of the contents of top-level member `name` (a string).
 * 0 found once; -ENOENT absent; -EBADMSG malformed, repeated or not a string. */
int json_find_member(const char *s, size_t n, const char *name, size_t *ret_off, size_t *ret_len);
void json_blank(char *p, size_t n);
bool json_is_blanked(const char *s, size_t n);
/* Copies member `name` (a string without escapes) into new secret memory and blanks it. */
int json_take_secret_string(char *body, size_t len, const char *name, char **ret);
