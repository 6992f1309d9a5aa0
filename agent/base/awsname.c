// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/awsname.h"
#include "base/macro.h"

struct partition {
	const char *name;
	const char *region_prefix; /* "" for the default partition */
	const char *dns_suffix;
	bool kms_fips;
};

/* Longest prefixes first: "us-isob-" must win over "us-iso-". */
static const struct partition partitions[] = {
	{ "aws-cn", "cn-", "amazonaws.com.cn", false },
	{ "aws-us-gov", "us-gov-", "amazonaws.com", true },
	{ "aws-iso-b", "us-isob-", "sc2s.sgov.gov", true },
	{ "aws-iso-f", "us-isof-", "csp.hci.ic.gov", true },
	{ "aws-iso-e", "eu-isoe-", "cloud.adc-e.uk", true },
	{ "aws-iso", "us-iso-", "c2s.ic.gov", true },
	{ "aws", "", "amazonaws.com", true },
};

bool aws_region_valid(const char *r)
{
	size_t n;

	if (!r)
		return false;
	n = strlen(r);
	if (n < 4 || n > 32 || !(r[0] >= 'a' && r[0] <= 'z') || !(r[n - 1] >= '0' && r[n - 1] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = r[i];
		if (c == '-' ? r[i + 1] == '-' : !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return false;
	}
	return strchr(r, '-') != NULL;
}

static const struct partition *partition_of(const char *region)
{
	for (size_t i = 0; i < ARRAY_SIZE(partitions); i++)
		if (!strncmp(region, partitions[i].region_prefix, strlen(partitions[i].region_prefix)))
			return &partitions[i];
	return &partitions[ARRAY_SIZE(partitions) - 1];
}

bool aws_partition_known(const char *p)
{
	for (size_t i = 0; p && i < ARRAY_SIZE(partitions); i++)
		if (!strcmp(p, partitions[i].name))
			return true;
	return false;
}

const char *aws_partition_of_region(const char *region)
{
	return partition_of(region)->name;
}

bool aws_account_valid(const char *a)
{
	if (!a || strlen(a) != 12)
		return false;
	for (; *a; a++)
		if (*a < '0' || *a > '9')
			return false;
	return true;
}

int aws_kms_endpoint(const char *region, bool fips, char *buf, size_t n)
{
	const struct partition *p;
	int k;

	if (!aws_region_valid(region))
		return -EINVAL;
	p = partition_of(region);
	if (fips && !p->kms_fips)
		return -EOPNOTSUPP;
	k = snprintf(buf, n, "https://kms%s.%s.%s", fips ? "-fips" : "", region, p->dns_suffix);
	return k < 0 || (size_t)k >= n ? -ENOBUFS : 0;
}
