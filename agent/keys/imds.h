/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* EC2 instance metadata (IMDSv2 only: a PUT for a session token, then GETs that
 * carry it) and the DMI hint that says whether this machine is EC2 at all.
 * The endpoint is AWS_EC2_METADATA_SERVICE_ENDPOINT if set, else 169.254.169.254;
 * AWS_EC2_METADATA_DISABLED=true turns IMDS off, as in the AWS SDKs. */
#pragma once

#include <stdbool.h>

#define IMDS_DEFAULT_ENDPOINT "http://169.254.169.254"

struct imds;

/* endpoint NULL: from the environment or the default. timeout_ms bounds each request. */
int imds_new(const char *endpoint, long timeout_ms, struct imds **ret);
void imds_free(struct imds *m);
static inline void imds_freep(struct imds **m)
{
	imds_free(*m);
}
const char *imds_endpoint(const struct imds *m);
/* GET /latest/<path> (e.g. "meta-data/instance-id") into a malloc'ed, NUL-terminated
 * body. -ECONNREFUSED/-ETIMEDOUT/-EHOSTUNREACH when unreachable, -ENOENT on 404,
 * -EACCES on 401 (after one token refresh), -EPERM on 403, -EPROTO otherwise. */
int imds_get(struct imds *m, const char *path, char **ret_body);
/* The same with the body in secret memory (free with secret_free): role credentials. */
int imds_get_secret(struct imds *m, const char *path, char **ret_body);

/* True when AWS_EC2_METADATA_DISABLED says so. */
bool imds_disabled_by_env(void);
/* True when AWS_EC2_METADATA_SERVICE_ENDPOINT is set (an explicit request to use it). */
bool imds_endpoint_from_env(void);

/* DMI (root-relative /sys/class/dmi/id): Nitro has sys_vendor "Amazon EC2",
 * Xen-based instances a product_uuid or hypervisor uuid starting with "ec2". */
struct ec2_dmi {
	bool ec2;
	char vendor[64];
	char asset_tag[32]; /* the instance id on Nitro */
};
int ec2_dmi_probe(const char *root, struct ec2_dmi *ret);
