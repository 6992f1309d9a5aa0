// SPDX-License-Identifier: GPL-2.0-or-later
/* volkey bench [DEVICE --destructive] [--quick] [--json] [--plot FILE] [--check MIN] [--apply VOLUME]
 * fio on the raw device and on dm-crypt mappings of the same blocks; docs/bench.md. */
#include <getopt.h>
#include <linux/loop.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/cslock.h"
#include "base/exitcode.h"
#include "base/log.h"
#include "bench/bench.h"
#include "cli/verb_util.h"
#include "cli/verbs.h"
#include "host/devcheck.h"
#include "host/kmod.h"
#include "host/sysinfo.h"
#include "volume/volume.h"
#include "volume/volume_status.h"
#include "volume/volume_tune.h"

#define GiB (1ULL << 30)
#define MiB (1ULL << 20)

struct bench_args {
	const char *device, *dir, *jobs, *configs, *plot, *apply, *save;
	unsigned long long size;
	unsigned runtime;
	bool destructive, quick, json;
	double check; /* < 0: no check */
};

/* "256M", "1G", "512K", "2T"; a bare number is MiB. Multiples of 1 MiB. */
static int parse_size(const char *s, unsigned long long *ret)
{
	char *end;
	unsigned long long v, mul = MiB;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end) {
		const char *u = end;

		switch (*u) {
		case 'K': case 'k': mul = 1ULL << 10; break;
		case 'M': case 'm': mul = MiB; break;
		case 'G': case 'g': mul = GiB; break;
		case 'T': case 't': mul = 1ULL << 40; break;
		default: return -EINVAL;
		}
		u++;
		if (*u == 'i')
			u++;
		if (*u == 'B')
			u++;
		if (*u)
			return -EINVAL;
	}
	if (v == 0 || v > (1ULL << 50) / mul || (v * mul) % MiB)
		return -EINVAL;
	*ret = v * mul;
	return 0;
}

static int parse_configs(const char *list, struct bench_run *run)
{
	run->use[0] = true;
	if (!list) {
		/* The module's configurations when it is loaded (crypt-aesni is then the without). */
		bool module = bench_driver_present("xts-aes-volkey");

		for (int c = 1; c < bench_nconfigs; c++)
			run->use[c] = !bench_configs[c].driver || module;
		return 0;
	}
	for (const char *s = list; *s;) {
		size_t len = strcspn(s, ",");
		char name[64];
		int c;

		snprintf(name, sizeof(name), "%.*s", (int)len, s);
		c = bench_config_find(name);
		if (c < 0) {
			char all[256] = "";

			for (int i = 0; i < bench_nconfigs; i++)
				snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%s", i ? ", " : "",
					 bench_configs[i].name);
			return log_error_errno(-EINVAL, "--configs: unknown configuration '%s' (known: %s)", name, all);
		}
		if (bench_configs[c].driver && !bench_driver_present(bench_configs[c].driver))
			return log_error_errno(-ENOENT, "--configs %s: the kernel has no %s (%s)", name, bench_configs[c].driver,
					       strcmp(bench_configs[c].driver, "xts-aes-volkey") ?
					       "is aesni_intel loaded?" : "load volkey_xts first");
		run->use[c] = true;
		s += len;
		if (*s == ',')
			s++;
	}
	return 0;
}

static bool any_encrypted(const struct bench_run *run)
{
	for (int c = 1; c < bench_nconfigs; c++)
		if (run->use[c])
			return true;
	return false;
}

/* DEVICE must be named with --destructive, be unused, and its data is then gone. */
static int check_scratch(const struct bench_args *a, unsigned long long *ret_size)
{
	struct dev_state s;
	int r;

	r = dev_probe(a->device, &s);
	if (r < 0)
		return log_error_errno(r, "%s: %s", a->device, strerror(-r));
	if (!s.is_block)
		return log_error_errno(-ENOTBLK, "%s: not a block device (without DEVICE, volkey bench uses a temporary loop device)",
				       a->device);
	if (s.mountpoint[0])
		return log_error_errno(-EBUSY, "%s: mounted on %s; volkey bench writes over it, refusing", a->device,
				       s.mountpoint);
	if (s.holder[0])
		return log_error_errno(-EBUSY, "%s: in use by %s; volkey bench writes over it, refusing", a->device,
				       s.holder);
	if (s.busy)
		return log_error_errno(-EBUSY, "%s: in exclusive use by the kernel; refusing", a->device);
	if (!a->destructive) {
		if (s.signature[0])
			return log_error_errno(-EEXIST, "%s: holds a %s signature; volkey bench overwrites the device: "
					       "give --destructive to use it anyway", a->device, s.signature);
		if (s.has_data)
			return log_error_errno(-EEXIST, "%s: holds data; volkey bench overwrites the device: give "
					       "--destructive to use it anyway", a->device);
		return log_error_errno(-EINVAL, "%s: volkey bench overwrites the device; give --destructive to confirm",
				       a->device);
	}
	*ret_size = s.size;
	return 0;
}

/* --apply VOLUME: a LUKS2 volume, and not the device about to be overwritten. */
static int check_apply_target(const struct bench_args *a)
{
	struct volume v = { 0 };
	struct errbuf e = { 0 };
	int r;

	if (a->device && (strcmp(a->device, a->apply) == 0))
		return log_error_errno(-EINVAL, "%s: --apply names the device the benchmark overwrites", a->apply);
	r = volume_load(a->apply, &v, &e);
	if (r < 0)
		return verb_fail(r, &e, "--apply");
	volume_done(&v);
	return 0;
}

/* The directory of an output file must take it: found out before the run, not after. */
static int check_writable(const char *path, const char *opt)
{
	char dir[PATH_MAX];
	const char *slash;

	if (!path)
		return 0;
	slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	if (access(dir, W_OK) < 0)
		return log_error_errno(negative_errno(), "%s %s: cannot write in %s: %m", opt, path, dir);
	return 0;
}

static void machine_info(struct bench_run *run)
{
	struct utsname u;
	struct cpu_aes cpu = { 0 };
	struct xts_driver x = { 0 };

	if (uname(&u) == 0)
		snprintf(run->kernel, sizeof(run->kernel), "%s", u.release);
	if (sysinfo_cpu_probe(NULL, &cpu) == 0) {
		snprintf(run->cpu, sizeof(run->cpu), "%s", cpu.model[0] ? cpu.model : "?");
		run->cpu_aes = cpu.aes;
		run->cpu_vaes = cpu.vaes;
	}
	if (sysinfo_xts_probe(NULL, &x) == 0 && x.found) {
		snprintf(run->xts_driver, sizeof(run->xts_driver), "%s", x.driver);
		run->xts_async = x.async;
	}
}

struct targets {
	int loop_fd;
	bool mapped[BENCH_MAX_CONFIGS];
};

static void targets_release(struct bench_run *run, struct targets *t)
{
	for (int c = 1; c < bench_nconfigs; c++)
		if (t->mapped[c]) {
			if (bench_map_remove(&bench_configs[c]) < 0)
				log_warning("%s%d-%s: cannot remove the mapping (busy); remove it with dmsetup remove",
					    BENCH_MAP_PREFIX, (int)getpid(), bench_configs[c].name);
			t->mapped[c] = false;
		}
	if (t->loop_fd >= 0) {
		/* autoclear is set: the device detaches once its last user is gone */
		(void)ioctl(t->loop_fd, LOOP_CLR_FD, 0);
		close(t->loop_fd);
		t->loop_fd = -1;
		log_debug("%s: detached", run->device);
	}
}

static int targets_setup(const struct bench_args *a, unsigned long long devsize, struct bench_run *run,
			 struct targets *t)
{
	struct errbuf e = { 0 };
	int r;

	if (a->device) {
		snprintf(run->device, sizeof(run->device), "%s", a->device);
		snprintf(run->origin, sizeof(run->origin), "%s (--destructive)", a->device);
		run->size = a->size ? a->size : (devsize < 8 * GiB ? devsize : 8 * GiB);
		if (run->size > devsize)
			return log_error_errno(-EINVAL, "%s: --size %llu MiB is more than the device's %llu MiB", a->device,
					       a->size / MiB, devsize / MiB);
		run->size -= run->size % MiB;
		if (!run->size)
			return log_error_errno(-EINVAL, "%s: smaller than 1 MiB", a->device);
	} else {
		run->size = a->size ? a->size : (a->quick ? 256 * MiB : GiB);
		r = bench_loop_create(a->dir, run->size, run->device, sizeof(run->device), &t->loop_fd, &e);
		if (r < 0)
			return verb_fail(r, &e, "temporary loop device");
		snprintf(run->origin, sizeof(run->origin), "temporary loop device on a file in %s", a->dir);
	}
	snprintf(run->map_path[0], sizeof(run->map_path[0]), "%s", run->device);
	for (int c = 1; c < bench_nconfigs && !bench_stop; c++) {
		if (!run->use[c])
			continue;
		r = bench_map_create(run->device, run->size, &bench_configs[c], run->map_path[c], sizeof(run->map_path[c]),
				     &e);
		if (r < 0)
			return verb_fail(r, &e, "dm-crypt mapping");
		t->mapped[c] = true;
	}
	return bench_stop ? -EINTR : 0;
}

static int run_all(struct bench_run *run, const char *tmpdir)
{
	struct errbuf e = { 0 };
	int n = 0, total = 0, r;

	for (int c = 0; c < bench_nconfigs; c++)
		total += run->use[c] ? run->njobs : 0;
	log_info("%s: writing %llu MiB once so no job reads never-written blocks", run->device, run->size / MiB);
	r = bench_prefill(run->device, run->size, tmpdir, &e);
	if (r < 0)
		return r == -EINTR ? r : verb_fail(r, &e, "prefill");
	/* Job by job, every configuration in turn: raw and encrypted run minutes apart at most. */
	for (int j = 0; j < run->njobs; j++)
		for (int c = 0; c < bench_nconfigs; c++) {
			struct bench_row *x = &run->rows[j][c];

			if (!run->use[c])
				continue;
			r = bench_fio_job(run, j, run->map_path[c], tmpdir, x, &e);
			if (r == -EINTR)
				return r;
			if (r < 0)
				return verb_fail(r, &e, "fio");
			log_info("[%d/%d] %-18s %-15s %10.0f IOPS %9.1f MiB/s", ++n, total, run->jobs[j],
				 bench_configs[c].name, x->iops, x->mib_s);
		}
	return 0;
}

static void rm_tmpdir(const char *dir)
{
	static const char *const files[] = { "fio.json", "fio.out", "prefill.out", "ratios.tsv" };
	char p[PATH_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		(void)unlink(p);
	}
	(void)rmdir(dir);
}

/* Stores the best configuration's flags among those the volume's sector size allows. */
static int apply(const struct bench_run *run, const char *volume, struct json_object *out)
{
	CS_LOCKED;
	struct volkey_config cfg;
	struct perf_flags_result res;
	struct errbuf e = { 0 };
	char was[96], now[96], live[96];
	struct volume v = { 0 };
	unsigned sector;
	int best, r;

	r = volume_load(volume, &v, &e);
	if (r < 0)
		return verb_fail(r, &e, "--apply");
	sector = (unsigned)crypt_get_sector_size(v.cd);
	volume_done(&v);
	best = bench_best(run, sector);
	if (best < 0)
		return log_error_errno(-ENODATA, "%s: no configuration with %u-byte sectors was measured; nothing applied",
				       volume, sector);
	if (run->recommended > 0 && bench_configs[run->recommended].sector_size != sector)
		log_notice("%s: uses %u-byte sectors; %s (%u-byte) measured best, which would need re-encryption "
			   "with the other sector size: applying the best with %u-byte sectors, %s", volume, sector,
			   bench_configs[run->recommended].name, bench_configs[run->recommended].sector_size, sector,
			   bench_configs[best].name);
	r = verb_load_config(&cfg);
	if (r < 0)
		return r;
	r = volume_set_perf_flags(volume, bench_configs[best].flags, &cfg, &res, &e);
	if (r < 0)
		return verb_fail(r, &e, "--apply");
	bench_flags_text(res.old_flags, was, sizeof(was));
	bench_flags_text(res.new_flags, now, sizeof(now));
	bench_flags_text(res.live_flags, live, sizeof(live));
	log_notice("%s: persistent flags %s%s (configuration %s)%s", volume, res.changed ? "now " : "already ", now,
		   bench_configs[best].name, res.changed ? "" : "; header unchanged");
	if (res.changed)
		log_info("%s: persistent flags were %s", volume, was);
	if (res.mapping[0] && res.refreshed)
		log_notice("%s: open mapping %s runs with flags %s", volume, res.mapping, live);
	else if (res.mapping[0])
		log_warning("%s: open mapping %s keeps flags %s until it is reopened: %s", volume, res.mapping, live,
			    res.refresh_error);
	if (out) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "volume", json_object_new_string(volume));
		json_object_object_add(o, "config", json_object_new_string(bench_configs[best].name));
		json_object_object_add(o, "persistent_flags", activation_flags_json(res.new_flags));
		json_object_object_add(o, "changed", json_object_new_boolean(res.changed));
		json_object_object_add(o, "mapping", res.mapping[0] ? json_object_new_string(res.mapping) : NULL);
		json_object_object_add(o, "mapping_flags", res.mapping[0] ? activation_flags_json(res.live_flags) : NULL);
		json_object_object_add(out, "applied", o);
	}
	return 0;
}

/* With the kernel's AES-NI XTS and volkey_xts measured side by side, keep the
 * result for `kernel_module = auto` (volkeyd loads the module only on a gain). */
static void record_module_gain(const struct bench_run *run)
{
	int a = bench_config_find("crypt-aesni"), m = bench_config_find("crypt-module");
	struct volkey_config cfg;
	int r;

	if (!run->use[a] || !run->use[m] || !run->summary[a].njobs || !run->summary[m].njobs)
		return;
	if (verb_load_config(&cfg) < 0)
		return;
	r = kmod_record(&cfg.policy, run->kernel, run->summary[a].geomean, run->summary[m].geomean);
	if (r < 0)
		log_warning("%s: cannot record the module's measurement: %s", cfg.policy.module_record, strerror(-r));
	else
		log_notice("volkey_xts against the kernel's AES-NI XTS: %.2fx (geometric mean), recorded in %s for "
			   "kernel_module = auto", run->summary[m].geomean / run->summary[a].geomean, cfg.policy.module_record);
}

static int parse_args(int argc, char **argv, struct bench_args *a)
{
	static const struct option opts[] = {
		{ "destructive", no_argument, NULL, 'D' },
		{ "dir", required_argument, NULL, 'd' },
		{ "size", required_argument, NULL, 's' },
		{ "runtime", required_argument, NULL, 't' },
		{ "quick", no_argument, NULL, 'q' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "configs", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'J' },
		{ "plot", required_argument, NULL, 'p' },
		{ "check", required_argument, NULL, 'C' },
		{ "apply", required_argument, NULL, 'a' },
		{ "save", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	char *end;
	int c;

	*a = (struct bench_args){ .dir = "/var/tmp", .check = -1 };
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'D': a->destructive = true; break;
		case 'd': a->dir = optarg; break;
		case 's':
			if (parse_size(optarg, &a->size) < 0)
				return log_error_errno(-EINVAL, "--size %s: not a size such as 256M or 2G (whole MiB)", optarg);
			break;
		case 't':
			if (parse_uint(optarg, 3600, &a->runtime) < 0 || a->runtime == 0)
				return log_error_errno(-EINVAL, "--runtime %s: not a number of seconds from 1 to 3600", optarg);
			break;
		case 'q': a->quick = true; break;
		case 'j': a->jobs = optarg; break;
		case 'c': a->configs = optarg; break;
		case 'J': a->json = true; break;
		case 'p': a->plot = optarg; break;
		case 'C':
			errno = 0;
			a->check = strtod(optarg, &end);
			if (errno || *end || end == optarg || !(a->check >= 0) || a->check > 100)
				return log_error_errno(-EINVAL, "--check %s: not a ratio such as 0.8", optarg);
			break;
		case 'a': a->apply = optarg; break;
		case 'S': a->save = optarg; break;
		case 'h': verb_print_help(&verb_bench); return 1;
		default: return -EINVAL;
		}
	}
	if (optind < argc)
		a->device = argv[optind++];
	if (optind < argc)
		return log_error_errno(-EINVAL, "bench: unexpected argument '%s'", argv[optind]);
	if (a->destructive && !a->device)
		return log_error_errno(-EINVAL, "--destructive needs a DEVICE to overwrite");
	if (!a->runtime)
		a->runtime = a->quick ? 3 : 10;
	return 0;
}

static int bench_main(const struct bench_args *a, struct bench_run *run)
{
	struct targets t = { .loop_fd = -1 };
	struct json_object *out = NULL;
	char tmpdir[] = "/tmp/volkey-bench.XXXXXX";
	struct errbuf e = { 0 };
	char jobdir[PATH_MAX];
	unsigned long long devsize = 0;
	int r, rc = 0;

	if (bench_job_dir(jobdir, sizeof(jobdir)) < 0)
		return log_error_errno(-ENOENT, "%s: no fio job files there (set VOLKEY_BENCH_DIR)", jobdir);
	r = bench_jobs_load(run, jobdir, a->jobs, &e);
	if (r < 0)
		return verb_fail(r, &e, "jobs");
	if (a->apply && (r = check_apply_target(a)) < 0)
		return r;
	if (a->plot && (!strrchr(a->plot, '.') || (strcmp(strrchr(a->plot, '.'), ".svg") && strcmp(strrchr(a->plot, '.'), ".png"))))
		return log_error_errno(-EINVAL, "--plot %s: the file name must end in .svg or .png", a->plot);
	if ((r = check_writable(a->plot, "--plot")) < 0 || (r = check_writable(a->save, "--save")) < 0)
		return r;
	if ((a->check >= 0 || a->apply || a->plot) && !any_encrypted(run))
		return log_error_errno(-EINVAL, "--check, --apply and --plot need an encrypted configuration in --configs");
	if (a->device && (r = check_scratch(a, &devsize)) < 0)
		return r;
	machine_info(run);
	if (any_encrypted(run)) {
		struct dm_support dm = { 0 };

		if (sysinfo_dm_probe(NULL, run->kernel, &dm) == 0 && dm.crypt != FEATURE_AVAILABLE)
			return log_error_errno(-EOPNOTSUPP, "this kernel cannot make dm-crypt mappings (%s); "
					       "`--configs raw` measures the raw device only",
					       dm.reason[0] ? dm.reason : "dm_crypt not loaded");
		bench_map_remove_stale();
	}
	if (!mkdtemp(tmpdir))
		return log_error_errno(negative_errno(), "/tmp: cannot make a directory for fio's output: %m");
	r = targets_setup(a, devsize, run, &t);
	machine_info(run); /* again: the first mapping loads the xts(aes) driver it uses */
	if (r == 0)
		r = run_all(run, tmpdir);
	targets_release(run, &t);
	if (r == -EINTR || bench_stop) {
		run->interrupted = true;
		log_error("interrupted by signal %d: every mapping and loop device the run made is removed", (int)bench_stop);
		r = -EINTR;
	}
	if (r < 0 && !run->interrupted) {
		rm_tmpdir(tmpdir);
		return r;
	}
	bench_compute(run);
	if (a->json || a->save)
		out = bench_json(run);
	if (!a->json)
		bench_print_table(run, stdout);
	if (!run->interrupted && a->plot) {
		r = bench_plot(run, a->plot, tmpdir, &e);
		if (r < 0)
			rc = verb_fail(r, &e, "--plot");
		else
			log_notice("plot written to %s", a->plot);
	}
	rm_tmpdir(tmpdir);
	if (!run->interrupted && a->check >= 0 && rc == 0) {
		char bad[1024];
		int best = run->recommended;
		int n = best > 0 ? bench_check(run, best, a->check, bad, sizeof(bad)) : 0;

		if (out) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "min_ratio", json_object_new_double(a->check));
			json_object_object_add(o, "config", best > 0 ? json_object_new_string(bench_configs[best].name) : NULL);
			json_object_object_add(o, "passed", json_object_new_boolean(best > 0 && n == 0));
			json_object_object_add(out, "check", o);
		}
		if (best <= 0)
			rc = log_error_errno(-ENODATA, "--check: no encrypted configuration has a ratio");
		else if (n) {
			log_error("check FAILED: %s, encrypted/raw below %.2f on %d job%s: %s", bench_configs[best].name, a->check,
				  n, n > 1 ? "s" : "", bad);
			rc = verb_exit_code(EXIT_CHECK_FAILED);
		} else
			log_notice("check passed: %s, every job's encrypted/raw is at least %.2f", bench_configs[best].name,
				   a->check);
	}
	if (!run->interrupted)
		record_module_gain(run);
	if (!run->interrupted && a->apply && rc == 0)
		rc = apply(run, a->apply, out);
	if (out && a->save && json_object_to_file_ext(a->save, out, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE) < 0)
		rc = log_error_errno(-EIO, "--save %s: cannot write the results: %s", a->save, json_util_get_last_err());
	if (out && a->json)
		printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(out);
	return run->interrupted ? -EINTR : rc;
}

static int run_bench(int argc, char **argv)
{
	_cleanup_free_ struct bench_run *run = NULL;
	struct sigaction sa = { .sa_handler = bench_forward_signal }, old[3];
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct bench_args a;
	int r;

	r = parse_args(argc, argv, &a);
	if (r != 0)
		return r > 0 ? 0 : r;
	run = calloc(1, sizeof(*run));
	if (!run)
		return log_error_errno(-ENOMEM, "out of memory");
	run->runtime = a.runtime;
	run->recommended = -1;
	r = parse_configs(a.configs, run);
	if (r < 0)
		return r;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &sa, &old[i]);
	r = bench_main(&a, run);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &old[i], NULL);
	return r;
}

const struct verb verb_bench = {
	.name = "bench",
	.args = "[DEVICE --destructive] [--quick] [--json|--save FILE] [--plot FILE] [--check MIN] [--apply VOLUME]",
	.summary = "measure dm-crypt against the raw device with fio; store the best flags",
	.run = run_bench,
	.help =
	"Runs the fio jobs (tools/bench/*.fio, installed in share/volkey/bench) on the raw\n"
	"device and on dm-crypt mappings of the same blocks in several configurations,\n"
	"and prints IOPS, MiB/s, mean and p99 latency, CPU per I/O and encrypted/raw.\n"
	"Without DEVICE it uses a temporary file-backed loop device. Everything it made\n"
	"is removed when it ends, also on Ctrl-C.\n"
	"\n"
	"  DEVICE --destructive  a scratch block device to measure; its contents are destroyed\n"
	"  --dir DIR             where the temporary file goes (default /var/tmp)\n"
	"  --size SIZE           bytes to use (default 1G, --quick 256M; a device: up to 8G)\n"
	"  --runtime SEC         seconds per job and configuration (default 10, --quick 3)\n"
	"  --quick               a short pass\n"
	"  --jobs LIST           only these jobs (comma-separated names of .fio files)\n"
	"  --configs LIST        only these configurations (raw is always measured):\n"
	"                        crypt, crypt-512, crypt-noread, crypt-nowrite, crypt-nowq, crypt-512-nowq;\n"
	"                        with volkey_xts loaded also crypt-aesni, crypt-module, crypt-module-nowq\n"
	"  --json                results as JSON on stdout (progress stays on stderr)\n"
	"  --save FILE           also write the JSON results to FILE\n"
	"  --plot FILE           draw encrypted/raw per job and configuration (.svg or .png; gnuplot)\n"
	"  --check MIN           exit 13 when a job of the best configuration has encrypted/raw below MIN\n"
	"  --apply VOLUME        store the best configuration's workqueue flags in VOLUME's LUKS2\n"
	"                        header (persistent flags) and reload its open mapping with them\n",
};
