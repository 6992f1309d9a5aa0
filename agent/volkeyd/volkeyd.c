// SPDX-License-Identifier: GPL-2.0-or-later
/* volkeyd: the boot agent. Coldplugs the block devices present, follows hotplug
 * through libudev, and hands each device to provision_device() in its own
 * thread, so a slow key service delays only the devices that need it. Reports
 * readiness to systemd once every device present at start has an outcome or
 * has run past [volkey] unlock_timeout_ms, writes /run/volkey/status.json, and
 * logs one line per device. --once: coldplug, wait, exit (tests, initramfs). */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include <libudev.h>

#include "base/cslock.h"
#include "base/dlib.h"
#include "base/log.h"
#include "base/memhooks.h"
#include "base/sdnotify.h"
#include "base/thread.h"
#include "base/timeutil.h"
#include "boot/closeall.h"
#include "boot/devfilter.h"
#include "boot/latemount.h"
#include "boot/provision.h"
#include "boot/raid.h"
#include "boot/statusfile.h"
#include "host/kmod.h"
#include "host/sdmanager.h"
#include "keys/aws_creds.h"
#include "volkeyd/metrics.h"
#include "volkeyd/resume.h"
#include "volkeyd/retry.h"
#include "volume/volume.h"

#define MAX_INFLIGHT 128

static struct volkey_config cfg;
static struct nvme_rules rules;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static char inflight[MAX_INFLIGHT][256];
static bool again[MAX_INFLIGHT]; /* an event came while the device was being handled */
static int ninflight;
static bool ready; /* READY=1 was sent: what unlocks from now on is late */

static void submit(const char *devnode);

static int find_inflight(const char *dev)
{
	for (int i = 0; i < ninflight; i++)
		if (!strcmp(inflight[i], dev))
			return i;
	return -1;
}

/* A worker's device, and the generation of its record when the worker started. */
struct job {
	unsigned long generation;
	char dev[256];
};

static void *worker(void *p)
{
	struct job *job = p;
	const char *dev = job->dev;
	struct device_outcome o;
	bool current;

	provision_device(dev, &cfg, &rules, &o);
	o.generation = job->generation;
	if (!strcmp(o.state, "failed") && retry_transient(o.error)) {
		long d = retry_schedule(dev);
		size_t l = strlen(o.detail);

		if (d >= 0)
			snprintf(o.detail + l, sizeof(o.detail) - l, "; retrying in %.1f s", d / 1000.0);
		else if (d == -2)
			snprintf(o.detail + l, sizeof(o.detail) - l, "; no more retries ([volkey] retry_max = %ld)",
				 cfg.policy.retry_max);
	} else if (strcmp(o.state, "failed")) {
		retry_forget(dev);
	}
	/* Removed while we looked at it: the outcome is the old device's, and must
	 * not make a new device at the same node look settled. */
	current = statusfile_put(&o);
	metrics_kick();
	if (!current)
		log_info("%s: removed while being handled; its outcome (%s: %s) is dropped", dev, o.state, o.detail);
	else if (!strcmp(o.state, "failed"))
		log_error("%s (%s%s%s): %s", dev, o.cls, o.id[0] ? " " : "", o.id, o.detail);
	else
		log_info("%s (%s%s%s): %s: %s%s%s [%.2f s]", dev, o.cls, o.id[0] ? " " : "", o.id, o.state, o.detail,
			 o.mountpoint[0] ? ", mounted on " : "", o.mountpoint, o.seconds);
	bool redo = false, late;
	int i;

	pthread_mutex_lock(&mu);
	late = ready;
	i = find_inflight(dev);
	if (i >= 0) {
		redo = again[i];
		memmove(inflight[i], inflight[ninflight - 1], sizeof(inflight[0]));
		again[i] = again[ninflight - 1];
		ninflight--;
	}
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	/* Unlocked after boot: the fstab mounts on it gave up or never ran. Only
	 * for volumes the policy owns: an unlisted volume's contents are chosen by
	 * whoever attached it, and must not land on an admin's mount point. */
	if (current && late && cfg.policy.start_mounts && o.mapping[0] && o.owned &&
	    (!strcmp(o.state, "unlocked") || !strcmp(o.state, "formatted")))
		latemount_start(&cfg, o.mapping);
	/* After the outcome counts for readiness: finish an interrupted re-encryption. */
	if (current)
		resume_reencryption(dev, &cfg, &o);
	/* The device changed while we looked at it (a format by hand, say): look again. */
	if (redo)
		submit(dev);
	free(job);
	return NULL;
}

/* Settled outcomes are not redone on a "change" event; untouched and failed ones are. */
static bool settled(const char *dev)
{
	char st[24];

	statusfile_state(dev, st, sizeof(st));
	return !strcmp(st, "unlocked") || !strcmp(st, "formatted") || !strcmp(st, "ephemeral") ||
	       !strcmp(st, "already-open");
}

static bool wanted(struct udev_device *d)
{
	_cleanup_free_ char *raid = realpath(VOLKEY_RAID_PATH, NULL);

	return devfilter_wanted(udev_device_get_sysname(d), udev_device_get_devtype(d), udev_device_get_devnode(d),
				udev_device_get_sysattr_value(d, "size"), raid);
}

static void submit(const char *devnode)
{
	struct job *job;

	int i;

	pthread_mutex_lock(&mu);
	i = find_inflight(devnode);
	if (i >= 0)
		again[i] = true;
	if (i >= 0 || settled(devnode) || ninflight == MAX_INFLIGHT || !(job = calloc(1, sizeof(*job)))) {
		pthread_mutex_unlock(&mu);
		return;
	}
	again[ninflight] = false;
	snprintf(inflight[ninflight++], sizeof(inflight[0]), "%s", devnode);
	pthread_mutex_unlock(&mu);
	snprintf(job->dev, sizeof(job->dev), "%s", devnode);
	job->generation = statusfile_working(devnode);
	if (thread_start(NULL, worker, job, true) < 0) {
		pthread_mutex_lock(&mu);
		ninflight--;
		pthread_mutex_unlock(&mu);
		free(job);
		log_error("%s: cannot start a worker thread", devnode);
		return;
	}
}

static bool is_instance_store(const char *devnode)
{
	struct nvme_id_ctrl id;
	struct nvme_ident n;
	const char *base = strrchr(devnode, '/') ? strrchr(devnode, '/') + 1 : devnode;

	if (strncmp(base, "nvme", 4) || nvme_identify_path(devnode, &id) < 0)
		return false;
	nvme_classify(&id, &rules, &n);
	return n.cls == NVME_CLASS_INSTANCE_STORE;
}

/* [instance-store] raid0: the instance-store disks become one md stripe, handled
 * as one device; its members are not handled on their own. */
static void stripe(char **devs, int n, bool *skip)
{
	char *is[64], md[256], why[256] = "";
	int idx[64], k = 0, r;

	for (int i = 0; i < n && k < 64; i++)
		if (is_instance_store(devs[i])) {
			idx[k] = i;
			is[k++] = devs[i];
		}
	if (k == 0)
		return;
	r = raid_prepare(is, k, md, sizeof(md), why, sizeof(why));
	if (r <= 0) {
		/* no stripe: each disk is handled (and reported) on its own */
		log_warning("instance-store stripe: %s%s%s", why, why[0] && r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
		return;
	}
	for (int j = 0; j < k; j++)
		skip[idx[j]] = true;
	log_info("instance-store stripe %s (%s) over %d disk(s)", VOLKEY_RAID_PATH, md, k);
	submit(md);
}

static void coldplug(struct udev *udev)
{
	struct udev_enumerate *en = udev_enumerate_new(udev);
	struct udev_list_entry *e;
	char *devs[256];
	bool skip[256] = { false };
	int n = 0;

	udev_enumerate_add_match_subsystem(en, "block");
	udev_enumerate_scan_devices(en);
	udev_list_entry_foreach(e, udev_enumerate_get_list_entry(en))
	{
		struct udev_device *d = udev_device_new_from_syspath(udev, udev_list_entry_get_name(e));
		if (d && wanted(d) && n < 256)
			devs[n] = strdup(udev_device_get_devnode(d)), n += devs[n] != NULL;
		udev_device_unref(d);
	}
	udev_enumerate_unref(en);
	if (cfg.policy.instance_store.raid0 && cfg.policy.instance_store.provision != PROVISION_OFF)
		stripe(devs, n, skip);
	for (int i = 0; i < n; i++) {
		if (!skip[i])
			submit(devs[i]);
		free(devs[i]);
	}
}

/* Waits for the coldplug workers, at most timeout_ms. Returns how many still run. */
static int wait_workers(long timeout_ms, bool at_boot)
{
	struct timespec ts;
	int left;

	ts = deadline_after_ms(timeout_ms);
	pthread_mutex_lock(&mu);
	while (ninflight > 0)
		if (pthread_cond_timedwait(&cv, &mu, &ts) != 0)
			break;
	left = ninflight;
	for (int i = 0; i < ninflight && at_boot; i++)
		log_error("%s: no outcome within %ld ms; boot goes on, the device keeps trying", inflight[i],
			  timeout_ms);
	pthread_mutex_unlock(&mu);
	return left;
}

/* A detached volume: its mapping would stay, over a device that is gone, until
 * shutdown. Close it (deferred while its file system is still mounted), and
 * forget the node, which may come back as another volume. */
static void removed(const char *dev)
{
	struct device_outcome o;
	bool known = statusfile_get(dev, &o);
	const char *name;
	int r;

	statusfile_forget(dev);
	retry_forget(dev);
	if (!known || strncmp(o.mapping, "/dev/mapper/", 12))
		return;
	name = o.mapping + 12;
	r = closeall_one(name);
	if (r == 0)
		log_info("%s: removed: %s closed", dev, o.mapping);
	else if (r == 1)
		log_warning("%s: removed while %s is in use: the kernel removes the mapping at its last close", dev,
			    o.mapping);
	else if (r == -EPERM)
		log_info("%s: removed; %s is not volkey's to close", dev, o.mapping);
	else if (r != -ENODEV && r != -ENXIO)
		log_warning("%s: removed: cannot close %s: %s", dev, o.mapping, strerror(-r));
}

static int serve(struct udev *udev, struct udev_monitor *mon)
{
	struct pollfd pfd[2];
	sigset_t mask;
	int sfd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0)
		return log_error_errno(negative_errno(), "signalfd: %m");
	pfd[0] = (struct pollfd){ .fd = udev_monitor_get_fd(mon), .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return log_error_errno(negative_errno(), "poll: %m");
		}
		if (pfd[1].revents)
			break;
		if (pfd[0].revents) {
			struct udev_device *d = udev_monitor_receive_device(mon);
			const char *action = d ? udev_device_get_action(d) : NULL;
			if (d && action && (!strcmp(action, "add") || !strcmp(action, "change")) && wanted(d))
				submit(udev_device_get_devnode(d));
			/* A detached volume's node may come back as another volume: forget it. */
			if (d && action && !strcmp(action, "remove") && udev_device_get_devnode(d))
				removed(udev_device_get_devnode(d));
			udev_device_unref(d);
		}
	}
	(void)udev;
	sdnotify("STOPPING=1");
	retry_stop();
	/* A running re-encryption pauses at its next checkpoint; the next boot resumes it. */
	resume_stop_all(20000);
	close(sfd);
	if (!cfg.policy.close_at_shutdown || !sdm_shutting_down()) {
		/* a restart (an upgrade, say) must not take volumes away from their users */
		log_info("stopping (not a system shutdown: mappings stay)");
		return 0;
	}
	/* Workers still unlocking would race with the close: give them a moment. */
	if (wait_workers(5000, false) > 0)
		log_warning("shutdown: devices still being handled; closing what is open");
	{
		struct closeall_result cr;

		closeall_mappings("/sys/block", &cr);
		log_info("stopping (system shutdown): %d mapping(s) closed, %d in use closed by the kernel at "
			 "their last close, %d failed",
			 cr.closed, cr.deferred, cr.failed);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "debug", no_argument, NULL, 'd' },
		{ "once", no_argument, NULL, '1' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *config = NULL;
	struct udev_monitor *mon = NULL;
	struct udev *udev;
	bool once = false;
	sigset_t mask;
	int c, r, left, failures;

	memhooks_setup();
	dl_curl_setup();
	/* Workers unlock in parallel, but wait on KMS and the disk, not on malloc:
	 * two arenas for all of them, not one per worker thread (up to 8 per CPU),
	 * each keeping what its thread freed. */
	mallopt(M_ARENA_MAX, 2);
	aws_env_capture();
	log_setup("volkeyd");
	volume_log_setup();
	{
		CS_LOCKED;
		crypt_token_external_disable();
	}
	while ((c = getopt_long(argc, argv, "c:d1h", opts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'd':
			log_set_max_level(LOG_DEBUG);
			break;
		case '1':
			once = true;
			break;
		case 'h':
			printf("Usage: volkeyd [--config FILE] [--debug] [--once]\n"
			       "The volkey boot agent: unlocks and provisions block devices as volkey.conf says.\n");
			return 0;
		default:
			return 1;
		}
	}
	{
		int line = 0;
		r = config_load(config, &cfg, &line);
		if (r < 0) {
			if (r == -EINVAL && line > 0)
				log_error("cannot read the configuration %s: syntax or value error on line %d",
					  cfg.path[0] ? cfg.path : strna(config), line);
			else
				log_error("cannot read the configuration: %s", strerror(-r));
			return 1;
		}
	}
	if (cfg.policy.instance_store.provision == PROVISION_AUTO && !cfg.policy.instance_store.key[0])
		log_error("[instance-store] provision = auto names no key: blank instance-store disks will fail");
	if (cfg.policy.ebs.provision == PROVISION_AUTO && !cfg.policy.ebs.key[0] && cfg.policy.n_ebs_volumes)
		log_error("[ebs] provision = auto names no key: listed blank EBS volumes will fail");
	r = nvme_rules_from_config(&cfg, &rules);
	if (r < 0)
		return log_error("bad [nvme] match rule"), 1;
	r = statusfile_init(cfg.policy.status_file);
	if (r < 0)
		log_warning_errno(r, "cannot create the directory of %s: %m", cfg.policy.status_file);
	/* Before any device: the mappings made from here on use it. */
	{
		char why[512] = "";
		int k = kmod_apply(&cfg.policy, why, sizeof(why));

		if (k > 0)
			log_info("kernel module volkey_xts loaded: new mappings use its synchronous AES-XTS");
		else if (k == 0)
			log_info("kernel module volkey_xts not loaded: %s", why);
		else
			log_warning("kernel module volkey_xts could not be loaded: %s", why);
	}
	/* Signals are read from a signalfd, in the main thread only. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	if (metrics_start(&cfg) < 0)
		log_warning("cannot start the metrics thread: %s is not kept", cfg.metrics_textfile);

	udev = udev_new();
	if (!udev)
		return log_error("udev_new failed"), 1;
	if (!once) {
		/* Listen before enumerating, so no device falls between the two. */
		mon = udev_monitor_new_from_netlink(udev, "udev");
		if (!mon || udev_monitor_filter_add_match_subsystem_devtype(mon, "block", "disk") < 0 ||
		    udev_monitor_enable_receiving(mon) < 0)
			return log_error("cannot listen to udev events"), 1;
	}
	log_info("starting: instance-store provision=%s, %d EBS volume(s) listed for provisioning",
		 provision_mode_to_string(cfg.policy.instance_store.provision), cfg.policy.n_ebs_volumes);
	if (!once && retry_start(&cfg.policy, submit) < 0)
		log_warning("cannot start the retry thread: failed devices are retried only on udev events");
	coldplug(udev);
	left = wait_workers(cfg.policy.unlock_timeout_ms, true);
	pthread_mutex_lock(&mu);
	ready = true;
	pthread_mutex_unlock(&mu);
	statusfile_set_ready(true);
	metrics_kick();
	failures = statusfile_count("failed");
	sdnotifyf("READY=1\nSTATUS=%d device(s) failed, %d still working", failures, left);
	/* What boot allocated and freed (TLS, JSON, the workers' buffers) goes back
	 * to the kernel: volkeyd stays for the life of the machine. */
	malloc_trim(0);
	log_info("ready: %d failed, %d still working", failures, left);
	{
		struct cs_lock_stats ls;
		cs_lock_stats(&ls);
		/* what serializing libcryptsetup/libdevmapper cost this boot (agent-stress reads it) */
		log_info("libcryptsetup lock: %llu acquisitions, %llu contended, %.1f ms waited, %.1f ms held",
			 (unsigned long long)ls.acquired, (unsigned long long)ls.contended, (double)ls.wait_ns / 1e6,
			 (double)ls.hold_ns / 1e6);
	}
	if (once) {
		udev_unref(udev);
		resume_wait_all();
		metrics_stop();
		metrics_write_now();
		/* Workers past the timeout keep running; do not run exit handlers under them. */
		fflush(stderr);
		_exit(statusfile_count("failed") || left ? 1 : 0);
	}
	r = serve(udev, mon);
	metrics_stop();
	metrics_write_now();
	udev_monitor_unref(mon);
	udev_unref(udev);
	fflush(stderr);
	_exit(r < 0 ? 1 : 0);
}
