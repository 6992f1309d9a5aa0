// SPDX-License-Identifier: LGPL-2.1-or-later
#include <stdio.h>
#include <curl/curl.h>
#include <json-c/json_c_version.h>
#include <libdevmapper.h>
#include <nvme/util.h>
#include <openssl/crypto.h>

#include "base/cslock.h"
#include "host/sysinfo.h"

#ifndef VOLKEY_CRYPTSETUP_VERSION
#error "VOLKEY_CRYPTSETUP_VERSION must come from pkg-config (see Makefile)"
#endif

void sysinfo_lib_versions(struct lib_versions *v)
{
	CS_LOCKED;
	const curl_version_info_data *c = curl_version_info(CURLVERSION_NOW);

	snprintf(v->cryptsetup, sizeof(v->cryptsetup), "%s", VOLKEY_CRYPTSETUP_VERSION);
	if (!dm_get_library_version(v->devmapper, sizeof(v->devmapper)))
		snprintf(v->devmapper, sizeof(v->devmapper), "unknown");
	snprintf(v->nvme, sizeof(v->nvme), "%s", nvme_get_version(NVME_VERSION_PROJECT));
	snprintf(v->openssl, sizeof(v->openssl), "%s", OpenSSL_version(OPENSSL_VERSION));
	snprintf(v->curl, sizeof(v->curl), "%s", c && c->version ? c->version : "unknown");
	snprintf(v->json_c, sizeof(v->json_c), "%s", json_c_version());
}
