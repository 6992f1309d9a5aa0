// SPDX-License-Identifier: GPL-2.0-or-later
/* What a bench run found: encrypted/raw per job and configuration, a summary per
 * configuration, the recommendation, and the table, JSON and plot of it all. */
#include <libcryptsetup.h>
#include <math.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>

#include "base/log.h"
#include "base/macro.h"
#include "bench/bench.h"
#include "volume/volume_status.h"

#define NOWQ (CRYPT_ACTIVATE_NO_READ_WORKQUEUE | CRYPT_ACTIVATE_NO_WRITE_WORKQUEUE)

const struct bench_config bench_configs[] = {
	{ "raw", "the device itself, no encryption", 0, 0, NULL },
	{ "crypt", "dm-crypt as `volkey format` makes it: 4096-byte sectors, kcryptd workqueues", 4096, 0, NULL },
	{ "crypt-512", "512-byte sectors, workqueues", 512, 0, NULL },
	{ "crypt-noread", "4096-byte sectors, no_read_workqueue", 4096, CRYPT_ACTIVATE_NO_READ_WORKQUEUE, NULL },
	{ "crypt-nowrite", "4096-byte sectors, no_write_workqueue", 4096, CRYPT_ACTIVATE_NO_WRITE_WORKQUEUE, NULL },
	{ "crypt-nowq", "4096-byte sectors, no_read_workqueue and no_write_workqueue", 4096, NOWQ, NULL },
	{ "crypt-512-nowq", "512-byte sectors, no_read_workqueue and no_write_workqueue", 512, NOWQ, NULL },
	/* With volkey's kernel module loaded, "crypt" runs on it; these name each side. */
	{ "crypt-aesni", "4096-byte sectors, the kernel's AES-NI XTS (asynchronous), not the module", 4096, 0,
	  "xts-aes-aesni" },
	{ "crypt-module", "4096-byte sectors, volkey_xts (synchronous AES-NI XTS)", 4096, 0, "xts-aes-volkey" },
	{ "crypt-module-nowq", "4096-byte sectors, volkey_xts, no_read_workqueue and no_write_workqueue", 4096, NOWQ,
	  "xts-aes-volkey" },
};
const int bench_nconfigs = ARRAY_SIZE(bench_configs);
_Static_assert(ARRAY_SIZE(bench_configs) <= BENCH_MAX_CONFIGS, "BENCH_MAX_CONFIGS too small");

bool bench_driver_present(const char *driver)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/crypto", "re");
	char line[256], want[128];

	snprintf(want, sizeof(want), "driver       : %s\n", driver);
	while (f && fgets(line, sizeof(line), f))
		if (strcmp(line, want) == 0)
			return true;
	return false;
}

int bench_config_find(const char *name)
{
	for (int i = 0; i < bench_nconfigs; i++)
		if (strcmp(bench_configs[i].name, name) == 0)
			return i;
	return -1;
}

void bench_compute(struct bench_run *run)
{
	for (int c = 1; c < bench_nconfigs; c++) {
		struct bench_summary *s = &run->summary[c];
		double logsum = 0;

		*s = (struct bench_summary){ .min_job = -1 };
		if (!run->use[c])
			continue;
		for (int j = 0; j < run->njobs; j++) {
			struct bench_row *raw = &run->rows[j][0], *x = &run->rows[j][c];

			x->ratio = -1;
			if (!x->done || !raw->done || raw->iops <= 0)
				continue;
			x->ratio = x->iops / raw->iops;
			logsum += log(x->ratio > 0 ? x->ratio : 1e-9);
			if (s->min_job < 0 || x->ratio < s->min_ratio) {
				s->min_ratio = x->ratio;
				s->min_job = j;
			}
			s->njobs++;
		}
		if (s->njobs)
			s->geomean = exp(logsum / s->njobs);
	}
	run->recommended = bench_best(run, 0);
}

int bench_best(const struct bench_run *run, unsigned sector_size)
{
	int best = -1, most = 0;

	/* Only configurations measured on every job that ran on all of them compete. */
	for (int c = 1; c < bench_nconfigs; c++)
		if (run->use[c] && run->summary[c].njobs > most)
			most = run->summary[c].njobs;
	for (int c = 1; c < bench_nconfigs; c++) {
		const struct bench_summary *s = &run->summary[c];

		if (!run->use[c] || !s->njobs || s->njobs < most ||
		    (sector_size && bench_configs[c].sector_size != sector_size))
			continue;
		if (best < 0 || s->geomean > run->summary[best].geomean)
			best = c;
	}
	return best;
}

void bench_flags_text(uint32_t flags, char *buf, size_t n)
{
	struct json_object *a = activation_flags_json(flags);
	size_t len = a ? json_object_array_length(a) : 0;

	buf[0] = '\0';
	for (size_t i = 0; i < len; i++)
		snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", i ? "," : "",
			 json_object_get_string(json_object_array_get_idx(a, i)));
	if (!buf[0])
		snprintf(buf, n, "none");
	json_object_put(a);
}

/* Encryption adds work: a row well above raw means the measurement is noisy. */
static void faster_note(const struct bench_run *run, FILE *f)
{
	double max = 0;
	int n = 0;

	for (int j = 0; j < run->njobs; j++)
		for (int c = 1; c < bench_nconfigs; c++)
			if (run->use[c] && run->rows[j][c].ratio > 1.05) {
				n++;
				if (run->rows[j][c].ratio > max)
					max = run->rows[j][c].ratio;
			}
	if (n)
		fprintf(f, "\nnote: %d encrypted row%s faster than raw (up to %.2f): the machine's noise is larger than "
			"the difference; use a longer --runtime\n", n, n > 1 ? "s are" : " is", max);
}

void bench_print_table(const struct bench_run *run, FILE *f)
{
	fprintf(f, "volkey bench: %s, %llu MiB, %u s per job%s\n", run->origin, run->size >> 20, run->runtime,
		run->interrupted ? " (INTERRUPTED: partial results)" : "");
	fprintf(f, "kernel %s; CPU %s (AES-NI %s, VAES %s); xts(aes) by %s (%s)\n", run->kernel, run->cpu,
		run->cpu_aes ? "yes" : "no", run->cpu_vaes ? "yes" : "no", run->xts_driver[0] ? run->xts_driver : "none loaded",
		run->xts_async ? "asynchronous" : "synchronous");
	fprintf(f, "\n%-18s %-17s %10s %9s %10s %10s %10s %8s\n", "job", "configuration", "IOPS", "MiB/s", "mean us",
		"p99 us", "CPU us/IO", "enc/raw");
	for (int j = 0; j < run->njobs; j++) {
		for (int c = 0; c < bench_nconfigs; c++) {
			const struct bench_row *x = &run->rows[j][c];
			char ratio[16] = "-";

			if (!run->use[c])
				continue;
			if (!x->done) {
				fprintf(f, "%-18s %-17s %10s\n", c == 0 ? run->jobs[j] : "", bench_configs[c].name, "not run");
				continue;
			}
			if (x->ratio >= 0)
				snprintf(ratio, sizeof(ratio), "%.2f", x->ratio);
			fprintf(f, "%-18s %-17s %10.0f %9.1f %10.1f %10.1f %10.1f %8s\n", c == 0 ? run->jobs[j] : "",
				bench_configs[c].name, x->iops, x->mib_s, x->lat_mean_us, x->lat_p99_us, x->cpu_us_per_io,
				ratio);
		}
	}
	faster_note(run, f);
	if (run->recommended < 0)
		return;
	fprintf(f, "\n%-17s %8s %8s  %-18s %s\n", "configuration", "geomean", "worst", "worst job", "settings");
	for (int c = 1; c < bench_nconfigs; c++) {
		const struct bench_summary *s = &run->summary[c];
		char fl[64];

		if (!run->use[c] || !s->njobs)
			continue;
		bench_flags_text(bench_configs[c].flags, fl, sizeof(fl));
		fprintf(f, "%-17s %8.2f %8.2f  %-18s sector %u, flags %s%s\n", bench_configs[c].name, s->geomean,
			s->min_ratio, run->jobs[s->min_job], bench_configs[c].sector_size, fl,
			c == run->recommended ? "   <- best" : "");
	}
	if (run->recommended > 0)
		fprintf(f, "\nbest: %s (%s)\n", bench_configs[run->recommended].name,
			bench_configs[run->recommended].what);
}

static struct json_object *num(double v, int decimals)
{
	double m = pow(10, decimals);

	return json_object_new_double(round(v * m) / m);
}

struct json_object *bench_json(const struct bench_run *run)
{
	struct json_object *o = json_object_new_object(), *m = json_object_new_object();
	struct json_object *cfgs = json_object_new_array(), *res = json_object_new_array();
	struct json_object *sum = json_object_new_array();

	json_object_object_add(o, "device", json_object_new_string(run->device));
	json_object_object_add(o, "origin", json_object_new_string(run->origin));
	json_object_object_add(o, "size_bytes", json_object_new_int64((int64_t)run->size));
	json_object_object_add(o, "runtime_s", json_object_new_int((int)run->runtime));
	json_object_object_add(o, "job_dir", json_object_new_string(run->job_dir));
	json_object_object_add(o, "interrupted", json_object_new_boolean(run->interrupted));
	json_object_object_add(m, "kernel", json_object_new_string(run->kernel));
	json_object_object_add(m, "cpu", json_object_new_string(run->cpu));
	json_object_object_add(m, "aes_ni", json_object_new_boolean(run->cpu_aes));
	json_object_object_add(m, "vaes", json_object_new_boolean(run->cpu_vaes));
	json_object_object_add(m, "xts_aes_driver", json_object_new_string(run->xts_driver));
	json_object_object_add(m, "xts_aes_async", json_object_new_boolean(run->xts_async));
	json_object_object_add(o, "machine", m);
	for (int c = 0; c < bench_nconfigs; c++) {
		struct json_object *x;

		if (!run->use[c])
			continue;
		x = json_object_new_object();
		json_object_object_add(x, "name", json_object_new_string(bench_configs[c].name));
		json_object_object_add(x, "description", json_object_new_string(bench_configs[c].what));
		json_object_object_add(x, "encrypted", json_object_new_boolean(c > 0));
		if (c > 0) {
			json_object_object_add(x, "sector_size", json_object_new_int((int)bench_configs[c].sector_size));
			json_object_object_add(x, "flags", activation_flags_json(bench_configs[c].flags));
		}
		json_object_array_add(cfgs, x);
		if (c > 0 && run->summary[c].njobs) {
			struct json_object *s = json_object_new_object();

			json_object_object_add(s, "config", json_object_new_string(bench_configs[c].name));
			json_object_object_add(s, "geomean_ratio", num(run->summary[c].geomean, 4));
			json_object_object_add(s, "min_ratio", num(run->summary[c].min_ratio, 4));
			json_object_object_add(s, "min_job", json_object_new_string(run->jobs[run->summary[c].min_job]));
			json_object_array_add(sum, s);
		}
	}
	for (int j = 0; j < run->njobs; j++)
		for (int c = 0; c < bench_nconfigs; c++) {
			const struct bench_row *x = &run->rows[j][c];
			struct json_object *r;

			if (!run->use[c] || !x->done)
				continue;
			r = json_object_new_object();
			json_object_object_add(r, "job", json_object_new_string(run->jobs[j]));
			json_object_object_add(r, "config", json_object_new_string(bench_configs[c].name));
			json_object_object_add(r, "iops", num(x->iops, 1));
			json_object_object_add(r, "mib_s", num(x->mib_s, 2));
			json_object_object_add(r, "lat_mean_us", num(x->lat_mean_us, 2));
			json_object_object_add(r, "lat_p99_us", num(x->lat_p99_us, 2));
			json_object_object_add(r, "cpu_us_per_io", num(x->cpu_us_per_io, 2));
			json_object_object_add(r, "ratio", x->ratio >= 0 ? num(x->ratio, 4) : NULL);
			json_object_array_add(res, r);
		}
	json_object_object_add(o, "configs", cfgs);
	json_object_object_add(o, "results", res);
	json_object_object_add(o, "summary", sum);
	json_object_object_add(o, "best", run->recommended > 0 ?
				json_object_new_string(bench_configs[run->recommended].name) : NULL);
	return o;
}

int bench_check(const struct bench_run *run, int config, double min, char *buf, size_t n)
{
	int bad = 0;

	buf[0] = '\0';
	for (int j = 0; j < run->njobs; j++) {
		const struct bench_row *x = &run->rows[j][config];

		if (x->ratio < 0 || x->ratio >= min)
			continue;
		snprintf(buf + strlen(buf), n - strlen(buf), "%s%s %.2f", bad ? ", " : "", run->jobs[j], x->ratio);
		bad++;
	}
	return bad;
}

extern char **environ;

int bench_plot(const struct bench_run *run, const char *path, const char *tmpdir, struct errbuf *e)
{
	const char *ext = strrchr(path, '.');
	char data[PATH_MAX], script[PATH_MAX + 8], expr[3 * PATH_MAX + 512], title[PATH_MAX + 128];
	char *argv[] = { "gnuplot", "-e", expr, script, NULL };
	_cleanup_fclose_ FILE *f = NULL;
	int ncols = 1, status;
	pid_t pid;
	int r;

	if (!ext || (strcmp(ext, ".svg") != 0 && strcmp(ext, ".png") != 0))
		return err_fail(e, -EINVAL, "--plot %s: the file name must end in .svg or .png", path);
	if (strchr(path, '\'') || strchr(tmpdir, '\''))
		return err_fail(e, -EINVAL, "--plot %s: a quote in the file name", path);
	snprintf(data, sizeof(data), "%s/ratios.tsv", tmpdir);
	f = fopen(data, "we");
	if (!f)
		return err_fail(e, negative_errno(), "%s: %m", data);
	fprintf(f, "job");
	for (int c = 1; c < bench_nconfigs; c++)
		if (run->use[c] && run->summary[c].njobs) {
			fprintf(f, "\t%s", bench_configs[c].name);
			ncols++;
		}
	fprintf(f, "\n");
	for (int j = 0; j < run->njobs; j++) {
		fprintf(f, "%s", run->jobs[j]);
		for (int c = 1; c < bench_nconfigs; c++)
			if (run->use[c] && run->summary[c].njobs)
				fprintf(f, run->rows[j][c].ratio >= 0 ? "\t%.4f" : "\tNaN", run->rows[j][c].ratio);
		fprintf(f, "\n");
	}
	if (fflush(f) != 0)
		return err_fail(e, negative_errno(), "%s: %m", data);
	if (ncols < 2)
		return err_fail(e, -ENODATA, "--plot %s: no encrypted/raw ratio to draw", path);
	snprintf(script, sizeof(script), "%s/ratio.gp", run->job_dir);
	snprintf(title, sizeof(title), "volkey bench: encrypted / raw IOPS, %s, kernel %s", run->origin, run->kernel);
	for (char *p = title; *p; p++)
		if (*p == '\'' || *p == '\\')
			*p = ' ';
	snprintf(expr, sizeof(expr), "data='%s'; out='%s'; fmt='%s'; ncols=%d; title='%s'", data, path, ext + 1,
		 ncols, title);
	r = posix_spawnp(&pid, "gnuplot", NULL, NULL, argv, environ);
	if (r == ENOENT)
		return err_fail(e, -ENOENT, "--plot: gnuplot is not installed (apt-get install gnuplot-nox)");
	if (r != 0)
		return err_fail(e, -r, "--plot: cannot run gnuplot: %s", strerror(r));
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return err_fail(e, negative_errno(), "--plot: %m");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return err_fail(e, -EIO, "%s: gnuplot failed (its message is above)", path);
	if (access(path, F_OK) < 0)
		return err_fail(e, -EIO, "%s: gnuplot wrote no file", path);
	return 0;
}
