// SPDX-License-Identifier: LGPL-2.1-or-later
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <linux/fs.h>
#include <blkid/blkid.h>

#include "base/fileio.h"
#include "base/macro.h"
#include "host/devcheck.h"

#define SCAN_BYTES (1024 * 1024)

static void probe_signature(const char *path, struct dev_state *s)
{
	blkid_probe pr = blkid_new_probe_from_filename(path);
	const char *v = NULL;

	if (!pr)
		return;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_BADCSUM);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);
	switch (blkid_do_safeprobe(pr)) {
	case 0:
		if (blkid_probe_lookup_value(pr, "TYPE", &v, NULL) == 0 ||
		    blkid_probe_lookup_value(pr, "PTTYPE", &v, NULL) == 0)
			snprintf(s->signature, sizeof(s->signature), "%s", v);
		else
			snprintf(s->signature, sizeof(s->signature), "unknown");
		break;
	case -2:
		snprintf(s->signature, sizeof(s->signature), "several (ambivalent)");
		break;
	default:
		break;
	}
	blkid_free_probe(pr);
}

static bool all_zero(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* "Blank" decides whether a device may be formatted without --force, and whether
 * the agent may provision it: read the first 64 MiB and the last MiB in full, and
 * 256 evenly spaced 64 KiB samples in between. A few bytes written elsewhere can
 * still hide between samples (documented); every filesystem, partition table and
 * volume header blkid knows is caught by the signature probe as well. */
#define HEAD_BYTES (64ULL << 20)
#define SAMPLES 256
#define SAMPLE_BYTES (64 * 1024)

static int range_zero(int fd, unsigned char *buf, unsigned long long off, unsigned long long len)
{
	while (len > 0) {
		size_t want = len > SCAN_BYTES ? SCAN_BYTES : (size_t)len;
		ssize_t n = pread(fd, buf, want, (off_t)off);
		if (n < 0)
			return negative_errno();
		if (n == 0)
			break;
		if (!all_zero(buf, (size_t)n))
			return 0;
		off += (unsigned long long)n;
		len -= (unsigned long long)n;
	}
	return 1;
}

static int scan_data(int fd, struct dev_state *s)
{
	_cleanup_free_ unsigned char *buf = malloc(SCAN_BYTES);
	unsigned long long head = s->size < HEAD_BYTES ? s->size : HEAD_BYTES;
	int r;

	if (!buf)
		return -ENOMEM;
	r = range_zero(fd, buf, 0, head);
	if (r == 1 && s->size > head)
		r = range_zero(fd, buf, s->size > SCAN_BYTES ? s->size - SCAN_BYTES : 0, SCAN_BYTES);
	for (unsigned i = 0; r == 1 && s->size > head + SAMPLE_BYTES && i < SAMPLES; i++) {
		unsigned long long off = head + (s->size - head - SAMPLE_BYTES) / SAMPLES * i;
		r = range_zero(fd, buf, off & ~4095ULL, SAMPLE_BYTES);
	}
	if (r < 0)
		return r;
	s->has_data = r == 0;
	return 0;
}

int dev_range_blank(const char *path, unsigned long long offset)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ unsigned char *buf = NULL;
	unsigned long long size;
	struct stat st;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0)
		return negative_errno();
	if (S_ISBLK(st.st_mode)) {
		uint64_t sz = 0;
		if (ioctl(fd, BLKGETSIZE64, &sz) < 0)
			return negative_errno();
		size = sz;
	} else {
		size = (unsigned long long)st.st_size;
	}
	if (offset >= size)
		return 1;
	buf = malloc(SCAN_BYTES);
	if (!buf)
		return -ENOMEM;
	n = pread(fd, buf, SCAN_BYTES, (off_t)offset);
	if (n < 0)
		return negative_errno();
	if (!all_zero(buf, (size_t)n))
		return 0;
	if (size - offset > SCAN_BYTES) {
		n = pread(fd, buf, SCAN_BYTES, (off_t)(size - SCAN_BYTES));
		if (n < 0)
			return negative_errno();
		if (!all_zero(buf, (size_t)n))
			return 0;
	}
	return 1;
}

static void find_mount(struct dev_state *s)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	unsigned maj, min;
	char mp[1024];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		/* id parent maj:min root mountpoint ... */
		if (sscanf(line, "%*d %*d %u:%u %*s %1023s", &maj, &min, mp) != 3)
			continue;
		if (makedev(maj, min) == s->rdev) {
			snprintf(s->mountpoint, sizeof(s->mountpoint), "%s", mp);
			return;
		}
	}
}

static void find_holder(struct dev_state *s)
{
	char dir[128], sub[384];
	_cleanup_free_ char *name = NULL;
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "/sys/dev/block/%u:%u/holders", major(s->rdev), minor(s->rdev));
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s/dm/name", dir, de->d_name);
		if (read_first_line(NULL, sub, &name) == 0)
			snprintf(s->holder, sizeof(s->holder), "%s (%s)", de->d_name, name);
		else
			snprintf(s->holder, sizeof(s->holder), "%s", de->d_name);
		break;
	}
	closedir(d);
}

/* A regular file attached to a loop device is in use just like the device. */
static void find_loop_attachment(const struct stat *st, struct dev_state *s)
{
	struct dirent *de;
	DIR *d = opendir("/sys/block");

	if (!d)
		return;
	while ((de = readdir(d))) {
		_cleanup_free_ char *backing = NULL;
		char p[320];
		struct stat bs;

		if (strncmp(de->d_name, "loop", 4) != 0)
			continue;
		snprintf(p, sizeof(p), "/sys/block/%s/loop/backing_file", de->d_name);
		if (read_first_line(NULL, p, &backing) < 0)
			continue;
		if (stat(backing, &bs) == 0 && bs.st_dev == st->st_dev && bs.st_ino == st->st_ino) {
			snprintf(s->holder, sizeof(s->holder), "/dev/%s (attached loop device)", de->d_name);
			break;
		}
	}
	closedir(d);
}

int dev_probe(const char *path, struct dev_state *ret)
{
	struct dev_state s = { 0 };
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	s.is_block = S_ISBLK(st.st_mode);
	if (s.is_block) {
		uint64_t sz = 0;
		s.rdev = st.st_rdev;
		if (ioctl(fd, BLKGETSIZE64, &sz) < 0)
			return negative_errno();
		s.size = sz;
		find_mount(&s);
		find_holder(&s);
		{
			int x = open(path, O_RDONLY | O_EXCL | O_CLOEXEC);
			if (x < 0 && errno == EBUSY)
				s.busy = true;
			if (x >= 0)
				close(x);
		}
	} else if (S_ISREG(st.st_mode)) {
		s.size = (unsigned long long)st.st_size;
		find_loop_attachment(&st, &s);
	} else {
		return -ENOTBLK;
	}
	/* No media, or not ready yet (an md array being assembled): never "blank". */
	if (s.size == 0)
		return -ENOMEDIUM;
	probe_signature(path, &s);
	/* A known signature already says "not blank": spare the reads. */
	if (!s.signature[0]) {
		r = scan_data(fd, &s);
		if (r < 0)
			return r;
	}
	*ret = s;
	return 0;
}
