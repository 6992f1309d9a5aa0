// SPDX-License-Identifier: LGPL-2.1-or-later
#include "base/jsonget.h"

struct json_object *json_member(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object))
		return NULL;
	return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

const char *json_member_str(struct json_object *o, const char *k)
{
	struct json_object *v = json_member(o, k);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

bool json_member_num(struct json_object *o, const char *k, double *ret)
{
	struct json_object *v = json_member(o, k);

	if (!v || !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
		return false;
	*ret = json_object_get_double(v);
	return true;
}
