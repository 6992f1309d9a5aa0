// SPDX-License-Identifier: GPL-2.0-or-later
/* Connection sharing driver: wraps one secret per worker (without sharing, so
 * the unwraps start cold), then has N threads,
 * each with its own key context and KMS client (as volkeyd's workers, one per
 * device), unwrap at the same moment; ROUNDS times, PAUSE_MS apart (a pause
 * longer than the server's idle timeout makes the next round reconnect).
 * Usage: kms-par [--no-share] URI N [ROUNDS [PAUSE_MS]]. After "phase=unwrap"
 * it waits for a line on stdin, so the caller can read the double's counters.
 * Prints wall_ms per round; exits non-zero if any unwrap fails. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/exitcode.h"
#include "base/log.h"
#include "base/macro.h"
#include "base/memhooks.h"
#include "base/secret.h"
#include "keys/aws_creds.h"
#include "keys/backend.h"
#include "keys/kms_client.h"

#define MAX_WORKERS 64

static struct volkey_config cfg;
static struct key_uri *uri;
static struct binding *bind;
static struct wrapped blobs[MAX_WORKERS];
static pthread_barrier_t start;
static int failures;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *arg)
{
	struct wrapped *w = arg;
	struct kctx *c = NULL;
	void *s = NULL;
	size_t len;
	int r;

	r = kctx_new(&cfg, &c);
	pthread_barrier_wait(&start);
	if (r == 0)
		r = key_unwrap(c, uri, bind, w, &s, &len);
	if (r < 0) {
		pthread_mutex_lock(&mu);
		failures++;
		fprintf(stderr, "kms-par: unwrap: %s\n", c ? kctx_error(c) : "no context");
		pthread_mutex_unlock(&mu);
	}
	secret_free(s);
	kctx_free(c);
	return NULL;
}

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	struct kctx *c = NULL;
	int n, rounds = 1, pause_ms = 0, a = 1, r;
	pthread_t t[MAX_WORKERS];
	char go[8];

	memhooks_setup();
	aws_env_capture();
	log_setup("kms-par");
	bool share = true;

	if (argc > 1 && !strcmp(argv[1], "--no-share")) {
		share = false;
		a++;
	}
	if (argc - a < 2 || argc - a > 4 || (n = atoi(argv[a + 1])) < 1 || n > MAX_WORKERS) {
		fprintf(stderr, "usage: kms-par [--no-share] URI N(1..%d) [ROUNDS [PAUSE_MS]]\n", MAX_WORKERS);
		return EXIT_USAGE;
	}
	if (argc - a > 2)
		rounds = atoi(argv[a + 2]);
	if (argc - a > 3)
		pause_ms = atoi(argv[a + 3]);
	if ((r = config_load(NULL, &cfg, NULL)) < 0 || (r = key_uri_parse(argv[a], &uri)) < 0 ||
	    (r = binding_new("0f4e1f7a-2b51-4a53-9a43-3f1d3f0d4a11", &bind)) < 0 || (r = kctx_new(&cfg, &c)) < 0)
		return exit_code_from_errno(r);
	/* The wrap phase keeps no connection or TLS session: the unwraps start
	 * cold, as volkeyd at boot. */
	kms_client_share(false);
	for (int i = 0; i < n; i++) {
		void *s = NULL;
		r = key_wrap_new(c, uri, bind, VOLUME_SECRET_BYTES, &s, &blobs[i]);
		secret_free(s);
		if (r < 0) {
			fprintf(stderr, "kms-par: wrap: %s\n", kctx_error(c));
			return exit_code_from_errno(r);
		}
	}
	kctx_free(c);
	kms_client_share(share);
	printf("phase=unwrap\n");
	fflush(stdout);
	if (!fgets(go, sizeof(go), stdin))
		return EXIT_USAGE;
	for (int k = 0; k < rounds; k++) {
		double t0;
		if (k && pause_ms)
			nanosleep(&(struct timespec){ pause_ms / 1000, (pause_ms % 1000) * 1000000L }, NULL);
		pthread_barrier_init(&start, NULL, (unsigned)n);
		t0 = now_ms();
		for (int i = 0; i < n; i++)
			if (pthread_create(&t[i], NULL, worker, &blobs[i]) != 0)
				return EXIT_FAILURE;
		for (int i = 0; i < n; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&start);
		printf("round=%d wall_ms=%.1f\n", k + 1, now_ms() - t0);
	}
	for (int i = 0; i < n; i++)
		wrapped_clear(&blobs[i]);
	key_uri_free(uri);
	binding_free(bind);
	return failures ? EXIT_FAILURE : 0;
}
