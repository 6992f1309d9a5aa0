// SPDX-License-Identifier: GPL-2.0-or-later
/* Boot-storm driver (issue 21, goal 6): N simulated instances start within a
 * second and each unlocks one KMS-wrapped volume secret the way one volkeyd
 * unlocks one device: an unlock attempt is a fresh key context and
 * key_unwrap() (so kms_call(), with its own attempts, full-jitter backoff and
 * [kms] deadline_ms); a transient failure is retried after retry_delay_ms() of
 * volkeyd/retry.c, within [volkey] unlock_timeout_ms, as volkeyd's worker and
 * retry thread do. Each instance is a thread with its own connection
 * (kms_client_share(false)), as separate instances would have.
 *
 *   storm [--instances N] [--spread-ms MS] [--quota RPS] [--no-jitter] [--seed N]
 *         [--blob FILE] [--bucket-ms MS] [--stack-kib K] [--debug] URI
 *
 * The configuration comes from VOLKEY_CONFIG; credentials, region and endpoint
 * from it and the environment. --blob FILE: the wrapped secret to unwrap (made
 * with one GenerateDataKey and written there when the file does not exist; then
 * the program waits a second so the quota's bucket is full again). --quota is
 * only for the report (ideal = N / quota). Exit 0 when every instance unlocked
 * before its deadline, else the exit code of the last error of one that did
 * not (6, unavailable, for "KMS busy"). The last line is the machine-readable
 * summary ("storm: key=value ..."). */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/errbuf.h"
#include "base/exitcode.h"
#include "base/log.h"
#include "base/macro.h"
#include "base/memhooks.h"
#include "base/secret.h"
#include "keys/aws_creds.h"
#include "keys/backend.h"
#include "keys/keytrust.h"
#include "keys/kms_client.h"
#include "keys/kms_stats.h"
#include "volkeyd/retry.h"

#define STORM_UUID "0f4e1f7a-2b51-4a53-9a43-3f1d3f0d4a11"
#define HIST_MAX 64

enum outcome {
	UNLOCKED,  /* before its deadline */
	LATE,      /* by an attempt still running at the deadline: after READY=1 */
	MISSED,    /* the deadline passed while it failed or waited to retry */
	FATAL,     /* an error retrying cannot heal */
	RETRY_MAX, /* [volkey] retry_max used up */
	NO_RETRY,  /* [volkey] retry = no */
	NOUTCOMES
};
static const char *const outcome_name[NOUTCOMES] = { "unlocked", "late", "missed-deadline", "not-retryable",
						     "retry-max", "retry-off" };

struct instance {
	int id;
	long start_ms;     /* from t0 */
	long end_ms;       /* unlocked, or gave up (MISSED: the deadline, when the boot went on), from t0 */
	long last_try_ms;  /* start of its last unlock attempt, from t0 */
	long max_call_ms;  /* longest unlock attempt (one kms_call and its own retries) */
	long min_fail_ms;  /* shortest failed unlock attempt (-1: none) */
	long max_delay_ms; /* longest device retry delay */
	int rounds;        /* unlock attempts */
	struct kms_tally tally;
	enum outcome outcome;
	int r;
	char why[512];
};

static struct volkey_config cfg;
static struct key_uri *uri;
static struct binding *bind;
static struct wrapped blob;
static bool jitter = true;
static pthread_mutex_t go_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go_cv = PTHREAD_COND_INITIALIZER;
static long t0 = -1; /* CLOCK_MONOTONIC ms of the storm's start; -1 until go */

static long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_until(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* One unlock attempt, as a lane of agent/volume/volume_unlock.c: check the key URI against the
 * configuration, a fresh key context (its own KMS client and connection), unwrap. */
static int unlock_once(char *why, size_t n)
{
	_cleanup_(kctx_freep) struct kctx *c = NULL;
	_cleanup_secret_ void *secret = NULL;
	struct errbuf e = { { 0 } };
	size_t len = 0;
	int r;

	r = key_uri_trusted(uri, &cfg, &e);
	if (r < 0) {
		snprintf(why, n, "%s", e.msg);
		return r;
	}
	r = kctx_new(&cfg, &c);
	if (r < 0) {
		snprintf(why, n, "out of memory");
		return r;
	}
	r = key_unwrap(c, uri, bind, &blob, &secret, &len);
	if (r < 0) {
		snprintf(why, n, "%s", kctx_error(c));
		return r;
	}
	if (len != VOLUME_SECRET_BYTES) {
		snprintf(why, n, "unwrapped %zu bytes, not %d", len, VOLUME_SECRET_BYTES);
		return -EBADMSG;
	}
	return 0;
}

static void finish(struct instance *in, enum outcome o, long end)
{
	in->outcome = o;
	in->end_ms = end;
}

/* One instance: what volkeyd's worker and retry thread do for one device. */
static void *instance_main(void *p)
{
	struct instance *in = p;
	long deadline = in->start_ms + cfg.policy.unlock_timeout_ms, base;
	long round = 0;

	pthread_mutex_lock(&go_mu);
	while (t0 < 0)
		pthread_cond_wait(&go_cv, &go_mu);
	base = t0;
	pthread_mutex_unlock(&go_mu);
	sleep_until(base + in->start_ms);
	in->min_fail_ms = -1;
	for (;;) {
		long a = mono_ms() - base, b, d;
		int r;

		in->last_try_ms = a;
		r = unlock_once(in->why, sizeof(in->why));
		b = mono_ms() - base;
		in->rounds++;
		if (b - a > in->max_call_ms)
			in->max_call_ms = b - a;
		if (r >= 0) {
			in->r = 0;
			finish(in, b <= deadline ? UNLOCKED : LATE, b);
			break;
		}
		in->r = r;
		if (in->min_fail_ms < 0 || b - a < in->min_fail_ms)
			in->min_fail_ms = b - a;
		if (b >= deadline) {
			finish(in, MISSED, deadline);
			break;
		}
		/* volkeyd's worker: retry_transient(), then retry_schedule() */
		if (!retry_transient(r)) {
			finish(in, FATAL, b);
			break;
		}
		if (!cfg.policy.retry) {
			finish(in, NO_RETRY, b);
			break;
		}
		if (cfg.policy.retry_max && round >= cfg.policy.retry_max) {
			finish(in, RETRY_MAX, b);
			break;
		}
		d = retry_delay_ms(&cfg.policy, round, jitter);
		log_debug("instance %d: unlock attempt %ld failed (%s); device retry %ld in %ld ms", in->id, round + 1,
			  in->why, round, d);
		round++;
		if (d > in->max_delay_ms)
			in->max_delay_ms = d;
		if (b + d >= deadline) { /* READY=1 comes first; volkeyd would retry after it */
			finish(in, MISSED, deadline);
			break;
		}
		sleep_until(base + b + d);
	}
	kms_stats_thread(&in->tally);
	return NULL;
}

/* ---- setup ---- */

static int read_blob(const char *path, struct wrapped *w)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	unsigned char buf[WRAPPED_MAX + 1];
	size_t n;

	if (!f)
		return negative_errno();
	n = fread(buf, 1, sizeof(buf), f);
	if (n == 0 || n > WRAPPED_MAX)
		return -EBADMSG;
	w->data = malloc(n);
	if (!w->data)
		return -ENOMEM;
	memcpy(w->data, buf, n);
	w->len = n;
	return 0;
}

static int make_blob(const char *path)
{
	_cleanup_(kctx_freep) struct kctx *c = NULL;
	_cleanup_secret_ void *secret = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	int r;

	r = read_blob(path, &blob);
	if (r != -ENOENT)
		return r;
	r = kctx_new(&cfg, &c);
	if (r < 0)
		return r;
	r = key_wrap_new(c, uri, bind, VOLUME_SECRET_BYTES, &secret, &blob);
	if (r < 0) {
		fprintf(stderr, "storm: wrap: %s\n", kctx_error(c));
		return r;
	}
	f = fopen(path, "we");
	if (!f || fwrite(blob.data, 1, blob.len, f) != blob.len)
		return -EIO;
	sleep(1); /* the GenerateDataKey took a token of the quota: let the bucket fill again */
	return 0;
}

/* splitmix64: reproducible start times for a given --seed */
static double rand01(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return (double)(z >> 11) / 9007199254740992.0;
}

/* ---- report ---- */

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

static void bar(const char *label, long n, long max)
{
	int w = max ? (int)((n * 50 + max - 1) / max) : 0;

	printf("    %-14s %5ld %.*s\n", label, n, w, "##################################################");
}

/* counts[i] for first <= i < nb, the last bucket meaning "that or more"; width
 * in ms for time buckets, 0 for plain counts */
static void histogram(const long *counts, int first, int nb, long width)
{
	long max = 0;
	int last = first;
	char label[32];

	for (int i = first; i < nb; i++) {
		if (counts[i] > max)
			max = counts[i];
		if (counts[i])
			last = i;
	}
	for (int i = first; i <= last; i++) {
		if (width)
			snprintf(label, sizeof(label), "%g-%g s%s", i * width / 1000.0, (i + 1) * width / 1000.0,
				 i == nb - 1 ? "+" : "");
		else
			snprintf(label, sizeof(label), "%d%s", i, i == nb - 1 ? "+" : "");
		bar(label, counts[i], max);
	}
}

/* the errors instances gave up with: how many, and one instance for its message */
struct err_count {
	int r, n, example;
};

static void tally_error(struct err_count *e, int *n, int r, int instance)
{
	for (int i = 0; i < *n; i++)
		if (e[i].r == r) {
			e[i].n++;
			return;
		}
	if (*n < 8)
		e[(*n)++] = (struct err_count){ r, 1, instance };
}

static long pct(const long *sorted, int n, double q)
{
	int i = (int)(q * n + 0.999999) - 1;

	return n ? sorted[i < 0 ? 0 : i >= n ? n - 1 : i] : 0;
}

static int report(struct instance *in, int n, double quota, long spread, long bucket_ms)
{
	_cleanup_free_ long *t = calloc((size_t)n, sizeof(long));
	long hist[HIST_MAX] = { 0 }, done[HIST_MAX] = { 0 }, reqs[HIST_MAX] = { 0 }, rounds[HIST_MAX] = { 0 };
	long total = 0, max_call = 0, min_fail = -1, max_delay = 0, last_try_gap = -1;
	unsigned long requests = 0, throttled = 0;
	struct err_count errs[8];
	int count[NOUTCOMES] = { 0 }, nu = 0, rounds_max = 0, nerrs = 0, failed = -1;
	double ideal = quota > 0 ? n / quota : 0;

	if (!t)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		struct instance *x = &in[i];
		long u = x->end_ms - x->start_ms;

		count[x->outcome]++;
		requests += x->tally.requests;
		throttled += x->tally.throttled;
		if (x->end_ms > total)
			total = x->end_ms;
		if (x->max_call_ms > max_call)
			max_call = x->max_call_ms;
		if (x->min_fail_ms >= 0 && (min_fail < 0 || x->min_fail_ms < min_fail))
			min_fail = x->min_fail_ms;
		if (x->max_delay_ms > max_delay)
			max_delay = x->max_delay_ms;
		if (x->rounds > rounds_max)
			rounds_max = x->rounds;
		reqs[x->tally.requests < HIST_MAX ? x->tally.requests : HIST_MAX - 1]++;
		rounds[x->rounds < HIST_MAX ? x->rounds : HIST_MAX - 1]++;
		if (x->outcome == UNLOCKED || x->outcome == LATE) {
			t[nu++] = u;
			hist[u / bucket_ms < HIST_MAX ? u / bucket_ms : HIST_MAX - 1]++;
			done[x->end_ms / bucket_ms < HIST_MAX ? x->end_ms / bucket_ms : HIST_MAX - 1]++;
		} else {
			/* how long before its deadline it last tried: "it gave up early" shows here */
			long gap = x->start_ms + cfg.policy.unlock_timeout_ms - x->last_try_ms;
			if (gap > last_try_gap)
				last_try_gap = gap;
			tally_error(errs, &nerrs, x->r, i);
		}
	}
	qsort(t, (size_t)nu, sizeof(long), cmp_long);
	for (int e = 0, best = 0; e < nerrs; e++) /* the most frequent error stands for them all */
		if (errs[e].n > best) {
			best = errs[e].n;
			failed = errs[e].example;
		}

	printf("boot storm: %d instances starting within %.2f s, KMS quota %g requests/s, jitter %s\n", n,
	       spread / 1000.0, quota, jitter ? "on (full)" : "off");
	printf("  real code per instance: key_uri_trusted, kctx_new, key_unwrap -> kms_call (max_attempts %d, backoff "
	       "base %ld ms cap %ld ms, deadline %ld ms), then volkeyd's retry_transient and retry_delay_ms ([volkey] "
	       "retry_base_ms %ld, retry_cap_ms %ld, retry_max %ld) within unlock_timeout_ms %ld\n",
	       cfg.kms_max_attempts, cfg.kms_retry_base_ms, cfg.kms_retry_cap_ms, cfg.kms_deadline_ms,
	       cfg.policy.retry_base_ms, cfg.policy.retry_cap_ms, cfg.policy.retry_max, cfg.policy.unlock_timeout_ms);
	printf("  not exercised: udev and coldplug, the LUKS2 header, token JSON and keyslot, device-mapper, the "
	       "retry thread's queue (each instance sleeps its own delay), credentials from IMDS, TLS\n");
	printf("  unlocked %d/%d before the deadline, %d late, %d gave up", count[UNLOCKED], n, count[LATE],
	       n - count[UNLOCKED] - count[LATE]);
	for (int o = MISSED; o < NOUTCOMES; o++)
		if (count[o])
			printf(" (%s %d)", outcome_name[o], count[o]);
	printf("\n");
	for (int e = 0; e < nerrs; e++)
		printf("  %d gave up with %s, e.g. instance %d: %s\n", errs[e].n, strerror(-errs[e].r), errs[e].example,
		       in[errs[e].example].why);
	if (ideal > 0)
		printf("  total %.2f s, ideal %.2f s (N / quota), ratio %.2f\n", total / 1000.0, ideal,
		       total / 1000.0 / ideal);
	else
		printf("  total %.2f s\n", total / 1000.0);
	printf("  unlock time from the instance's start: p50 %.2f s, p90 %.2f s, p99 %.2f s, max %.2f s\n",
	       pct(t, nu, 0.5) / 1000.0, pct(t, nu, 0.9) / 1000.0, pct(t, nu, 0.99) / 1000.0, pct(t, nu, 1) / 1000.0);
	printf("  histogram of unlock times (%ld ms buckets):\n", bucket_ms);
	histogram(hist, 0, HIST_MAX, bucket_ms);
	printf("  unlocks per %ld ms since the storm began (what KMS served", bucket_ms);
	if (quota > 0)
		printf("; the quota allows %g/s after a burst of as many", quota);
	printf("):\n");
	histogram(done, 0, HIST_MAX, bucket_ms);
	printf("  KMS requests per instance (1 = no retry):\n");
	histogram(reqs, 1, HIST_MAX, 0);
	printf("  unlock attempts per instance (kms_call calls; more than 1 = volkeyd retried the device):\n");
	histogram(rounds, 1, HIST_MAX, 0);
	printf("  KMS requests %lu, throttled %lu; longest unlock attempt %.2f s", requests, throttled, max_call / 1000.0);
	if (min_fail >= 0)
		printf(", shortest failed one %.2f s", min_fail / 1000.0);
	printf(", longest device retry delay %.2f s\n", max_delay / 1000.0);
	printf("storm: instances=%d quota=%g jitter=%d unlocked=%d late=%d gave_up=%d missed=%d fatal=%d retry_max=%d "
	       "retry_off=%d total_s=%.3f ideal_s=%.3f ratio=%.3f p50_s=%.3f p90_s=%.3f p99_s=%.3f max_s=%.3f "
	       "requests=%lu throttled=%lu rounds_max=%d max_call_ms=%ld min_fail_call_ms=%ld max_retry_delay_ms=%ld "
	       "last_try_before_deadline_ms=%ld\n",
	       n, quota, jitter, count[UNLOCKED], count[LATE], n - count[UNLOCKED] - count[LATE], count[MISSED],
	       count[FATAL], count[RETRY_MAX], count[NO_RETRY], total / 1000.0, ideal, ideal > 0 ? total / 1000.0 / ideal : 0,
	       pct(t, nu, 0.5) / 1000.0, pct(t, nu, 0.9) / 1000.0, pct(t, nu, 0.99) / 1000.0, pct(t, nu, 1) / 1000.0,
	       requests, throttled, rounds_max, max_call, min_fail, max_delay, last_try_gap);
	return failed >= 0 ? exit_code_from_errno(in[failed].r) : count[UNLOCKED] == n ? 0 : EXIT_UNAVAILABLE;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "instances", required_argument, NULL, 'n' }, { "spread-ms", required_argument, NULL, 's' },
		{ "quota", required_argument, NULL, 'q' },     { "no-jitter", no_argument, NULL, 'J' },
		{ "seed", required_argument, NULL, 'S' },      { "blob", required_argument, NULL, 'b' },
		{ "bucket-ms", required_argument, NULL, 'B' }, { "stack-kib", required_argument, NULL, 'k' },
		{ "debug", no_argument, NULL, 'd' },           { "help", no_argument, NULL, 'h' },
		{}
	};
	_cleanup_free_ struct instance *in = NULL;
	_cleanup_free_ pthread_t *th = NULL;
	const char *blob_path = NULL;
	long spread = 1000, bucket = 1000, stack_kib = 256;
	double quota = 0;
	uint64_t seed = 1;
	pthread_attr_t attr;
	int n = 1000, c, r, line = 0;

	memhooks_setup();
	aws_env_capture();
	log_setup("storm");
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	stack_kib = 1024;
#endif
	while ((c = getopt_long(argc, argv, "n:s:q:JS:b:B:k:dh", opts, NULL)) >= 0) {
		switch (c) {
		case 'n':
			n = atoi(optarg);
			break;
		case 's':
			spread = atol(optarg);
			break;
		case 'q':
			quota = atof(optarg);
			break;
		case 'J':
			jitter = false;
			break;
		case 'S':
			seed = strtoull(optarg, NULL, 10);
			break;
		case 'b':
			blob_path = optarg;
			break;
		case 'B':
			bucket = atol(optarg);
			break;
		case 'k':
			stack_kib = atol(optarg);
			break;
		case 'd':
			log_set_max_level(LOG_DEBUG);
			break;
		default:
			fprintf(stderr, "usage: storm [--instances N] [--spread-ms MS] [--quota RPS] [--no-jitter] "
					"[--seed N] [--blob FILE] [--bucket-ms MS] [--stack-kib K] [--debug] URI\n");
			return c == 'h' ? 0 : EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || n < 1 || n > 100000 || spread < 0 || bucket < 1 || stack_kib < 64 || !blob_path)
		return fprintf(stderr, "storm: bad arguments (URI and --blob are required)\n"), EXIT_USAGE;
	r = config_load(NULL, &cfg, &line);
	if (r < 0)
		return fprintf(stderr, "storm: config: %s (line %d)\n", strerror(-r), line), exit_code_from_errno(r);
	/* separate instances have separate connections; jitter on or off everywhere */
	kms_client_share(false);
	kms_client_jitter(jitter);
	if ((r = key_uri_parse(argv[optind], &uri)) < 0 || (r = binding_new(STORM_UUID, &bind)) < 0)
		return fprintf(stderr, "storm: %s\n", strerror(-r)), exit_code_from_errno(r);
	r = make_blob(blob_path);
	if (r < 0)
		return fprintf(stderr, "storm: blob %s: %s\n", blob_path, strerror(-r)), exit_code_from_errno(r);

	in = calloc((size_t)n, sizeof(*in));
	th = calloc((size_t)n, sizeof(*th));
	if (!in || !th)
		return EXIT_NOMEM;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, (size_t)stack_kib * 1024);
	for (int i = 0; i < n; i++) {
		in[i].id = i;
		in[i].start_ms = (long)(rand01(&seed) * (double)spread);
		r = -pthread_create(&th[i], &attr, instance_main, &in[i]);
		if (r < 0)
			return fprintf(stderr, "storm: thread %d: %s\n", i, strerror(-r)), EXIT_NOMEM;
	}
	pthread_attr_destroy(&attr);
	pthread_mutex_lock(&go_mu);
	t0 = mono_ms() + 50;
	pthread_cond_broadcast(&go_cv);
	pthread_mutex_unlock(&go_mu);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	r = report(in, n, quota, spread, bucket);
	wrapped_clear(&blob);
	key_uri_free(uri);
	binding_free(bind);
	fflush(stdout);
	return r < 0 ? EXIT_NOMEM : r;
}
