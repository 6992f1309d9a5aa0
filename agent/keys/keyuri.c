// SPDX-License-Identifier: LGPL-2.1-or-later
#include <stdlib.h>
#include <string.h>
#include <p11-kit/uri.h>

#include "base/awsname.h"
#include "base/macro.h"
#include "keys/keyuri.h"

const char *key_kind_to_string(enum key_kind k)
{
	switch (k) {
	case KEY_FILE:
		return "file";
	case KEY_AWS_KMS:
		return "aws-kms";
	case KEY_PKCS11:
		return "pkcs11";
	}
	return "unknown";
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s == 0x7f)
			return false;
	return true;
}

/* key/ID: a key id ("1234abcd-...", "mrk-..."); alias/NAME as KMS allows alias names. */
static bool resource_valid(const char *r)
{
	const char *p;
	bool alias = strncmp(r, "alias/", 6) == 0;

	if (!alias && strncmp(r, "key/", 4) != 0)
		return false;
	p = r + (alias ? 6 : 4);
	if (!*p || strlen(p) > 256)
		return false;
	for (; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '-' ||
		      (alias && (*p == '/' || *p == '_'))))
			return false;
	return true;
}

/* arn:PARTITION:kms:REGION:ACCOUNT:key/ID or :alias/NAME. The partition, region
 * and account become a host name and a signing scope: each is checked against
 * what AWS defines, and the region must belong to the partition. */
static int parse_arn(struct key_uri *u)
{
	_cleanup_free_ char *copy = strdup(u->key_id);
	char *f[6], *p = copy;
	int n = 0;

	if (!copy)
		return -ENOMEM;
	/* split on every ':' (empty fields count), six fields exactly */
	while (n < 6) {
		f[n++] = p;
		p = strchr(p, ':');
		if (!p)
			break;
		*p++ = '\0';
	}
	if (n != 6 || p || strcmp(f[0], "arn") != 0 || strcmp(f[2], "kms") != 0)
		return -EINVAL;
	if (!aws_partition_known(f[1]) || !aws_region_valid(f[3]) || strcmp(aws_partition_of_region(f[3]), f[1]) ||
	    !aws_account_valid(f[4]) || !resource_valid(f[5]))
		return -EINVAL;
	u->arn_partition = strdup(f[1]);
	u->arn_region = strdup(f[3]);
	u->arn_account = strdup(f[4]);
	u->is_alias = strncmp(f[5], "alias/", 6) == 0;
	if (!u->arn_partition || !u->arn_region || !u->arn_account)
		return -ENOMEM;
	return 0;
}

static int parse_kms(struct key_uri *u, const char *rest)
{
	char res[300];

	if (!*rest || strlen(rest) > 2048 || !printable(rest))
		return -EINVAL;
	u->key_id = strdup(rest);
	if (!u->key_id)
		return -ENOMEM;
	if (strncmp(rest, "arn:", 4) == 0)
		return parse_arn(u);
	u->is_alias = strncmp(rest, "alias/", 6) == 0;
	/* a bare key id or alias name: checked as the resource of an ARN */
	if (snprintf(res, sizeof(res), "%s%s", u->is_alias ? "" : "key/", rest) >= (int)sizeof(res))
		return -EINVAL;
	return resource_valid(res) ? 0 : -EINVAL;
}

static int parse_pkcs11(struct key_uri *u, const char *s)
{
	P11KitUri *p = p11_kit_uri_new();

	if (!p)
		return errno == ELIBACC ? -ELIBACC : -ENOMEM; /* p11-kit could not be loaded (base/dlib.h) */
	if (p11_kit_uri_parse(s, P11_KIT_URI_FOR_ANY, p) != P11_KIT_URI_OK) {
		p11_kit_uri_free(p);
		return -EINVAL;
	}
	u->p11 = p;
	u->module_path = p11_kit_uri_get_module_path(p);
	u->pin_source = p11_kit_uri_get_pin_source(p);
	u->mechanism = p11_kit_uri_get_vendor_query(p, "x-mechanism");
	return 0;
}

const char *key_uri_parse_error(int r)
{
	switch (r) {
	case -ENOMEM:
		return "cannot be read: out of memory";
	case -ELIBACC:
		return "cannot be read: libp11-kit.so.0 could not be loaded";
	default:
		return "is malformed";
	}
}

int key_uri_parse(const char *s, struct key_uri **ret)
{
	struct key_uri *u;
	int r;

	if (!s)
		return -EINVAL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->text = strdup(s);
	if (!u->text) {
		free(u);
		return -ENOMEM;
	}
	if (strncmp(s, "aws-kms:", 8) == 0) {
		u->kind = KEY_AWS_KMS;
		r = parse_kms(u, s + 8);
	} else if (strncmp(s, "pkcs11:", 7) == 0) {
		u->kind = KEY_PKCS11;
		r = parse_pkcs11(u, s);
	} else if (strncmp(s, "file:", 5) == 0) {
		u->kind = KEY_FILE;
		/* file:/abs/path or file:///abs/path */
		const char *p = s + 5;
		if (strncmp(p, "//", 2) == 0)
			p += 2;
		r = (p[0] == '/' && strlen(p) < 4096 && printable(p)) ? 0 : -EINVAL;
		if (r == 0 && !(u->path = strdup(p)))
			r = -ENOMEM;
	} else {
		r = -EINVAL;
	}
	if (r < 0) {
		key_uri_free(u);
		return r;
	}
	*ret = u;
	return 0;
}

void key_uri_free(struct key_uri *u)
{
	if (!u)
		return;
	free(u->text);
	free(u->path);
	free(u->key_id);
	free(u->arn_region);
	free(u->arn_partition);
	free(u->arn_account);
	if (u->p11)
		p11_kit_uri_free(u->p11);
	free(u);
}

char *key_uri_arn_for_region(const struct key_uri *u, const char *region)
{
	const char *res = u->key_id;
	char *s;

	if (u->kind != KEY_AWS_KMS || !u->arn_region || !aws_region_valid(region) ||
	    strcmp(aws_partition_of_region(region), u->arn_partition))
		return NULL;
	for (int i = 0; i < 5 && res; i++) /* past arn:PARTITION:kms:REGION:ACCOUNT: */
		if ((res = strchr(res, ':')))
			res++;
	if (!res)
		return NULL;
	if (asprintf(&s, "arn:%s:kms:%s:%s:%s", u->arn_partition, region, u->arn_account, res) < 0)
		return NULL;
	return s;
}
