// SPDX-License-Identifier: GPL-2.0-or-later
/* LD_PRELOAD'ed by `vk-footprint time --phases` (tests/progs/vk-footprint.c):
 * marks when main was entered (every library constructor has run: ld.so runs a
 * preloaded object's last, just before the program's, so a constructor here
 * would mark nothing useful), when the first crypt_init* was called (the work
 * begins: volkey and cryptsetup both open the device with one) and when main
 * returned or exit was called, and writes them (CLOCK_MONOTONIC ns) as one line
 * to the file $VK_FOOTPRINT_OUT. Links with libc only. */
#include <dlfcn.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct crypt_device;

static uint64_t t_main, t_work;
static int reported;
static int (*real_main)(int, char **, char **);

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void report(void)
{
	uint64_t t_exit = now_ns();
	const char *out = getenv("VK_FOOTPRINT_OUT");
	int fd;

	if (reported++ || !out)
		return;
	fd = open(out, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return;
	dprintf(fd, "%" PRIu64 " %" PRIu64 " %" PRIu64 "\n", t_main, t_work, t_exit);
	close(fd);
}

static void mark_work(void)
{
	if (!t_work)
		t_work = now_ns();
}

static int wrapped_main(int argc, char **argv, char **envp)
{
	int r;

	t_main = now_ns();
	r = real_main(argc, argv, envp);
	report();
	return r;
}

int __libc_start_main(int (*main)(int, char **, char **), int argc, char **argv, void (*init)(void),
		      void (*fini)(void), void (*rtld_fini)(void), void *stack_end);
int __libc_start_main(int (*main)(int, char **, char **), int argc, char **argv, void (*init)(void),
		      void (*fini)(void), void (*rtld_fini)(void), void *stack_end)
{
	int (*real)(int (*)(int, char **, char **), int, char **, void (*)(void), void (*)(void), void (*)(void),
		    void *) = dlsym(RTLD_NEXT, "__libc_start_main");

	real_main = main;
	return real(wrapped_main, argc, argv, init, fini, rtld_fini, stack_end);
}

void exit(int status)
{
	void (*real)(int) __attribute__((noreturn)) = dlsym(RTLD_NEXT, "exit");

	report();
	real(status);
}

#define NEXT(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

int crypt_init(struct crypt_device **cd, const char *device);
int crypt_init(struct crypt_device **cd, const char *device)
{
	mark_work();
	return NEXT(crypt_init)(cd, device);
}

int crypt_init_data_device(struct crypt_device **cd, const char *device, const char *data_device);
int crypt_init_data_device(struct crypt_device **cd, const char *device, const char *data_device)
{
	mark_work();
	return NEXT(crypt_init_data_device)(cd, device, data_device);
}

int crypt_init_by_name_and_header(struct crypt_device **cd, const char *name, const char *header_device);
int crypt_init_by_name_and_header(struct crypt_device **cd, const char *name, const char *header_device)
{
	mark_work();
	return NEXT(crypt_init_by_name_and_header)(cd, name, header_device);
}

int crypt_init_by_name(struct crypt_device **cd, const char *name);
int crypt_init_by_name(struct crypt_device **cd, const char *name)
{
	mark_work();
	return NEXT(crypt_init_by_name)(cd, name);
}
