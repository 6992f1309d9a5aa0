// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target: AWS credentials from outside: each input is both
 *  - the shared credentials and config files, read by aws_creds_load() and
 *    aws_profile_region() themselves (served from 0600 memfds by their
 *    /proc/self/fd paths; environment, container and IMDS sources off), for the
 *    default profile and a named one;
 *  - the JSON answer of the container agent or IMDS (aws_creds_parse_json).
 * Whatever is accepted must be usable: a key id and a secret, a short region. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/config.h"
#include "keys/aws_creds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int creds_fd = -1, conf_fd = -1;

static int memfd(const char *env)
{
	char path[64];
	int fd = memfd_create(env, MFD_CLOEXEC);

	if (fd < 0 || fchmod(fd, 0600) < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	setenv(env, path, 1);
	return fd;
}

static void setup(void)
{
	static const char *const off[] = { "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
					   "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
					   "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "HOME" };

	for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++)
		unsetenv(off[i]);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	aws_env_capture();
	creds_fd = memfd("AWS_SHARED_CREDENTIALS_FILE");
	conf_fd = memfd("AWS_CONFIG_FILE");
}

static void put(int fd, const uint8_t *data, size_t size)
{
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
}

static void from_files(const char *profile)
{
	struct volkey_config cfg;
	struct aws_creds c = { 0 };
	char err[512], region[64];

	config_defaults(&cfg);
	snprintf(cfg.aws_profile, sizeof(cfg.aws_profile), "%s", profile);
	if (aws_creds_load(&cfg, &c, err, sizeof(err)) == 0) {
		if (!c.akid[0] || !c.secret || !c.source[0])
			abort();
		aws_creds_clear(&c);
	} else if (!err[0] || c.secret) {
		abort(); /* a failure explains itself and hands back nothing */
	}
	if (aws_profile_region(&cfg, region, sizeof(region)) == 0 && (!region[0] || strlen(region) >= 48))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aws_creds c = { 0 };
	char *body;

	if (size > 16384)
		return 0;
	if (creds_fd < 0)
		setup();
	put(creds_fd, data, size);
	put(conf_fd, data, size);
	from_files("");
	from_files("prod");

	body = malloc(size + 1);
	if (!body)
		abort();
	memcpy(body, data, size);
	body[size] = '\0';
	if (aws_creds_parse_json(body, size, &c) == 0 && (!c.akid[0] || !c.secret || !c.secret[0]))
		abort();
	aws_creds_clear(&c);
	free(body);
	return 0;
}
