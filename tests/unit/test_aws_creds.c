// SPDX-License-Identifier: GPL-2.0-or-later
/* The AWS shared credentials and config files: read into secret memory and
 * parsed there, so that no heap block freed along the way (a stdio buffer, a
 * parser's line) ever held the secret access key or the session token; and the
 * INI dialect the AWS files use. This program defines free(): glibc lets a
 * program replace its allocator's entry points, and its own calls (fclose()
 * freeing a stdio buffer) come here too. Each freed block is searched for the
 * secrets before it goes back to glibc. */
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/config.h"
#include "keys/aws_creds.h"
#include "unit.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSECRETKEY"
#define OTHER "other-profile-secret-Q9"
#define TOKEN "IQoJb3JpZ2luX2VjEBcaCXVzLWVhc3QtMSJHMEUCIQDsessiontoken"
/* Real session tokens are longer than the 200-byte lines inih reads by default. */
#define TOKEN_PART "FwoGZXIvYXdzEBYaDLONGTOKENPART0123456789abcdef"

static const char *volatile needles[3];
static volatile int found;

#if defined(__SANITIZE_ADDRESS__)
#define FREE_HOOK 0 /* ASan owns malloc and free: the heap is not searched */
#else
#define FREE_HOOK 1
void __libc_free(void *p);

void free(void *p)
{
	if (p) {
		size_t n = malloc_usable_size(p);
		for (int i = 0; i < 3; i++)
			if (needles[i] && memmem(p, n, needles[i], strlen(needles[i])))
				found++;
	}
	__libc_free(p);
}
#endif

static void watch(const char *a, const char *b, const char *c)
{
	needles[0] = a;
	needles[1] = b;
	needles[2] = c;
	found = 0;
}

static char dir[] = "/tmp/volkey-awscreds-XXXXXX";
static char token[1024];

static void remove_dir(void)
{
	static const char *const names[] = { "control", "credentials", "config", "bad" };
	char p[256];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
}

static void put_file(const char *name, const char *text, char *path, size_t n)
{
	static bool made;
	FILE *f;

	if (!made) {
		CHECK(mkdtemp(dir) != NULL);
		made = true;
		atexit(remove_dir);
	}
	snprintf(path, n, "%s/%s", dir, name);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
	chmod(path, 0600);
}

static void env_for(const char *creds, const char *conf)
{
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", creds, 1);
	setenv("AWS_CONFIG_FILE", conf, 1);
}

TEST(free_hook_sees_stdio_buffers)
{
	char path[256], line[256];
	FILE *f;

#if !FREE_HOOK
	printf("  (ASan build: no free() hook, the heap checks are skipped)\n");
	return;
#endif
	/* Control: the hook sees a plain free(), and fclose() freeing the buffer that
	 * fgets() filled (what reading the file through stdio did). */
	put_file("control", "x = " SECRET "\n", path, sizeof(path));
	watch(SECRET, NULL, NULL);
	{
		char *p = malloc(64);
		CHECK(p != NULL);
		if (p)
			snprintf(p, 64, "%s", SECRET);
		free(p);
	}
	CHECK_EQ_INT(found, 1);
	watch(SECRET, NULL, NULL);
	f = fopen(path, "re");
	CHECK(f != NULL);
	if (f) {
		CHECK(fgets(line, sizeof(line), f) != NULL);
		fclose(f);
	}
	memset(line, 0, sizeof(line));
	CHECK(found >= 1);
	watch(NULL, NULL, NULL);
}

TEST(credentials_file_secret_never_in_freed_heap)
{
	struct volkey_config cfg;
	struct aws_creds c = { 0 };
	char creds[256], conf[256], err[512], text[2048];

	snprintf(text, sizeof(text),
		 "\xef\xbb\xbf# AWS credentials\n"
		 "[other]\n"
		 "aws_access_key_id = AKIDOTHER\n"
		 "aws_secret_access_key = " OTHER "\n"
		 "\n"
		 "[default]  ; the default profile\n"
		 "  aws_access_key_id=AKIDTEST1\n"
		 "aws_secret_access_key: " SECRET "   ; inline comment\r\n"
		 "aws_session_token = " TOKEN "\n"
		 "s3 =\n"
		 "    region = nested-not-ours\n");
	put_file("credentials", text, creds, sizeof(creds));
	put_file("config", "[default]\nregion = eu-west-3\naws_secret_access_key = " OTHER "\n", conf,
		 sizeof(conf));
	env_for(creds, conf);
	config_defaults(&cfg);

	watch(SECRET, OTHER, TOKEN);
	CHECK_EQ_INT(aws_creds_load(&cfg, &c, err, sizeof(err)), 0);
	if (FREE_HOOK)
		CHECK_EQ_INT(found, 0);
	CHECK_STREQ(c.akid, "AKIDTEST1");
	CHECK_STREQ(c.secret, SECRET);
	CHECK_STREQ(c.token, TOKEN);
	CHECK(strstr(c.source, "profile default") != NULL);
	aws_creds_clear(&c);

	/* The other profile, by AWS_PROFILE. */
	setenv("AWS_PROFILE", "other", 1);
	CHECK_EQ_INT(aws_creds_load(&cfg, &c, err, sizeof(err)), 0);
	CHECK_STREQ(c.akid, "AKIDOTHER");
	CHECK_STREQ(c.secret, OTHER);
	CHECK(c.token == NULL);
	aws_creds_clear(&c);
	unsetenv("AWS_PROFILE");

	/* The region from the config file, which holds a secret too. */
	{
		char region[48] = "";
		CHECK_EQ_INT(aws_profile_region(&cfg, region, sizeof(region)), 0);
		CHECK_STREQ(region, "eu-west-3");
	}
	if (FREE_HOOK)
		CHECK_EQ_INT(found, 0);
	watch(NULL, NULL, NULL);
}

TEST(credentials_file_long_session_token)
{
	struct volkey_config cfg;
	struct aws_creds c = { 0 };
	char creds[256], err[512], text[2048];
	size_t n = 0;

	while (n + sizeof(TOKEN_PART) < 800)
		n += (size_t)snprintf(token + n, sizeof(token) - n, "%s", TOKEN_PART);
	snprintf(text, sizeof(text), "[default]\naws_access_key_id = AKIDTEST1\naws_secret_access_key = " SECRET
		 "\naws_session_token = %s\n", token);
	put_file("credentials", text, creds, sizeof(creds));
	env_for(creds, "/dev/null");
	config_defaults(&cfg);
	CHECK_EQ_INT(aws_creds_load(&cfg, &c, err, sizeof(err)), 0);
	CHECK_STREQ(c.token, token);
	aws_creds_clear(&c);
}

TEST(credentials_file_bad_line_and_mode)
{
	struct volkey_config cfg;
	struct aws_creds c = { 0 };
	char creds[256], err[512];

	config_defaults(&cfg);
	put_file("bad", "[default]\naws_access_key_id = AKID\nthis line has no separator\n[broken\n", creds,
		 sizeof(creds));
	env_for(creds, "/dev/null");
	CHECK(aws_creds_load(&cfg, &c, err, sizeof(err)) < 0);
	CHECK(strstr(err, "syntax error on line 3") != NULL);
	chmod(creds, 0644);
	CHECK(aws_creds_load(&cfg, &c, err, sizeof(err)) < 0);
	CHECK(strstr(err, "has mode 0644") != NULL);
}
