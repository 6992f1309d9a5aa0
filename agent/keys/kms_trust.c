// SPDX-License-Identifier: LGPL-2.1-or-later
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/macro.h"
#include "keys/kms_trust.h"

static const char *const system_dirs[] = {
	"/etc/ssl/certs",
	"/etc/pki/ca-trust/extracted/pem/directory-hash",
};
static const char *system_dir;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* "5ad8a5d6.0": eight hex digits, a dot, a digit. */
static bool hashed_name(const char *n)
{
	for (int i = 0; i < 8; i++)
		if (!((n[i] >= '0' && n[i] <= '9') || (n[i] >= 'a' && n[i] <= 'f')))
			return false;
	return n[8] == '.' && n[9] >= '0' && n[9] <= '9' && n[10] == '\0';
}

/* A directory with at least one hashed name that is (or links to) a regular
 * file: an initramfs with only the bundle copied into /etc/ssl/certs is not one. */
static bool hashed_dir(const char *d)
{
	DIR *dir = opendir(d);
	struct dirent *e;
	bool ok = false;

	if (!dir)
		return false;
	while (!ok && (e = readdir(dir))) {
		struct stat st;
		if (hashed_name(e->d_name) && fstatat(dirfd(dir), e->d_name, &st, 0) == 0 && S_ISREG(st.st_mode))
			ok = true;
	}
	closedir(dir);
	return ok;
}

static void find_system_dir(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(system_dirs); i++)
		if (hashed_dir(system_dirs[i])) {
			system_dir = system_dirs[i];
			return;
		}
}

int kms_trust_check(const struct volkey_config *cfg, char *err, size_t n)
{
	struct stat st;

	if (cfg->kms_ca_file[0] || !cfg->kms_ca_path[0])
		return 0;
	if (stat(cfg->kms_ca_path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, n, "[kms] ca_path %s is not a directory", cfg->kms_ca_path);
		return -EINVAL;
	}
	return 0;
}

const char *kms_trust_apply(CURL *h, const struct volkey_config *cfg, char *buf, size_t n)
{
	const char *env = getenv("AWS_CA_BUNDLE");

	if (cfg->kms_ca_file[0] || (!cfg->kms_ca_path[0] && env && *env)) {
		const char *f = cfg->kms_ca_file[0] ? cfg->kms_ca_file : env;
		curl_easy_setopt(h, CURLOPT_CAINFO, f);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
		snprintf(buf, n, "file %s", f);
		return buf;
	}
	if (cfg->kms_ca_path[0]) {
		curl_easy_setopt(h, CURLOPT_CAINFO, NULL);
		curl_easy_setopt(h, CURLOPT_CAPATH, cfg->kms_ca_path);
		snprintf(buf, n, "directory %s", cfg->kms_ca_path);
		return buf;
	}
	pthread_once(&once, find_system_dir);
	if (system_dir) {
		curl_easy_setopt(h, CURLOPT_CAINFO, NULL);
		curl_easy_setopt(h, CURLOPT_CAPATH, system_dir);
		snprintf(buf, n, "directory %s", system_dir);
		return buf;
	}
	snprintf(buf, n, "libcurl default");
	return buf;
}
