/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* AWS names that decide where traffic goes: regions, partitions, account ids,
 * and the KMS host they make. A region or partition read from a disk (a key
 * ARN in a LUKS2 token) or from the environment is checked here before any of
 * it becomes part of a host name, so no such text can name a host. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* A region as AWS spells them: lowercase letters, digits and single hyphens,
 * starting with a letter, ending with a digit, at most 32 characters
 * ("us-east-1", "cn-north-1", "us-gov-west-1", "us-isob-east-1"). */
bool aws_region_valid(const char *region);
/* One of the partitions AWS defines: aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b,
 * aws-iso-e, aws-iso-f. */
bool aws_partition_known(const char *partition);
/* The partition a valid region belongs to (by its prefix: cn- is aws-cn, us-gov- is aws-us-gov, ...). */
const char *aws_partition_of_region(const char *region);
/* Exactly twelve decimal digits. */
bool aws_account_valid(const char *account);
/* The KMS endpoint of a region ("https://kms.eu-west-1.amazonaws.com",
 * "https://kms.cn-north-1.amazonaws.com.cn", with fips "https://kms-fips.REGION...").
 * -EINVAL for an invalid region, -EOPNOTSUPP for FIPS where AWS defines no FIPS
 * endpoint (aws-cn), -ENOBUFS if it does not fit. */
int aws_kms_endpoint(const char *region, bool fips, char *buf, size_t n);
