// SPDX-License-Identifier: GPL-2.0-or-later
/* Benchmark driver: wrap N fresh secrets, then unwrap all N through one
 * context (as the agent unlocking N volumes at boot), and print wall and CPU
 * time per unwrap. Usage: kms-bench URI N; after "phase=unwrap" it waits
 * for a line on stdin before unwrapping. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "base/exitcode.h"
#include "base/log.h"
#include "base/macro.h"
#include "base/memhooks.h"
#include "base/secret.h"
#include "keys/aws_creds.h"
#include "keys/backend.h"

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	       ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv)
{
	_cleanup_(key_uri_freep) struct key_uri *u = NULL;
	_cleanup_(binding_freep) struct binding *b = NULL;
	struct volkey_config cfg;
	struct kctx *c = NULL;
	struct wrapped w[64];
	double t0, c0, wall, cpu;
	int n, r;

	memhooks_setup();
	aws_env_capture();
	log_setup("kms-bench");
	if (argc != 3 || (n = atoi(argv[2])) < 1 || n > 64) {
		fprintf(stderr, "usage: kms-bench URI N (1..64)\n");
		return EXIT_USAGE;
	}
	if ((r = config_load(NULL, &cfg, NULL)) < 0 || (r = key_uri_parse(argv[1], &u)) < 0 ||
	    (r = binding_new("0f4e1f7a-2b51-4a53-9a43-3f1d3f0d4a11", &b)) < 0 || (r = kctx_new(&cfg, &c)) < 0)
		return exit_code_from_errno(r);
	memset(w, 0, sizeof(w));
	for (int i = 0; i < n; i++) {
		void *s = NULL;
		r = key_wrap_new(c, u, b, VOLUME_SECRET_BYTES, &s, &w[i]);
		secret_free(s);
		if (r < 0) {
			fprintf(stderr, "kms-bench: wrap: %s\n", kctx_error(c));
			return exit_code_from_errno(r);
		}
	}
	kctx_free(c); /* a fresh context: the unwrap phase starts cold, like a boot */
	if ((r = kctx_new(&cfg, &c)) < 0)
		return exit_code_from_errno(r);
	printf("phase=unwrap\n");
	fflush(stdout);
	{ /* wait for "go" on stdin, so the caller can read the double's counters first */
		char go[8];
		if (!fgets(go, sizeof(go), stdin))
			return EXIT_USAGE;
	}
	t0 = now_s();
	c0 = cpu_s();
	for (int i = 0; i < n; i++) {
		void *s = NULL;
		size_t len;
		r = key_unwrap(c, u, b, &w[i], &s, &len);
		secret_free(s);
		if (r < 0) {
			fprintf(stderr, "kms-bench: unwrap: %s\n", kctx_error(c));
			return exit_code_from_errno(r);
		}
	}
	wall = now_s() - t0;
	cpu = cpu_s() - c0;
	printf("unwraps=%d\nwall_ms_total=%.2f\nwall_ms_per_unwrap=%.3f\ncpu_ms_per_unwrap=%.3f\n", n, wall * 1e3,
	       wall * 1e3 / n, cpu * 1e3 / n);
	kctx_free(c);
	for (int i = 0; i < n; i++)
		wrapped_clear(&w[i]);
	return 0;
}
