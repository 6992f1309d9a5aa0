// SPDX-License-Identifier: GPL-2.0-or-later
/* Test driver for the key backends (not installed): wrap, unwrap, rewrap and
 * describe through agent/keys/backend.h, exactly as volkey does. Secrets never leave
 * the process: it prints only their SHA-256, so tests can compare them.
 *   vk-key [--config F] wrap URI UUID BLOBFILE [K=V...]
 *   vk-key [--config F] unwrap URI UUID BLOBFILE [K=V...]
 *   vk-key [--config F] rewrap FROM-URI TO-URI|- UUID IN OUT [K=V...]
 *   vk-key [--config F] describe URI
 *   vk-key [--config F] unwrap-hold URI UUID BLOBFILE [K=V...]: unwrap, print
 *       "ready", then wait for SIGTERM holding the secret (core-dump tests) */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "base/exitcode.h"
#include "base/log.h"
#include "base/macro.h"
#include "base/memhooks.h"
#include "base/secret.h"
#include "keys/aws_creds.h"
#include "keys/backend.h"

static void print_sha(const void *s, size_t n)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dl;

	EVP_Digest(s, n, d, &dl, EVP_sha256(), NULL);
	printf("sha256=");
	for (unsigned i = 0; i < dl; i++)
		printf("%02x", d[i]);
	printf("\nlen=%zu\n", n);
}

static int write_blob(const char *path, const struct wrapped *w)
{
	FILE *f = fopen(path, "we");
	if (!f)
		return negative_errno();
	if (fwrite(w->data, 1, w->len, f) != w->len) {
		fclose(f);
		return -EIO;
	}
	return fclose(f) == 0 ? 0 : negative_errno();
}

static int read_blob(const char *path, struct wrapped *w)
{
	FILE *f = fopen(path, "re");
	unsigned char buf[WRAPPED_MAX + 1];
	size_t n;

	if (!f)
		return negative_errno();
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (n == 0 || n > WRAPPED_MAX)
		return -EBADMSG;
	w->data = malloc(n);
	if (!w->data)
		return -ENOMEM;
	memcpy(w->data, buf, n);
	w->len = n;
	return 0;
}

static int make_binding(const char *uuid, int argc, char **argv, struct binding **ret)
{
	int r = binding_new(uuid, ret);
	if (r < 0)
		return r;
	for (int i = 0; i < argc; i++) {
		r = binding_add_kv(*ret, argv[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static int fail(struct kctx *c, int r, const char *what)
{
	fprintf(stderr, "vk-key: %s failed: %s\n", what, c ? kctx_error(c) : strerror(-r));
	return r;
}

static void print_info(struct kctx *c)
{
	struct key_info *i = kctx_last_info(c);
	printf("key_ref=%s\nregion=%s\ncred_source=%s\n", i->key_ref, i->region, i->cred_source);
}

static int run(int argc, char **argv)
{
	_cleanup_(kctx_freep) struct kctx *c = NULL;
	_cleanup_(key_uri_freep) struct key_uri *u = NULL, *to = NULL;
	_cleanup_(binding_freep) struct binding *b = NULL;
	_cleanup_secret_ void *secret = NULL;
	struct volkey_config cfg;
	struct wrapped w = { 0 }, w2 = { 0 };
	const char *cmd;
	size_t len = 0;
	int r, line = 0;

	if (argc >= 3 && strcmp(argv[1], "--config") == 0) {
		r = config_load(argv[2], &cfg, &line);
		if (r < 0) {
			fprintf(stderr, "vk-key: config %s: %s (line %d)\n", argv[2], strerror(-r), line);
			return r;
		}
		argc -= 2;
		argv += 2;
	} else {
		r = config_load(NULL, &cfg, &line);
		if (r < 0) {
			fprintf(stderr, "vk-key: config: %s (line %d)\n", strerror(-r), line);
			return r;
		}
	}
	if (argc < 3)
		return -EINVAL;
	cmd = argv[1];
	r = key_uri_parse(argv[2], &u);
	if (r < 0) {
		fprintf(stderr, "vk-key: bad key URI %s\n", argv[2]);
		return r;
	}
	r = kctx_new(&cfg, &c);
	if (r < 0)
		return r;
	if (strcmp(cmd, "describe") == 0) {
		struct key_info i;
		r = key_describe(c, u, &i);
		if (r < 0)
			return fail(c, r, "describe");
		printf("key_ref=%s\nstate=%s\nregion=%s\ncred_source=%s\ndetail=%s\n", i.key_ref, i.state, i.region,
		       i.cred_source, i.detail);
		return 0;
	}
	if (strcmp(cmd, "rewrap") == 0) {
		if (argc < 7)
			return -EINVAL;
		if (strcmp(argv[3], "-") != 0 && (r = key_uri_parse(argv[3], &to)) < 0)
			return r;
		r = make_binding(argv[4], argc - 7, argv + 7, &b);
		if (r < 0)
			return r;
		r = read_blob(argv[5], &w);
		if (r < 0)
			return r;
		r = key_rewrap(c, u, to, b, &w, &w2);
		wrapped_clear(&w);
		if (r < 0)
			return fail(c, r, "rewrap");
		r = write_blob(argv[6], &w2);
		print_info(c);
		wrapped_clear(&w2);
		return r;
	}
	if (argc < 5)
		return -EINVAL;
	r = make_binding(argv[3], argc - 5, argv + 5, &b);
	if (r < 0) {
		fprintf(stderr, "vk-key: bad binding\n");
		return r;
	}
	if (strcmp(cmd, "wrap") == 0) {
		r = key_wrap_new(c, u, b, VOLUME_SECRET_BYTES, &secret, &w);
		if (r < 0)
			return fail(c, r, "wrap");
		r = write_blob(argv[4], &w);
		print_sha(secret, VOLUME_SECRET_BYTES);
		print_info(c);
		wrapped_clear(&w);
		return r;
	}
	if (strcmp(cmd, "unwrap") == 0 || strcmp(cmd, "unwrap-hold") == 0) {
		r = read_blob(argv[4], &w);
		if (r < 0)
			return r;
		r = key_unwrap(c, u, b, &w, &secret, &len);
		wrapped_clear(&w);
		if (r < 0)
			return fail(c, r, "unwrap");
		print_sha(secret, len);
		print_info(c);
		if (strcmp(cmd, "unwrap-hold") == 0) {
			sigset_t ss;
			int sig;
			/* Tear the clients down first, as the agent does after a batch. */
			kctx_free(TAKE_PTR(c));
			printf("ready\n");
			fflush(stdout);
			sigemptyset(&ss);
			sigaddset(&ss, SIGTERM);
			sigprocmask(SIG_BLOCK, &ss, NULL);
			sigwait(&ss, &sig);
		}
		return 0;
	}
	return -EINVAL;
}

int main(int argc, char **argv)
{
	int r;

	memhooks_setup();
	aws_env_capture();
	log_setup("vk-key");
	r = run(argc, argv);
	if (r == -EINVAL && argc < 3)
		fprintf(stderr, "usage: see tests/progs/vk-key.c\n");
	return exit_code_from_errno(r);
}
