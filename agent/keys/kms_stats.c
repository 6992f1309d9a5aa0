// SPDX-License-Identifier: LGPL-2.1-or-later
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/macro.h"
#include "keys/kms_stats.h"

#define KMS_NOPS (KMS_DESCRIBE_KEY + 1)
#define KMS_NERRS 12 /* distinct error labels kept per operation; the rest count as "other" */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	unsigned long requests;
	struct {
		char label[48];
		unsigned long n;
	} errors[KMS_NERRS];
} ops[KMS_NOPS];
static __thread struct kms_tally tally;

/* KMS error types are [A-Za-z]+ ("…Exception"); anything else is not used as a label. */
static bool label_ok(const char *s)
{
	if (!*s || strlen(s) >= sizeof(ops[0].errors[0].label))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

/* The throttling error types kms_client.c retries as such. */
static bool throttling(const char *error)
{
	static const char *const t[] = { "ThrottlingException", "Throttling", "TooManyRequestsException",
					 "RequestLimitExceeded", "LimitExceededException" };

	for (size_t i = 0; error && i < ARRAY_SIZE(t); i++)
		if (!strcmp(error, t[i]))
			return true;
	return false;
}

void kms_stats_count(enum kms_op op, const char *error)
{
	if ((unsigned)op >= KMS_NOPS)
		return;
	tally.requests++;
	tally.throttled += throttling(error);
	pthread_mutex_lock(&mu);
	ops[op].requests++;
	if (error) {
		const char *label = label_ok(error) ? error : "other";
		for (int i = 0; i < KMS_NERRS; i++) {
			if (!ops[op].errors[i].label[0])
				snprintf(ops[op].errors[i].label, sizeof(ops[op].errors[i].label), "%s",
					 i == KMS_NERRS - 1 ? "other" : label);
			if (!strcmp(ops[op].errors[i].label, label) || i == KMS_NERRS - 1) {
				ops[op].errors[i].n++;
				break;
			}
		}
	}
	pthread_mutex_unlock(&mu);
}

void kms_stats_thread(struct kms_tally *ret)
{
	*ret = tally;
}

struct json_object *kms_stats_json(void)
{
	struct json_object *all = json_object_new_object();

	pthread_mutex_lock(&mu);
	for (int op = 0; all && op < KMS_NOPS; op++) {
		struct json_object *o, *errs;

		if (!ops[op].requests)
			continue;
		o = json_object_new_object();
		errs = json_object_new_object();
		json_object_object_add(o, "requests", json_object_new_int64((int64_t)ops[op].requests));
		for (int i = 0; i < KMS_NERRS && ops[op].errors[i].label[0]; i++)
			json_object_object_add(errs, ops[op].errors[i].label,
					       json_object_new_int64((int64_t)ops[op].errors[i].n));
		json_object_object_add(o, "errors", errs);
		json_object_object_add(all, kms_op_name((enum kms_op)op), o);
	}
	pthread_mutex_unlock(&mu);
	return all;
}
