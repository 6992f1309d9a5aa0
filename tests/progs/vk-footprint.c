// SPDX-License-Identifier: GPL-2.0-or-later
/* Benchmark helper: where a short command's time and memory go (issue 21).
 * Linked with libc only: its own pages must not count in the child's peak (a
 * forked child starts with its parent's resident pages, and ru_maxrss keeps
 * the larger of the two images).
 *
 *   vk-footprint time [--phases] [-o LOG] -- CMD [ARGS...]
 *     Runs CMD once and prints one line "wall_ms maxrss_kib exit": wall time
 *     from just before fork to the end of wait4, peak RSS (ru_maxrss). With
 *     --phases, CMD runs with vk-footprint-preload.so (next to this program)
 *     and LD_DEBUG=statistics, and the line goes on with four phase times in
 *     ms: start (fork, exec, ld.so loading and relocating, every library
 *     constructor: until main), args (main until the first crypt_init*:
 *     arguments, configuration), work (from there until main returns or exit
 *     is called), exit (exit handlers, destructors, unmapping, the parent
 *     waking up), "-" for one the preload did not see; then ld.so's own
 *     figures: start-up cycles, relocation cycles, symbol relocations,
 *     relative relocations (-1 when missing).
 *     CMD's output goes to LOG (appended) when -o is given.
 *   vk-footprint smaps [-o LOG] [-s SMAPS] -- CMD [ARGS...]
 *     Runs CMD under ptrace, stopping it at every system call; whenever its RSS
 *     is higher than ever before, takes a copy of /proc/PID/smaps (memory is
 *     only given back through a system call, so the highest RSS seen at one is
 *     the peak; the kernel's VmHWM at exit is printed beside it). Prints that
 *     copy broken down: each library's file-backed RSS (with its .bss), the brk
 *     heap, the main stack, thread stacks (the mappings holding a thread's stack
 *     pointer), glibc's per-thread malloc arenas (anonymous mappings on a 64 MiB
 *     boundary), fully mlocked anonymous memory (the secret allocator's pages and
 *     libcryptsetup's crypt_safe_alloc), the rest of the anonymous memory.
 *     -s keeps that copy of smaps in the file SMAPS.
 *   vk-footprint tsc
 *     TSC cycles per millisecond (to read LD_DEBUG=statistics).
 * Exit: CMD's exit code (time, smaps), 125 when this program fails. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/user.h>
#include <sys/wait.h>

#define MAX_THREADS 256
#define MAX_MAPS 4096
#define ARENA_ALIGN (64UL << 20) /* glibc's HEAP_MAX_SIZE on 64-bit */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "vk-footprint: %s: %s\n", what, strerror(errno));
	exit(125);
}

static int exit_status(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char *slurp(const char *path, size_t *ret_len);

/* The preload: vk-footprint-preload.so in this program's directory. */
static void preload_path(char *buf, size_t n)
{
	char self[PATH_MAX];
	ssize_t l = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (l < 0)
		die("readlink /proc/self/exe");
	self[l] = '\0';
	slash = strrchr(self, '/');
	*slash = '\0';
	snprintf(buf, n, "%s/vk-footprint-preload.so", self);
	if (access(buf, R_OK) != 0)
		die(buf);
}

/* "name: N" of ld.so's LD_DEBUG=statistics output (the first block: start-up). */
static long long ldstat(const char *text, const char *name)
{
	const char *p = strstr(text, name);

	return p ? strtoll(p + strlen(name), NULL, 10) : -1;
}

static void child_output(const char *log)
{
	int fd;

	if (!log)
		return;
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
		_exit(126);
}

static int cmd_time(bool phases, const char *log, char **argv)
{
	char out[] = "/tmp/vk-footprint.XXXXXX", pre[PATH_MAX], dbg[PATH_MAX];
	struct rusage ru;
	uint64_t t0, t1, p[3] = { 0 };
	int st, fd = -1;
	pid_t pid;

	if (phases) {
		fd = mkstemp(out);
		if (fd < 0)
			die("mkstemp");
		preload_path(pre, sizeof(pre));
		snprintf(dbg, sizeof(dbg), "%s.ld", out);
	}
	t0 = now_ns();
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		child_output(log);
		if (phases) {
			setenv("LD_PRELOAD", pre, 1);
			setenv("VK_FOOTPRINT_OUT", out, 1);
			setenv("LD_DEBUG", "statistics", 1);
			setenv("LD_DEBUG_OUTPUT", dbg, 1);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	if (wait4(pid, &st, 0, &ru) < 0)
		die("wait4");
	t1 = now_ns();
	printf("%.2f %ld %d", (double)(t1 - t0) / 1e6, ru.ru_maxrss, exit_status(st));
	if (phases) {
		char line[256] = "", ldfile[PATH_MAX + 32], *ld;
		ssize_t l = pread(fd, line, sizeof(line) - 1, 0);
		size_t len;

		line[l > 0 ? l : 0] = '\0';
		if (sscanf(line, "%" SCNu64 " %" SCNu64 " %" SCNu64, &p[0], &p[1], &p[2]) != 3)
			memset(p, 0, sizeof(p));
		/* start (to main), args (to the first crypt_init), work (to exit), exit */
		uint64_t marks[5] = { t0, p[0], p[1], p[2], t1 };
		for (int i = 0; i < 4; i++)
			if (marks[i] && marks[i + 1])
				printf(" %.2f", (double)(marks[i + 1] - marks[i]) / 1e6);
			else
				printf(" -");
		snprintf(ldfile, sizeof(ldfile), "%s.%d", dbg, pid);
		ld = slurp(ldfile, &len);
		printf(" %lld %lld %lld %lld", ld ? ldstat(ld, "total startup time in dynamic loader: ") : -1,
		       ld ? ldstat(ld, "time needed for relocation: ") : -1,
		       ld ? ldstat(ld, " number of relocations: ") : -1,
		       ld ? ldstat(ld, "number of relative relocations: ") : -1);
		free(ld);
		unlink(ldfile);
		close(fd);
		unlink(out);
	}
	printf("\n");
	return exit_status(st);
}

/* ---- smaps ---- */

struct map {
	unsigned long start, end;
	char name[160];
	long rss, pdirty, locked; /* kB */
};

struct snapshot {
	long rss_kb;
	char *text;
	int nsps;                        /* stack pointers of the threads alive then */
	unsigned long sps[MAX_THREADS];
};

static char *slurp(const char *path, size_t *ret_len)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t l;

	if (!buf || fd < 0) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((l = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)l;
		if (cap - len < 4096) {
			char *n = realloc(buf, cap * 2);
			if (!n)
				die("realloc");
			buf = n;
			cap *= 2;
		}
	}
	close(fd);
	buf[len] = '\0';
	*ret_len = len;
	return buf;
}

static long statm_rss_kb(pid_t pid)
{
	char path[64], buf[128];
	long size, res;
	int fd;
	ssize_t l;

	snprintf(path, sizeof(path), "/proc/%d/statm", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	l = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (l <= 0)
		return -1;
	buf[l] = '\0';
	if (sscanf(buf, "%ld %ld", &size, &res) != 2)
		return -1;
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static long status_kb(pid_t pid, const char *field)
{
	char path[64], *s, *p;
	size_t len;
	long v = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	s = slurp(path, &len);
	if (!s)
		return -1;
	p = strstr(s, field);
	if (p)
		v = strtol(p + strlen(field), NULL, 10);
	free(s);
	return v;
}

static int parse_maps(const char *text, struct map *maps, int max)
{
	const char *p = text;
	int n = -1;

	while (*p) {
		const char *eol = strchr(p, '\n');
		unsigned long a, b;
		int off = 0;

		if (!eol)
			eol = p + strlen(p);
		if (sscanf(p, "%lx-%lx %*s %*s %*s %*s %n", &a, &b, &off) == 2 && off > 0 && n + 1 < max) {
			struct map *m = &maps[++n];
			size_t l = (size_t)(eol - (p + off));

			memset(m, 0, sizeof(*m));
			m->start = a;
			m->end = b;
			if (l >= sizeof(m->name))
				l = sizeof(m->name) - 1;
			memcpy(m->name, p + off, l);
			m->name[l] = '\0';
		} else if (n >= 0) {
			long v;
			if (sscanf(p, "Rss: %ld kB", &v) == 1)
				maps[n].rss = v;
			else if (sscanf(p, "Private_Dirty: %ld kB", &v) == 1)
				maps[n].pdirty = v;
			else if (sscanf(p, "Locked: %ld kB", &v) == 1)
				maps[n].locked = v;
		}
		p = *eol ? eol + 1 : eol;
	}
	return n + 1;
}

struct row {
	char name[160];
	long rss, pdirty, locked;
	int count;
};

static void add_row(struct row *rows, int *nrows, int max, const char *name, const struct map *m)
{
	int i;

	for (i = 0; i < *nrows; i++)
		if (!strcmp(rows[i].name, name))
			break;
	if (i == *nrows) {
		if (*nrows >= max)
			return;
		memset(&rows[i], 0, sizeof(rows[i]));
		snprintf(rows[i].name, sizeof(rows[i].name), "%s", name);
		(*nrows)++;
	}
	rows[i].rss += m->rss;
	rows[i].pdirty += m->pdirty;
	rows[i].locked += m->locked;
	rows[i].count++;
}

static int by_rss(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	return (y->rss > x->rss) - (y->rss < x->rss);
}

static void print_breakdown(const struct snapshot *s, long hwm, int nthreads, const char *exe)
{
	const unsigned long *sps = s->sps;
	int nsps = s->nsps;
	static struct map maps[MAX_MAPS];
	static struct row libs[512], cats[16];
	int n = parse_maps(s->text, maps, MAX_MAPS), nlibs = 0, ncats = 0;
	long lib_rss = 0, lib_pd = 0, total = 0, locked = 0;
	const char *owner = NULL; /* the file a following anonymous mapping (its .bss) belongs to */

	for (int i = 0; i < n; i++) {
		struct map *m = &maps[i];
		const char *cat = NULL;
		bool stack = false;

		total += m->rss;
		locked += m->locked;
		for (int t = 0; t < nsps; t++)
			stack |= sps[t] >= m->start && sps[t] < m->end;
		if (m->name[0] == '/') {
			const char *base = strrchr(m->name, '/') + 1;
			owner = !strcmp(m->name, exe) ? "(the program itself)" : base;
			add_row(libs, &nlibs, 512, owner, m);
			continue;
		}
		if (m->name[0] == '\0' && owner && i > 0 && maps[i - 1].end == m->start && !stack && m->locked == 0) {
			add_row(libs, &nlibs, 512, owner, m); /* .bss */
			owner = NULL;
			continue;
		}
		owner = NULL;
		if (!strcmp(m->name, "[heap]"))
			cat = "heap (brk: malloc's main arena)";
		else if (!strcmp(m->name, "[stack]"))
			cat = "main thread's stack";
		else if (m->name[0] == '[')
			cat = "kernel ([vdso], [vvar])";
		else if (stack)
			cat = "thread stacks";
		else if (m->rss > 0 && m->locked == m->rss)
			cat = "mlocked anonymous (secret memory)";
		else if (m->start % ARENA_ALIGN == 0)
			cat = "malloc arenas of other threads";
		else
			cat = "other anonymous (large mallocs, library buffers)";
		add_row(cats, &ncats, 16, cat, m);
	}
	for (int i = 0; i < nlibs; i++) {
		lib_rss += libs[i].rss;
		lib_pd += libs[i].pdirty;
	}
	qsort(libs, (size_t)nlibs, sizeof(libs[0]), by_rss);
	qsort(cats, (size_t)ncats, sizeof(cats[0]), by_rss);
	printf("peak RSS (VmHWM at exit): %ld KiB; breakdown at the highest RSS seen at a system call: %ld KiB\n", hwm,
	       total);
	printf("  %-52s %8s %8s %8s\n", "where", "RSS KiB", "priv.dirty", "locked");
	printf("  %-52s %8ld %8ld\n", "mapped files (program and libraries, with .bss)", lib_rss, lib_pd);
	printf("    %d files mapped; the 12 largest:\n", nlibs);
	for (int i = 0; i < nlibs && i < 12; i++)
		printf("    %-50s %8ld %8ld\n", libs[i].name, libs[i].rss, libs[i].pdirty);
	if (nlibs > 12) {
		long r = 0, d = 0;
		for (int i = 12; i < nlibs; i++) {
			r += libs[i].rss;
			d += libs[i].pdirty;
		}
		printf("    %-50s %8ld %8ld\n", "the other files", r, d);
	}
	for (int i = 0; i < ncats; i++) {
		char label[96];
		if (!strcmp(cats[i].name, "thread stacks"))
			snprintf(label, sizeof(label), "thread stacks (%d mapping(s))", cats[i].count);
		else
			snprintf(label, sizeof(label), "%s", cats[i].name);
		printf("  %-52s %8ld %8ld %8ld\n", label, cats[i].rss, cats[i].pdirty, cats[i].locked);
	}
	printf("  threads seen: %d; mlocked in all: %ld KiB\n", nthreads, locked);
}

struct thread {
	pid_t tid;
	unsigned long sp;
};

static int cmd_smaps(const char *log, const char *raw, char **argv)
{
	static struct thread th[MAX_THREADS];
	static struct snapshot best;
	char exe[PATH_MAX] = "", path[64];
	int nth = 0, seen = 0, st, rc = 125;
	long hwm = -1;
	pid_t pid, w;

	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		child_output(log);
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFSTOPPED(st))
		die("waiting for exec");
	if (ptrace(PTRACE_SETOPTIONS, pid, NULL,
		   (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL)) < 0)
		die("PTRACE_SETOPTIONS");
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	{
		ssize_t l = readlink(path, exe, sizeof(exe) - 1);
		exe[l > 0 ? l : 0] = '\0';
	}
	th[nth++] = (struct thread){ pid, 0 };
	seen = 1;
	ptrace(PTRACE_SYSCALL, pid, NULL, NULL);
	while ((w = waitpid(-1, &st, __WALL)) > 0) {
		int sig = 0;

		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			for (int i = 0; i < nth; i++)
				if (th[i].tid == w)
					th[i] = th[--nth];
			if (w == pid) {
				rc = exit_status(st);
				break;
			}
			continue;
		}
		if (!WIFSTOPPED(st))
			continue;
		if (WSTOPSIG(st) == (SIGTRAP | 0x80) || (st >> 8) == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
			struct user_regs_struct regs;
			long rss;

			if (ptrace(PTRACE_GETREGS, w, NULL, &regs) == 0)
				for (int i = 0; i < nth; i++)
					if (th[i].tid == w)
						th[i].sp = regs.rsp;
			rss = statm_rss_kb(pid);
			if (rss > best.rss_kb) {
				snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
				size_t len;

				free(best.text);
				best.text = slurp(path, &len);
				best.rss_kb = rss;
				best.nsps = 0;
				for (int i = 0; i < nth; i++)
					if (th[i].sp)
						best.sps[best.nsps++] = th[i].sp;
			}
			if ((st >> 8) == (SIGTRAP | (PTRACE_EVENT_EXIT << 8)) && w == pid)
				hwm = status_kb(pid, "VmHWM:");
		} else if ((st >> 8) == (SIGTRAP | (PTRACE_EVENT_CLONE << 8))) {
			unsigned long tid;
			if (ptrace(PTRACE_GETEVENTMSG, w, NULL, &tid) == 0 && nth < MAX_THREADS) {
				th[nth++] = (struct thread){ (pid_t)tid, 0 };
				seen++;
			}
		} else if (WSTOPSIG(st) == SIGSTOP && (st >> 16) == 0) {
			/* a new thread's first stop */
		} else if ((st >> 16) == 0) {
			sig = WSTOPSIG(st);
		}
		ptrace(PTRACE_SYSCALL, w, NULL, (void *)(long)sig);
	}
	if (!best.text) {
		fprintf(stderr, "vk-footprint: no snapshot taken\n");
		return 125;
	}
	print_breakdown(&best, hwm, seen, exe);
	if (raw) {
		FILE *fp = fopen(raw, "we");
		if (!fp || fputs(best.text, fp) < 0 || fclose(fp) != 0)
			die(raw);
	}
	free(best.text);
	return rc;
}

static int cmd_tsc(void)
{
#if defined(__x86_64__)
	uint64_t c0, c1, t0, t1;
	struct timespec d = { 0, 200 * 1000 * 1000 };

	t0 = now_ns();
	c0 = __builtin_ia32_rdtsc();
	nanosleep(&d, NULL);
	c1 = __builtin_ia32_rdtsc();
	t1 = now_ns();
	printf("%.0f\n", (double)(c1 - c0) / ((double)(t1 - t0) / 1e6));
	return 0;
#else
	fprintf(stderr, "vk-footprint: tsc: x86-64 only\n");
	return 125;
#endif
}

int main(int argc, char **argv)
{
	const char *log = NULL, *raw = NULL;
	bool phases = false;
	int i = 2;

	if (argc >= 2 && !strcmp(argv[1], "tsc"))
		return cmd_tsc();
	if (argc < 4)
		goto usage;
	for (; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--phases"))
			phases = true;
		else if (!strcmp(argv[i], "-o") && i + 1 < argc)
			log = argv[++i];
		else if (!strcmp(argv[i], "-s") && i + 1 < argc)
			raw = argv[++i];
		else
			goto usage;
	}
	if (i + 1 >= argc)
		goto usage;
	if (!strcmp(argv[1], "time") && !raw)
		return cmd_time(phases, log, argv + i + 1);
	if (!strcmp(argv[1], "smaps") && !phases)
		return cmd_smaps(log, raw, argv + i + 1);
usage:
	fprintf(stderr, "usage: vk-footprint time [--phases] [-o LOG] -- CMD [ARGS...] | smaps [-o LOG] [-s SMAPS] -- CMD [ARGS...] | tsc\n");
	return 125;
}
