/* SPDX-License-Identifier: GPL-2.0-or-later */
/* volkey bench: fio on the raw device and on dm-crypt mappings of the same
 * blocks, side by side. The pieces: the targets (a temporary loop device, the
 * mappings: bench_target.c), one fio job on one target (bench_fio.c), and the
 * report (ratios, table, JSON, plot: bench_report.c). docs/bench.md. */
#pragma once

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>

#include "base/errbuf.h"

#define BENCH_MAX_JOBS 32
#define BENCH_JOB_NAME_MAX 64
#define BENCH_MAX_CONFIGS 16
/* Mappings are named PREFIX<pid>-<config>, with a device-mapper uuid of the same
 * shape under UUID_PREFIX, so a later run can find those a killed run left. */
#define BENCH_MAP_PREFIX "volkey-bench-"
#define BENCH_UUID_PREFIX "VOLKEY-BENCH-"

/* One way to reach the blocks: the raw device, or dm-crypt with these settings. */
struct bench_config {
	const char *name;
	const char *what;
	unsigned sector_size; /* 0: the raw device */
	uint32_t flags;       /* CRYPT_ACTIVATE_NO_{READ,WRITE}_WORKQUEUE */
	const char *driver;   /* an xts(aes) driver to use (NULL: the kernel's best); the
	                       * configuration runs only when /proc/crypto has it */
};
/* raw first, then the dm-crypt configurations; "crypt" is what `volkey format` makes. */
extern const struct bench_config bench_configs[];
extern const int bench_nconfigs;
/* Whether the kernel has registered this crypto driver (/proc/crypto). */
bool bench_driver_present(const char *driver);
/* Index of the configuration called name, or -1. */
int bench_config_find(const char *name);

/* One job on one configuration, from fio's JSON. */
struct bench_row {
	bool done;
	double iops;          /* reads + writes per second */
	double mib_s;
	double lat_mean_us;   /* mean completion latency over reads and writes */
	double lat_p99_us;    /* the larger of the read and write 99th percentiles */
	double cpu_us_per_io; /* busy time of all CPUs during the job / I/Os completed */
	double ratio;         /* IOPS against raw on the same job; < 0 when not computed */
};

struct bench_summary {
	double geomean;   /* geometric mean of the ratios over the jobs */
	double min_ratio; /* the worst job's ratio */
	int min_job;
	int njobs;        /* jobs with a ratio */
};

struct bench_run {
	/* what is measured */
	char device[PATH_MAX]; /* the raw block device */
	char origin[PATH_MAX + 64]; /* "temporary loop device in DIR" or "DEVICE (--destructive)" */
	unsigned long long size; /* bytes used from the start of the device */
	unsigned runtime;        /* seconds per job */
	char job_dir[PATH_MAX];
	char jobs[BENCH_MAX_JOBS][BENCH_JOB_NAME_MAX];
	int njobs;
	bool use[BENCH_MAX_CONFIGS];            /* which of bench_configs take part (raw always) */
	char map_path[BENCH_MAX_CONFIGS][64];   /* the target of each configuration (the raw device for raw) */
	/* the machine */
	char kernel[128], cpu[96], xts_driver[64];
	bool xts_async, cpu_aes, cpu_vaes;
	/* results: rows[job][config] */
	struct bench_row rows[BENCH_MAX_JOBS][BENCH_MAX_CONFIGS];
	struct bench_summary summary[BENCH_MAX_CONFIGS];
	int recommended;         /* config index, or -1 */
	bool interrupted;
};

/* ---- targets (bench_target.c) ---- */
/* A loop device over an unnamed temporary file of size bytes in dir (O_TMPFILE,
 * or a file unlinked at once), flagged to detach itself at its last close: a
 * killed run leaves nothing behind once its mappings are gone. ret_fd keeps it. */
int bench_loop_create(const char *dir, unsigned long long size, char *ret_dev, size_t n, int *ret_fd,
		      struct errbuf *e);
/* A dm-crypt mapping of the first size bytes of dev with a random throwaway key
 * (aes-xts-plain64, 512-bit, like `volkey format`); its node path in ret_path. */
int bench_map_create(const char *dev, unsigned long long size, const struct bench_config *c, char *ret_path,
		     size_t n, struct errbuf *e);
/* Removes this process's mapping for c (retrying while it is briefly busy). */
int bench_map_remove(const struct bench_config *c);
/* Removes mappings of bench runs whose process is gone; returns how many. */
int bench_map_remove_stale(void);

/* ---- fio (bench_fio.c) ---- */
/* Set by the signal handler: stop at the next boundary, and interrupt fio. */
extern volatile sig_atomic_t bench_stop;
void bench_forward_signal(int sig);
/* Writes the first size bytes of target once (1 MiB sequential) so no job reads never-written blocks. */
int bench_prefill(const char *target, unsigned long long size, const char *tmpdir, struct errbuf *e);
/* Runs job_dir/job.fio on target; fills row. -EINTR when interrupted. */
int bench_fio_job(const struct bench_run *run, int job, const char *target, const char *tmpdir,
		  struct bench_row *row, struct errbuf *e);
/* The jobs in dir (every *.fio, sorted), or only those named in list (comma-separated). */
int bench_jobs_load(struct bench_run *run, const char *dir, const char *list, struct errbuf *e);
/* fio's JSON output (notices before it are skipped) into row: -EBADMSG without a job
 * result, -EIO for a failed job or one without I/O. */
int bench_fio_parse(const char *text, struct bench_row *row, double busy_us, struct errbuf *e);
/* The job directory: VOLKEY_BENCH_DIR; the source tree's (a binary in build/) or
 * the installed one beside the binary (sbin/../share/volkey/bench); BENCHDIR. */
int bench_job_dir(char *ret, size_t n);

/* ---- report (bench_report.c) ---- */
/* Ratios against raw, per-configuration summaries and the recommendation. */
void bench_compute(struct bench_run *run);
/* The recommended configuration among those with this sector size (0: any), or -1. */
int bench_best(const struct bench_run *run, unsigned sector_size);
void bench_print_table(const struct bench_run *run, FILE *f);
/* "no_read_workqueue,no_write_workqueue", or "none" (the names `volkey status` uses). */
void bench_flags_text(uint32_t flags, char *buf, size_t n);
struct json_object *bench_json(const struct bench_run *run);
/* Draws encrypted/raw per job and configuration with gnuplot into path (.svg or .png). */
int bench_plot(const struct bench_run *run, const char *path, const char *tmpdir, struct errbuf *e);
/* Jobs of config whose ratio is below min, as "job 0.42, job 0.61" in buf; returns how many. */
int bench_check(const struct bench_run *run, int config, double min, char *buf, size_t n);
