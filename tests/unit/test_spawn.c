// SPDX-License-Identifier: GPL-2.0-or-later
/* spawn_wait(): a child started from a thread that blocks (and a process that
 * ignores) SIGTERM and SIGINT, as volkeyd's workers are, starts with no signal
 * blocked or ignored, so mkfs or mdadm can be stopped. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/spawn.h"
#include "unit.h"

/* The hex value of field ("SigBlk:") in a /proc/PID/status copy. */
static unsigned long long status_field(const char *file, const char *field)
{
	char line[256];
	unsigned long long v = ~0ULL;
	FILE *f = fopen(file, "re");

	if (!f)
		return v;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)))
			v = strtoull(line + strlen(field), NULL, 16);
	fclose(f);
	return v;
}

struct run {
	char *const *argv;
	int r;
};

/* Like volkeyd: SIGTERM and SIGINT blocked before the worker thread starts. */
static void *worker(void *p)
{
	struct run *run = p;

	run->r = spawn_wait(run->argv, false);
	return NULL;
}

static int spawn_blocked(char *const argv[])
{
	struct run run = { .argv = argv, .r = -1 };
	sigset_t mask, old;
	pthread_t th;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, &old);
	signal(SIGQUIT, SIG_IGN);
	if (pthread_create(&th, NULL, worker, &run) == 0)
		pthread_join(th, NULL);
	signal(SIGQUIT, SIG_DFL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return run.r;
}

TEST(child_has_no_blocked_or_ignored_signal)
{
	char file[] = "/tmp/volkey-spawn-XXXXXX";
	int fd = mkstemp(file);
	/* cp, not a shell: dash clears its signal mask at startup */
	char *argv[] = { "cp", "/proc/self/status", file, NULL };

	CHECK(fd >= 0);
	close(fd);
	CHECK_EQ_INT(spawn_blocked(argv), 0);
	CHECK_EQ_INT(status_field(file, "SigBlk:"), 0);
	/* standard signals only: glibc's posix_spawn leaves its two internal
	 * real-time signals (32, 33) ignored in every child */
	CHECK_EQ_INT(status_field(file, "SigIgn:") & 0x7fffffffULL, 0);
	unlink(file);
}

TEST(child_dies_of_sigterm)
{
	/* With SIGTERM blocked the child would sleep on and exit 0. */
	char *argv[] = { "/usr/bin/python3", "-c",
			 "import os, signal, time; os.kill(os.getpid(), signal.SIGTERM); time.sleep(3)", NULL };

	CHECK_EQ_INT(spawn_blocked(argv), 128 + SIGTERM);
}

TEST(exit_status_and_missing_program)
{
	char *fail[] = { "sh", "-c", "exit 3", NULL };
	char *missing[] = { "volkey-no-such-program", NULL };

	CHECK_EQ_INT(spawn_wait(fail, true), 3);
	CHECK_EQ_INT(spawn_wait(missing, true), -ENOENT);
}
