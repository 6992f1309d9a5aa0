/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which certificates verify KMS. Parsing a whole CA bundle (Debian's has about
 * 140 roots) costs every process its time and memory; a hashed directory (one
 * file per certificate, found by subject hash, as update-ca-certificates and
 * update-ca-trust keep them) lets OpenSSL read only the issuer it needs.
 * Order: [kms] ca_file, [kms] ca_path, AWS_CA_BUNDLE, then the system's hashed
 * directory if it has one (/etc/ssl/certs on Debian and Ubuntu,
 * /etc/pki/ca-trust/extracted/pem/directory-hash on RHEL 9 and Amazon Linux
 * 2023), else libcurl's built-in bundle. */
#pragma once

#include <curl/curl.h>
#include "conf/config.h"

/* -EINVAL with a one-line reason when [kms] ca_path is what would be used and
 * is not a directory (OpenSSL would only say "unable to get local issuer
 * certificate" for every server). */
int kms_trust_check(const struct volkey_config *cfg, char *err, size_t n);
/* Sets CURLOPT_CAINFO / CURLOPT_CAPATH on h; returns what it chose, for logs
 * ("file PATH", "directory PATH" or "libcurl default"). */
const char *kms_trust_apply(CURL *h, const struct volkey_config *cfg, char *buf, size_t n);
