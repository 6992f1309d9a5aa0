// SPDX-License-Identifier: GPL-2.0-or-later
/* The two systemd protocols volkey speaks itself instead of linking libsystemd:
 * sd_notify's datagram to $NOTIFY_SOCKET (a path or an abstract "@name") and
 * the journal's native protocol (a value holding a newline goes as NAME\n,
 * 64-bit little-endian length, value, \n). */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "base/journal.h"
#include "base/sdnotify.h"
#include "unit.h"

/* A datagram socket bound at name ("@x" abstract); returns its fd. */
static int listener(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t l = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memcpy(sa.sun_path, name, l);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	else
		unlink(name);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + l)) < 0)
		return -1;
	return fd;
}

static ssize_t recv_one(int fd, char *buf, size_t n)
{
	return recv(fd, buf, n, MSG_DONTWAIT);
}

TEST(sdnotify_path_and_abstract)
{
	char path[64], abs[64], buf[256];
	int fd;
	ssize_t l;

	snprintf(path, sizeof(path), "/tmp/volkey-unit-notify.%d", getpid());
	fd = listener(path);
	CHECK(fd >= 0);
	setenv("NOTIFY_SOCKET", path, 1);
	CHECK_EQ_INT(sdnotifyf("READY=1\nSTATUS=%d device(s) failed", 2), 1);
	l = recv_one(fd, buf, sizeof(buf) - 1);
	CHECK(l > 0);
	buf[l > 0 ? l : 0] = '\0';
	CHECK_STREQ(buf, "READY=1\nSTATUS=2 device(s) failed");
	close(fd);
	unlink(path);

	snprintf(abs, sizeof(abs), "@volkey-unit-notify-%d", getpid());
	fd = listener(abs);
	CHECK(fd >= 0);
	setenv("NOTIFY_SOCKET", abs, 1);
	CHECK_EQ_INT(sdnotify("STOPPING=1"), 1);
	l = recv_one(fd, buf, sizeof(buf) - 1);
	buf[l > 0 ? l : 0] = '\0';
	CHECK_STREQ(buf, "STOPPING=1");
	close(fd);

	unsetenv("NOTIFY_SOCKET");
	CHECK_EQ_INT(sdnotify("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "vsock:2:1", 1);
	CHECK_EQ_INT(sdnotify("READY=1"), -EAFNOSUPPORT);
	unsetenv("NOTIFY_SOCKET");
}

TEST(journal_native_protocol)
{
	const char *fields[] = { "MESSAGE=two\nlines", "PRIORITY=5", "VOLKEY_DEVICE=/dev/loop0" };
	const char *bad[] = { "lower=case" }, *bad2[] = { "_TRUSTED=1" }, *bad3[] = { "NOVALUE" };
	char path[64], buf[512];
	const char *want1 = "MESSAGE\n";
	uint64_t len;
	ssize_t l;
	int fd;

	snprintf(path, sizeof(path), "/tmp/volkey-unit-journal.%d", getpid());
	fd = listener(path);
	CHECK(fd >= 0);
	CHECK_EQ_INT(journal_send_at(path, fields, 3), 0);
	l = recv_one(fd, buf, sizeof(buf));
	CHECK(l == (ssize_t)(8 + 8 + 9 + 1 + strlen("PRIORITY=5\n") + strlen("VOLKEY_DEVICE=/dev/loop0\n")));
	CHECK(memcmp(buf, want1, 8) == 0);
	memcpy(&len, buf + 8, 8);
	CHECK_EQ_INT(le64toh(len), 9);
	CHECK(memcmp(buf + 16, "two\nlines\nPRIORITY=5\nVOLKEY_DEVICE=/dev/loop0\n", 9 + 1 + 11 + 25) == 0);
	CHECK_EQ_INT(journal_send_at(path, bad, 1), -EINVAL);
	CHECK_EQ_INT(journal_send_at(path, bad2, 1), -EINVAL);
	CHECK_EQ_INT(journal_send_at(path, bad3, 1), -EINVAL);
	CHECK(recv_one(fd, buf, sizeof(buf)) < 0); /* nothing sent for the bad ones */
	close(fd);
	unlink(path);
	CHECK_EQ_INT(journal_send_at(path, fields, 3), -ENOENT);
}
