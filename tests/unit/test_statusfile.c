// SPDX-License-Identifier: GPL-2.0-or-later
/* The agent's status file: written atomically, never through a symlink planted
 * at its temp name. */
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
	statusfile_put(&o);

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
