// SPDX-License-Identifier: GPL-2.0-or-later
/* The benchmark's block devices: a temporary loop device, and dm-crypt mappings
 * over the same blocks made with libdevmapper (libcryptsetup would want a header). */
#include <fcntl.h>
#include <libcryptsetup.h>
#include <libdevmapper.h>
#include <linux/loop.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/cslock.h"
#include "base/log.h"
#include "base/macro.h"
#include "base/secret.h"
#include "bench/bench.h"
#include "host/dmlog.h"

/* A file nobody can open by name: O_TMPFILE, or (filesystems without it) a
 * mkstemp file unlinked at once. */
static int unnamed_file(const char *dir, struct errbuf *e)
{
	char path[PATH_MAX];
	int fd;

	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return err_fail(e, negative_errno(), "%s: cannot create a temporary file: %m", dir);
	snprintf(path, sizeof(path), "%s/volkey-bench.XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return err_fail(e, negative_errno(), "%s: cannot create a temporary file: %m", dir);
	(void)unlink(path);
	return fd;
}

/* Whether reads of the file with O_DIRECT work. The loop driver trusts the file's
 * address-space operations, which lie on some stacks (overlayfs over tmpfs): a
 * loop device in direct-I/O mode there fails every request. */
static bool direct_io_works(int ffd)
{
	char path[64];
	void *buf;
	bool ok;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", ffd);
	fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (posix_memalign(&buf, 4096, 4096) != 0) {
		close(fd);
		return false;
	}
	ok = pread(fd, buf, 4096, 0) == 4096;
	free(buf);
	close(fd);
	return ok;
}

static int loop_attach(int lfd, int ffd)
{
	struct loop_config cfg = {
		.fd = (unsigned)ffd,
		.info.lo_flags = LO_FLAGS_AUTOCLEAR | (direct_io_works(ffd) ? LO_FLAGS_DIRECT_IO : 0),
	};
	struct loop_info64 info = { .lo_flags = LO_FLAGS_AUTOCLEAR };

	if (ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOTTY)
		return negative_errno();
	/* Kernels before 5.8, or a file that refuses direct I/O. */
	if (ioctl(lfd, LOOP_SET_FD, ffd) < 0)
		return negative_errno();
	if (ioctl(lfd, LOOP_SET_STATUS64, &info) < 0) {
		int r = negative_errno();
		(void)ioctl(lfd, LOOP_CLR_FD, 0);
		return r;
	}
	return 0;
}

int bench_loop_create(const char *dir, unsigned long long size, char *ret_dev, size_t n, int *ret_fd,
		      struct errbuf *e)
{
	_cleanup_close_ int ffd = -1, ctl = -1;
	int r;

	ffd = unnamed_file(dir, e);
	if (ffd < 0)
		return ffd;
	if (fallocate(ffd, 0, 0, (off_t)size) < 0) {
		if (errno == ENOSPC)
			return err_fail(e, -ENOSPC, "%s: no room for a %llu MiB temporary file (--size, or --dir elsewhere)",
					dir, size >> 20);
		if (errno != EOPNOTSUPP || ftruncate(ffd, (off_t)size) < 0)
			return err_fail(e, negative_errno(), "%s: cannot size the temporary file: %m", dir);
	}
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return err_fail(e, negative_errno(), "/dev/loop-control: %m (no loop devices on this kernel?)");
	for (int attempt = 0; attempt < 16; attempt++) {
		_cleanup_close_ int lfd = -1;
		int nr = ioctl(ctl, LOOP_CTL_GET_FREE);

		if (nr < 0)
			return err_fail(e, negative_errno(), "/dev/loop-control: no free loop device: %m");
		snprintf(ret_dev, n, "/dev/loop%d", nr);
		lfd = open(ret_dev, O_RDWR | O_CLOEXEC);
		if (lfd < 0)
			return err_fail(e, negative_errno(), "%s: %m", ret_dev);
		r = loop_attach(lfd, ffd);
		if (r == -EBUSY) /* another process took it between GET_FREE and here */
			continue;
		if (r < 0)
			return err_fail(e, r, "%s: cannot attach the temporary file: %s", ret_dev, strerror(-r));
		*ret_fd = TAKE_FD(lfd);
		return 0;
	}
	return err_fail(e, -EBUSY, "no loop device stayed free long enough to attach");
}

static void map_names(const struct bench_config *c, pid_t pid, char *name, size_t nn, char *uuid, size_t un)
{
	snprintf(name, nn, BENCH_MAP_PREFIX "%d-%s", (int)pid, c->name);
	snprintf(uuid, un, BENCH_UUID_PREFIX "%d-%s", (int)pid, c->name);
}

/* The crypt target's line: cipher, key in hex, IV offset, device, offset, options. */
static int crypt_params(const char *dev, const struct bench_config *c, char **ret, struct errbuf *e)
{
	static const char hex[] = "0123456789abcdef";
	_cleanup_secret_ uint8_t *key = NULL;
	char opts[160] = "", cipher[64];
	int nopts = 0;
	size_t cl;
	struct stat st;
	char *p;
	size_t len;

	if (stat(dev, &st) < 0 || !S_ISBLK(st.st_mode))
		return err_fail(e, -ENOTBLK, "%s: not a block device", dev);
	key = secret_alloc(64);
	if (!key || getrandom(key, 64, 0) != 64)
		return err_fail(e, -ENOMEM, "cannot make a throwaway key in locked memory");
	if (c->sector_size > 512) {
		nopts += 2;
		snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts), " sector_size:%u iv_large_sectors",
			 c->sector_size);
	}
	if (c->flags & CRYPT_ACTIVATE_NO_READ_WORKQUEUE) {
		nopts++;
		strcat(opts, " no_read_workqueue");
	}
	if (c->flags & CRYPT_ACTIVATE_NO_WRITE_WORKQUEUE) {
		nopts++;
		strcat(opts, " no_write_workqueue");
	}
	/* A configuration tied to one implementation names its driver (dm-crypt's capi: form). */
	if (c->driver)
		snprintf(cipher, sizeof(cipher), "capi:%s-plain64 ", c->driver);
	else
		snprintf(cipher, sizeof(cipher), "aes-xts-plain64 ");
	cl = strlen(cipher);
	len = cl + 128 + 64 + strlen(opts) + 1;
	p = secret_alloc(len);
	if (!p)
		return err_fail(e, -ENOMEM, "cannot hold the mapping table in locked memory");
	memcpy(p, cipher, cl);
	for (int i = 0; i < 64; i++) {
		p[cl + 2 * i] = hex[key[i] >> 4];
		p[cl + 2 * i + 1] = hex[key[i] & 15];
	}
	if (nopts)
		snprintf(p + cl + 128, len - cl - 128, " 0 %u:%u 0 %d%s", major(st.st_rdev), minor(st.st_rdev), nopts, opts);
	else
		snprintf(p + cl + 128, len - cl - 128, " 0 %u:%u 0", major(st.st_rdev), minor(st.st_rdev));
	*ret = p;
	return 0;
}

/* Runs a task that may create or remove a node, waiting for udev when it runs. */
static bool dm_run_synced(struct dm_task *dmt)
{
	CS_LOCKED;
	uint32_t cookie = 0;
	bool ok;

	if (!dm_task_set_cookie(dmt, &cookie, 0))
		return false;
	ok = dm_task_run(dmt);
	(void)dm_udev_wait(cookie);
	return ok;
}

int bench_map_create(const char *dev, unsigned long long size, const struct bench_config *c, char *ret_path,
		     size_t n, struct errbuf *e)
{
	CS_LOCKED;
	_cleanup_secret_ char *params = NULL;
	char name[128], uuid[128];
	struct dm_task *dmt;
	struct dm_info info;
	int r;

	dmlog_setup();
	if (size % 4096)
		return err_fail(e, -EINVAL, "%s: %llu bytes is not a multiple of 4096", dev, size);
	r = crypt_params(dev, c, &params, e);
	if (r < 0)
		return r;
	map_names(c, getpid(), name, sizeof(name), uuid, sizeof(uuid));
	dmt = dm_task_create(DM_DEVICE_CREATE);
	if (!dmt)
		return err_fail(e, -ENOMEM, "device-mapper: cannot create a task");
	r = 0;
	if (!dm_task_set_name(dmt, name) || !dm_task_set_uuid(dmt, uuid) || !dm_task_secure_data(dmt) ||
	    !dm_task_add_target(dmt, 0, size / 512, "crypt", params))
		r = err_fail(e, -ENOMEM, "device-mapper: cannot build the table of %s", name);
	else if (!dm_run_synced(dmt))
		r = err_fail(e, -EIO, "%s: cannot create the dm-crypt mapping %s (is dm_crypt loaded? see `volkey doctor`)",
			     dev, name);
	else if (!dm_task_get_info(dmt, &info) || !info.exists)
		r = err_fail(e, -EIO, "%s: the mapping %s vanished after its creation", dev, name);
	else /* devtmpfs makes dm-N whether or not udev runs */
		snprintf(ret_path, n, "/dev/dm-%u", info.minor);
	dm_task_destroy(dmt);
	return r;
}

static int map_remove_name(const char *name)
{
	CS_LOCKED;
	struct dm_task *dmt;
	bool ok;

	dmt = dm_task_create(DM_DEVICE_REMOVE);
	if (!dmt)
		return -ENOMEM;
	ok = dm_task_set_name(dmt, name) && dm_task_retry_remove(dmt) && dm_run_synced(dmt);
	dm_task_destroy(dmt);
	return ok ? 0 : -EBUSY;
}

int bench_map_remove(const struct bench_config *c)
{
	char name[128], uuid[128];

	map_names(c, getpid(), name, sizeof(name), uuid, sizeof(uuid));
	return map_remove_name(name);
}

int bench_map_remove_stale(void)
{
	CS_LOCKED;
	struct dm_task *dmt;
	struct dm_names *nm;
	unsigned next = 0;
	char stale[32][128];
	int nstale = 0, removed = 0;

	dmlog_setup();
	dmt = dm_task_create(DM_DEVICE_LIST);
	if (!dmt)
		return -ENOMEM;
	if (!dm_task_run(dmt) || !(nm = dm_task_get_names(dmt))) {
		dm_task_destroy(dmt);
		return 0; /* no device-mapper: nothing can be stale */
	}
	if (nm->dev) {
		do {
			nm = (struct dm_names *)((char *)nm + next);
			if (strncmp(nm->name, BENCH_MAP_PREFIX, strlen(BENCH_MAP_PREFIX)) == 0 && nstale < 32) {
				int pid = atoi(nm->name + strlen(BENCH_MAP_PREFIX));

				if (pid > 0 && pid != getpid() && kill(pid, 0) < 0 && errno == ESRCH)
					snprintf(stale[nstale++], sizeof(stale[0]), "%s", nm->name);
			}
			next = nm->next;
		} while (next);
	}
	dm_task_destroy(dmt);
	for (int i = 0; i < nstale; i++) {
		if (map_remove_name(stale[i]) == 0) {
			log_info("removed %s, left by an interrupted bench run", stale[i]);
			removed++;
		} else {
			log_warning("%s: left by an interrupted bench run, and still busy", stale[i]);
		}
	}
	return removed;
}
