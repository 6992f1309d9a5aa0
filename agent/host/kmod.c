// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/macro.h"
#include "base/spawn.h"
#include "host/kmod.h"

/* The gain that makes auto load it: below this the two are equal within noise. */
#define KMOD_MIN_GAIN 1.05

bool kmod_loaded(void)
{
	return access("/sys/module/volkey_xts", F_OK) == 0;
}

static int load(const struct policy *p)
{
	char *argv[] = { "modprobe", "volkey_xts", NULL };
	int fd, r;

	if (p->kernel_module_file[0]) {
		fd = open(p->kernel_module_file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return negative_errno();
		if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST) {
			r = negative_errno();
			close(fd);
			return r;
		}
		close(fd);
		return 0;
	}
	r = spawn_wait(argv, false);
	if (r < 0)
		return -ENOENT;
	return r == 0 ? 0 : -ENODEV;
}

double kmod_record_gain(const char *text, const char *kernel)
{
	struct json_object *j = json_tokener_parse(text), *k, *g;
	double gain = 0;

	/* kmod_record's shape only: "kernel" a string, "gain" a finite number (a null
	 * kernel or a NaN gain, which compares as no loss, count as no record) */
	if (json_object_is_type(j, json_type_object) && json_object_object_get_ex(j, "kernel", &k) &&
	    json_object_is_type(k, json_type_string) && json_object_object_get_ex(j, "gain", &g) &&
	    (json_object_is_type(g, json_type_double) || json_object_is_type(g, json_type_int)) &&
	    strcmp(json_object_get_string(k), kernel) == 0)
		gain = json_object_get_double(g);
	json_object_put(j);
	return isfinite(gain) && gain > 0 ? gain : 0;
}

/* The recorded gain for this kernel, or 0 when none. */
static double recorded_gain(const struct policy *p, const char *kernel)
{
	_cleanup_free_ char *s = NULL;

	if (read_small_file(NULL, p->module_record, 64 * 1024, &s) < 0)
		return 0;
	return kmod_record_gain(s, kernel);
}

int kmod_apply(const struct policy *p, char *why, size_t n)
{
	struct utsname u;
	double gain;
	int r;

	if (p->kernel_module == KMOD_OFF) {
		snprintf(why, n, "kernel_module = off");
		return 0;
	}
	if (kmod_loaded())
		return 1;
	if (p->kernel_module == KMOD_AUTO) {
		if (uname(&u) < 0)
			return negative_errno();
		gain = recorded_gain(p, u.release);
		if (gain < KMOD_MIN_GAIN) {
			if (gain > 0)
				snprintf(why, n, "auto: volkey bench measured %.2fx from it on kernel %s, below %.2fx", gain,
					 u.release, KMOD_MIN_GAIN);
			else
				snprintf(why, n, "auto: no volkey bench measurement of it on kernel %s (%s)", u.release,
					 p->module_record);
			return 0;
		}
	}
	r = load(p);
	if (r < 0) {
		snprintf(why, n, "%s: %s (the kernel log says why: it refuses CPUs without AES-NI and kernels whose "
			 "xts(aes) is synchronous)", p->kernel_module_file[0] ? p->kernel_module_file : "modprobe volkey_xts",
			 strerror(-r));
		return r;
	}
	return 1;
}

int kmod_record(const struct policy *p, const char *kernel, double aesni, double module)
{
	struct json_object *o = json_object_new_object();
	char dir[256], *slash;
	int r = 0;

	snprintf(dir, sizeof(dir), "%s", p->module_record);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			r = negative_errno();
	}
	json_object_object_add(o, "kernel", json_object_new_string(kernel));
	json_object_object_add(o, "aesni_geomean", json_object_new_double(aesni));
	json_object_object_add(o, "module_geomean", json_object_new_double(module));
	json_object_object_add(o, "gain", json_object_new_double(aesni > 0 ? module / aesni : 0));
	json_object_object_add(o, "measured", json_object_new_int64((int64_t)time(NULL)));
	if (r == 0 && json_object_to_file_ext(p->module_record, o, JSON_C_TO_STRING_PRETTY) < 0)
		r = -EIO;
	json_object_put(o);
	return r;
}
