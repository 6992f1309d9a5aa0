/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What this machine offers volkey: device-mapper and dm-crypt, the kernel's
 * xts(aes) driver, CPU AES features, loop devices, library versions.
 * Probes read files under a root prefix (NULL for the real machine) so unit
 * tests feed fixture trees; they never print. */
#pragma once

#include <stdbool.h>

enum feature_state {
	FEATURE_MISSING,  /* not in this kernel at all */
	FEATURE_LOADABLE, /* a module exists but is not loaded */
	FEATURE_AVAILABLE,
};
const char *feature_state_to_string(enum feature_state s);

struct dm_support {
	enum feature_state dm;    /* the device-mapper core */
	enum feature_state crypt; /* the crypt target */
	char driver_version[32];  /* e.g. "4.47.0" when the core is live */
	char crypt_version[32];   /* crypt target version when loaded */
	char reason[256];         /* why, when not available */
};
int sysinfo_dm_probe(const char *root, const char *kernel_release, struct dm_support *ret);

struct xts_driver {
	bool found;
	char driver[64];  /* e.g. xts-aes-aesni */
	char module[64];
	int priority;
	bool async;       /* "async : yes" in /proc/crypto */
	int refcnt;       /* 1 + the tfms in use (a dm-crypt mapping holds one per CPU or more) */
	bool selftest_passed;
};
/* Parses /proc/crypto (root-relative) and picks the highest-priority skcipher named xts(aes). */
int sysinfo_xts_probe(const char *root, struct xts_driver *ret);

struct cpu_aes {
	bool aes;    /* AES-NI */
	bool vaes;   /* vector AES (256/512-bit) */
	bool avx2, avx512f, pclmulqdq;
	char model[96];
};
int sysinfo_cpu_probe(const char *root, struct cpu_aes *ret);

struct loop_support {
	enum feature_state state;
	int count;   /* /dev/loopN nodes present */
};
int sysinfo_loop_probe(const char *root, const char *kernel_release, struct loop_support *ret);

/* Is a module for this kernel on disk (name with '-' or '_')? Looks in
 * modules.dep and modules.builtin of root/lib/modules/<release>. */
enum feature_state sysinfo_module_state(const char *root, const char *kernel_release, const char *name);

struct lib_versions {
	char cryptsetup[32]; /* build time: libcryptsetup has no runtime version call */
	char devmapper[64];
	char nvme[32];
	char openssl[64];
	char curl[32];
	char json_c[32];
};
void sysinfo_lib_versions(struct lib_versions *ret);
