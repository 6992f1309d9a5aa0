// SPDX-License-Identifier: GPL-2.0-or-later
/* One fio job on one target: spawn fio on the job file with the target, size and
 * time in its environment, read its JSON, and sample the CPUs' busy time around it. */
#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libgen.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/macro.h"
#include "bench/bench.h"

#ifndef VOLKEY_BENCH_DATADIR
#define VOLKEY_BENCH_DATADIR "/usr/local/share/volkey/bench"
#endif

extern char **environ;

volatile sig_atomic_t bench_stop;
static volatile pid_t child_pid;

void bench_forward_signal(int sig)
{
	pid_t p = child_pid;

	bench_stop = sig;
	if (p > 0)
		kill(p, SIGINT); /* fio stops its jobs and exits */
}

static bool dir_has_jobs(const char *dir)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/common.fioinc", dir);
	return access(p, R_OK) == 0;
}

int bench_job_dir(char *ret, size_t n)
{
	const char *env = getenv("VOLKEY_BENCH_DIR");
	char exe[PATH_MAX];
	ssize_t l;

	if (env && *env) {
		snprintf(ret, n, "%s", env);
		return 0;
	}
	/* A binary in the build tree uses the job files of its own source tree; an
	 * installed one those beside it (PREFIX/sbin/../share), wherever PREFIX was. */
	l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (l > 0) {
		static const char *const rel[] = { "../tools/bench", "../share/volkey/bench" };
		char *d;

		exe[l] = '\0';
		d = dirname(exe);
		for (size_t i = 0; i < ARRAY_SIZE(rel); i++) {
			snprintf(ret, n, "%s/%s", d, rel[i]);
			if (dir_has_jobs(ret))
				return 0;
		}
	}
	snprintf(ret, n, "%s", VOLKEY_BENCH_DATADIR);
	return dir_has_jobs(ret) ? 0 : -ENOENT;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

static bool job_name_ok(const char *s, size_t len)
{
	if (len == 0 || len >= BENCH_JOB_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(s[i] == '-' || s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

int bench_jobs_load(struct bench_run *run, const char *dir, const char *list, struct errbuf *e)
{
	_cleanup_(closedirp) DIR *d = NULL;
	struct dirent *de;
	char p[PATH_MAX];

	snprintf(run->job_dir, sizeof(run->job_dir), "%s", dir);
	run->njobs = 0;
	if (list) {
		for (const char *s = list; *s;) {
			size_t len = strcspn(s, ",");

			if (!job_name_ok(s, len))
				return err_fail(e, -EINVAL, "--jobs: '%.*s' is not a job name", (int)len, s);
			if (run->njobs == BENCH_MAX_JOBS)
				return err_fail(e, -E2BIG, "--jobs: more than %d jobs", BENCH_MAX_JOBS);
			snprintf(run->jobs[run->njobs], BENCH_JOB_NAME_MAX, "%.*s", (int)len, s);
			snprintf(p, sizeof(p), "%s/%s.fio", dir, run->jobs[run->njobs]);
			if (access(p, R_OK) < 0)
				return err_fail(e, -ENOENT, "%s: no such job file (the jobs are the *.fio files in %s)", p, dir);
			run->njobs++;
			s += len;
			if (*s == ',')
				s++;
		}
		return run->njobs ? 0 : err_fail(e, -EINVAL, "--jobs: no job named");
	}
	d = opendir(dir);
	if (!d)
		return err_fail(e, negative_errno(), "%s: cannot read the job files: %m", dir);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (len < 5 || strcmp(de->d_name + len - 4, ".fio") != 0 || !job_name_ok(de->d_name, len - 4))
			continue;
		if (run->njobs == BENCH_MAX_JOBS)
			return err_fail(e, -E2BIG, "%s: more than %d job files", dir, BENCH_MAX_JOBS);
		snprintf(run->jobs[run->njobs++], BENCH_JOB_NAME_MAX, "%.*s", (int)(len - 4), de->d_name);
	}
	if (!run->njobs)
		return err_fail(e, -ENOENT, "%s: no *.fio job files", dir);
	qsort(run->jobs, run->njobs, BENCH_JOB_NAME_MAX, cmp_names);
	return 0;
}

/* Busy time of all CPUs since boot, in microseconds (from /proc/stat). */
static int cpu_busy_us(double *ret)
{
	_cleanup_free_ char *s = NULL;
	unsigned long long v[8] = { 0 };
	long hz = sysconf(_SC_CLK_TCK);

	if (read_small_file(NULL, "/proc/stat", 1 << 20, &s) < 0 || hz <= 0)
		return -EIO;
	if (sscanf(s, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &v[6], &v[7]) < 4)
		return -EIO;
	/* user nice system [idle iowait] irq softirq steal */
	*ret = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * 1e6 / (double)hz;
	return 0;
}

/* Runs argv with extra environment entries; stdout and stderr to errfile. -EINTR when stopped. */
static int spawn_wait(char *const argv[], char *const extra_env[], const char *errfile, int *ret_status)
{
	posix_spawn_file_actions_t fa;
	size_t ne = 0, nx = 0;
	char **envp;
	pid_t pid;
	int r, status;

	while (environ[ne])
		ne++;
	while (extra_env[nx])
		nx++;
	envp = calloc(ne + nx + 1, sizeof(char *));
	if (!envp)
		return -ENOMEM;
	ne = 0;
	for (char **ep = environ; *ep; ep++)
		if (strncmp(*ep, "VOLKEY_BENCH_", 13) != 0)
			envp[ne++] = *ep;
	for (size_t i = 0; i < nx; i++)
		envp[ne++] = extra_env[i];
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	if (r != 0)
		return -r;
	child_pid = pid;
	if (bench_stop) /* a signal that came before child_pid was set */
		kill(pid, SIGINT);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			child_pid = 0;
			return negative_errno();
		}
	child_pid = 0;
	*ret_status = status;
	return bench_stop ? -EINTR : 0;
}

/* The last line fio printed (its error), for a one-line message. */
static void last_line(const char *file, char *buf, size_t n)
{
	_cleanup_free_ char *s = NULL;
	char *end, *start;

	snprintf(buf, n, "no output");
	if (read_small_file(NULL, file, 1 << 20, &s) < 0)
		return;
	end = s + strlen(s);
	while (end > s && (end[-1] == '\n' || end[-1] == ' '))
		*--end = '\0';
	start = strrchr(s, '\n');
	snprintf(buf, n, "%s", start ? start + 1 : s);
}

int bench_prefill(const char *target, unsigned long long size, const char *tmpdir, struct errbuf *e)
{
	char fname[PATH_MAX + 16], fsize[64], errfile[PATH_MAX], why[256];
	char *argv[] = { "fio", "--name=volkey-prefill", fname, fsize, "--rw=write", "--bs=1m", "--direct=1",
			 "--ioengine=libaio", "--iodepth=8", "--output-format=terse", NULL };
	char *env[] = { NULL };
	int r, status;

	snprintf(fname, sizeof(fname), "--filename=%s", target);
	snprintf(fsize, sizeof(fsize), "--size=%llu", size);
	snprintf(errfile, sizeof(errfile), "%s/prefill.out", tmpdir);
	r = spawn_wait(argv, env, errfile, &status);
	if (r == -ENOENT)
		return err_fail(e, r, "fio is not installed (apt-get install fio)");
	if (r < 0)
		return err_fail(e, r, "%s: prefill %s", target, r == -EINTR ? "interrupted" : strerror(-r));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		last_line(errfile, why, sizeof(why));
		return err_fail(e, -EIO, "%s: fio could not write it: %s", target, why);
	}
	return 0;
}

static double jnum(struct json_object *o, const char *path)
{
	char key[64];
	const char *dot;

	while (o && (dot = strchr(path, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		o = json_object_object_get(o, key);
		path = dot + 1;
	}
	o = o ? json_object_object_get(o, path) : NULL;
	return o ? json_object_get_double(o) : 0.0;
}

static double p99(struct json_object *dir)
{
	struct json_object *lat = NULL, *pct = NULL, *v = NULL;

	if (!json_object_object_get_ex(dir, "lat_ns", &lat) || !json_object_object_get_ex(lat, "percentile", &pct))
		json_object_object_get_ex(json_object_object_get(dir, "clat_ns"), "percentile", &pct);
	if (pct && json_object_object_get_ex(pct, "99.000000", &v))
		return json_object_get_double(v);
	return 0.0;
}

/* fio can print notices before its JSON: parse from the first '{'. */
int bench_fio_parse(const char *text, struct bench_row *row, double busy_us, struct errbuf *e)
{
	struct json_object *j, *jobs, *job, *rd, *wr, *err;
	const char *brace = strchr(text, '{');
	double nr, nw;
	int r = 0;

	if (!brace)
		return err_fail(e, -EBADMSG, "fio wrote no JSON result");
	j = json_tokener_parse(brace);
	/* the shape is checked before use: json-c asserts on an array call on anything else */
	jobs = json_object_object_get(j, "jobs");
	job = json_object_is_type(jobs, json_type_array) ? json_object_array_get_idx(jobs, 0) : NULL;
	rd = json_object_object_get(job, "read");
	wr = json_object_object_get(job, "write");
	if (!json_object_is_type(rd, json_type_object) || !json_object_is_type(wr, json_type_object)) {
		r = err_fail(e, -EBADMSG, "fio's JSON has no job result");
		goto out;
	}
	err = json_object_object_get(job, "error");
	if (err && json_object_get_int(err) != 0) {
		r = err_fail(e, -EIO, "fio job %s failed with error %d", json_object_get_string(json_object_object_get(job, "jobname")),
			     json_object_get_int(err));
		goto out;
	}
	nr = jnum(rd, "total_ios");
	nw = jnum(wr, "total_ios");
	if (!(nr >= 0 && nw >= 0 && nr + nw > 0 && isfinite(nr + nw))) {
		r = err_fail(e, -EIO, "fio job %s completed no I/O", json_object_get_string(json_object_object_get(job, "jobname")));
		goto out;
	}
	row->iops = jnum(rd, "iops") + jnum(wr, "iops");
	row->mib_s = (jnum(rd, "bw_bytes") + jnum(wr, "bw_bytes")) / 1048576.0;
	row->lat_mean_us = (jnum(rd, "lat_ns.mean") * nr + jnum(wr, "lat_ns.mean") * nw) / (nr + nw) / 1000.0;
	row->lat_p99_us = (p99(rd) > p99(wr) ? p99(rd) : p99(wr)) / 1000.0;
	row->cpu_us_per_io = busy_us / (nr + nw);
	row->ratio = -1;
	row->done = true;
out:
	json_object_put(j);
	return r;
}

static int parse_result(const char *file, struct bench_row *row, double busy_us, struct errbuf *e)
{
	_cleanup_free_ char *s = NULL;
	int r;

	if (read_small_file(NULL, file, 64 << 20, &s) < 0 || !strchr(s, '{'))
		return err_fail(e, -EBADMSG, "%s: fio wrote no JSON result", file);
	r = bench_fio_parse(s, row, busy_us, e);
	if (r == -EBADMSG)
		err_set(e, r, "%s: fio's JSON has no job result", file);
	return r;
}

int bench_fio_job(const struct bench_run *run, int job, const char *target, const char *tmpdir,
		  struct bench_row *row, struct errbuf *e)
{
	char jobfile[PATH_MAX + 80], out[PATH_MAX + 16], errfile[PATH_MAX], why[256];
	char e_target[PATH_MAX + 32], e_size[64], e_runtime[64];
	char *argv[] = { "fio", "--output-format=json", out, jobfile, NULL };
	char *env[] = { e_target, e_size, e_runtime, NULL };
	double b0 = 0, b1 = 0;
	int r, status;

	snprintf(jobfile, sizeof(jobfile), "%s/%s.fio", run->job_dir, run->jobs[job]);
	snprintf(out, sizeof(out), "--output=%s/fio.json", tmpdir);
	snprintf(errfile, sizeof(errfile), "%s/fio.out", tmpdir);
	snprintf(e_target, sizeof(e_target), "VOLKEY_BENCH_TARGET=%s", target);
	snprintf(e_size, sizeof(e_size), "VOLKEY_BENCH_SIZE=%llu", run->size);
	snprintf(e_runtime, sizeof(e_runtime), "VOLKEY_BENCH_RUNTIME=%u", run->runtime);
	(void)cpu_busy_us(&b0);
	r = spawn_wait(argv, env, errfile, &status);
	(void)cpu_busy_us(&b1);
	if (r == -ENOENT)
		return err_fail(e, r, "fio is not installed (apt-get install fio)");
	if (r < 0)
		return r == -EINTR ? r : err_fail(e, r, "cannot run fio: %s", strerror(-r));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		last_line(errfile, why, sizeof(why));
		return err_fail(e, -EIO, "%s: fio failed on %s: %s", jobfile, target, why);
	}
	memmove(out, out + strlen("--output="), strlen(out) - strlen("--output=") + 1);
	return parse_result(out, row, b1 - b0, e);
}
