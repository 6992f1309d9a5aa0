// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#include "base/macro.h"
#include "base/spawn.h"

extern char **environ;

static int spawn_fds(char *const argv[], bool null_stdio, int out_fd, int close_fd, pid_t *ret_pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int r;

	sigemptyset(&none);
	sigfillset(&all);
	r = posix_spawnattr_init(&attr);
	if (r != 0)
		return -r;
	r = posix_spawn_file_actions_init(&fa);
	if (r != 0) {
		posix_spawnattr_destroy(&attr);
		return -r;
	}
	/* The mask and the ignored signals are inherited across exec: reset both. */
	r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	if (r == 0)
		r = posix_spawnattr_setsigmask(&attr, &none);
	if (r == 0)
		r = posix_spawnattr_setsigdefault(&attr, &all);
	if (r == 0 && null_stdio)
		r = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (r == 0 && null_stdio)
		r = posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	if (r == 0 && out_fd >= 0)
		r = posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
	if (r == 0 && close_fd >= 0)
		r = posix_spawn_file_actions_addclose(&fa, close_fd);
	if (r == 0)
		r = posix_spawnp(ret_pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return -r;
}

static int wait_status(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return negative_errno();
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

int spawn_wait(char *const argv[], bool null_stdio)
{
	pid_t pid;
	int r = spawn_fds(argv, null_stdio, -1, -1, &pid);

	return r < 0 ? r : wait_status(pid);
}

int spawn_read(char *const argv[], void *buf, size_t cap, size_t *ret_len)
{
	int p[2], r, st;
	size_t len = 0;
	bool over = false;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return negative_errno();
	r = spawn_fds(argv, false, p[1], p[0], &pid);
	close(p[1]);
	if (r < 0) {
		close(p[0]);
		return r;
	}
	char sink[256]; /* the overflow of a too-long answer (a secret too): wiped below */
	for (;;) {
		ssize_t k = over ? read(p[0], sink, sizeof(sink)) : read(p[0], (char *)buf + len, cap - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		if (!over) {
			len += (size_t)k;
			if (len == cap)
				over = true; /* a full buffer: anything more makes it too long */
		} else
			len = cap + 1;
	}
	explicit_bzero(sink, sizeof(sink));
	close(p[0]);
	st = wait_status(pid);
	if (len > cap)
		return -E2BIG;
	*ret_len = len;
	return st;
}
