// SPDX-License-Identifier: GPL-2.0-or-later
/* The agent's status file: written atomically, never through a symlink planted
 * at its temp name; a removed device's late outcome does not hide a new device
 * at the same node. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/macro.h"
#include "boot/statusfile.h"
#include "unit.h"

static char dir[] = "/tmp/volkey-statusfile-XXXXXX";

static void outcome(struct device_outcome *o, const char *dev, const char *state)
{
	memset(o, 0, sizeof(*o));
	o->token = -1;
	snprintf(o->device, sizeof(o->device), "%s", dev);
	snprintf(o->state, sizeof(o->state), "%s", state);
}

TEST(temp_symlink_not_followed)
{
	char status[128], tmp[160], victim[160];
	_cleanup_free_ char *v = NULL, *j = NULL;
	struct device_outcome o;
	struct stat st;
	int fd;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(status, sizeof(status), "%s/status.json", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", status);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	fd = open(victim, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, "precious\n", 9) == 9);
	close(fd);
	CHECK(symlink(victim, tmp) == 0);

	umask(022);
	CHECK_EQ_INT(statusfile_init(status), 0);
	outcome(&o, "/dev/nvme1n1", "unlocked");
	o.generation = statusfile_working("/dev/nvme1n1");
	CHECK(statusfile_put(&o));

	CHECK_EQ_INT(read_small_file(NULL, victim, 4096, &v), 0);
	CHECK_STREQ(v, "precious\n");
	/* the status file is a regular file of its own, with the outcome */
	CHECK(lstat(status, &st) == 0 && S_ISREG(st.st_mode));
	CHECK_EQ_INT(st.st_mode & 07777, 0644 & ~0022);
	CHECK_EQ_INT(read_small_file(NULL, status, 65536, &j), 0);
	CHECK(j && strstr(j, "\"/dev/nvme1n1\"") != NULL);
	CHECK(access(tmp, F_OK) < 0 && errno == ENOENT);
	unlink(status);
	unlink(victim);
	rmdir(dir);
}

/* volkeyd's worker puts its outcome with the generation statusfile_working() gave. */
static bool put(const char *dev, const char *state, unsigned long generation)
{
	struct device_outcome o;

	outcome(&o, dev, state);
	o.generation = generation;
	return statusfile_put(&o);
}

static const char *state(const char *dev)
{
	static char buf[24];

	statusfile_state(dev, buf, sizeof(buf));
	return buf;
}

TEST(outcome_put_while_current)
{
	unsigned long g = statusfile_working("/dev/nvme2n1");

	CHECK_STREQ(state("/dev/nvme2n1"), "working");
	CHECK(put("/dev/nvme2n1", "unlocked", g));
	CHECK_STREQ(state("/dev/nvme2n1"), "unlocked");
	statusfile_forget("/dev/nvme2n1");
}

TEST(late_outcome_of_a_removed_device_dropped)
{
	unsigned long g = statusfile_working("/dev/nvme3n1");

	/* removed while its worker runs; the worker then finishes */
	statusfile_forget("/dev/nvme3n1");
	CHECK(!put("/dev/nvme3n1", "formatted", g));
	/* nothing recorded: the next add is looked at (volkeyd's settled() is false) */
	CHECK_STREQ(state("/dev/nvme3n1"), "");
}

TEST(late_outcome_does_not_hide_the_new_device)
{
	unsigned long old = statusfile_working("/dev/nvme4n1"), cur;

	statusfile_forget("/dev/nvme4n1");
	cur = statusfile_working("/dev/nvme4n1"); /* another disk at the same node */
	CHECK(cur != old);
	CHECK(!put("/dev/nvme4n1", "unlocked", old));
	CHECK_STREQ(state("/dev/nvme4n1"), "working");
	CHECK(put("/dev/nvme4n1", "untouched", cur));
	CHECK_STREQ(state("/dev/nvme4n1"), "untouched");
	statusfile_forget("/dev/nvme4n1");
}

/* READY's "N failed" counts devices, not attempts: a device retried in the
 * background before READY is one failure however often it failed. */
TEST(failures_count_devices_not_attempts)
{
	struct device_outcome got;
	int before = statusfile_count("failed");

	for (int i = 0; i < 3; i++)
		CHECK(put("/dev/nvme5n1", "failed", statusfile_working("/dev/nvme5n1")));
	CHECK(put("/dev/nvme6n1", "unlocked", statusfile_working("/dev/nvme6n1")));
	CHECK_EQ_INT(statusfile_count("failed"), before + 1);
	CHECK(statusfile_get("/dev/nvme6n1", &got));
	CHECK_STREQ(got.state, "unlocked");
	statusfile_forget("/dev/nvme5n1");
	statusfile_forget("/dev/nvme6n1");
	CHECK(!statusfile_get("/dev/nvme6n1", &got));
	CHECK_EQ_INT(statusfile_count("failed"), before);
}
