// SPDX-License-Identifier: LGPL-2.1-or-later
/* libnvme, loaded on first use (base/dlib.h): the libnvme functions volkey
 * calls (the nvme_identify_*() and nvme_get_log_*() helpers of its headers are
 * inline wrappers of nvme_identify and nvme_get_log_page), under their own
 * names, forwarded to libnvme.so.1. Used to tell EBS from instance store, for
 * crypto-erase and by `volkey nvme-id` and `doctor`: never by open with a key.
 * When the library cannot be loaded they fail as libnvme's ioctls do: -1 with
 * errno set (ELIBACC, by dlib_load). */
#include <errno.h>
#include <libnvme.h>

#include "base/dlib.h"

static struct {
	int (*identify)(struct nvme_identify_args *);
	int (*get_log_page)(int, __u32, struct nvme_get_log_args *);
	int (*format_nvm)(struct nvme_format_nvm_args *);
	int (*sanitize_nvm)(struct nvme_sanitize_nvm_args *);
	int (*get_nsid)(int, __u32 *);
	const char *(*get_version)(enum nvme_version);
} f;

static const struct dlib_sym syms[] = {
	DLIB_SYM("nvme_identify", f.identify),
	DLIB_SYM("nvme_get_log_page", f.get_log_page),
	DLIB_SYM("nvme_format_nvm", f.format_nvm),
	DLIB_SYM("nvme_sanitize_nvm", f.sanitize_nvm),
	DLIB_SYM("nvme_get_nsid", f.get_nsid),
	DLIB_SYM("nvme_get_version", f.get_version),
};

static struct dlib nvme = {
	.soname = "libnvme.so.1",
	.what = "NVMe Identify, crypto-erase and telling EBS from instance store",
	.syms = syms,
	.nsyms = sizeof(syms) / sizeof(syms[0]),
	.mu = PTHREAD_MUTEX_INITIALIZER,
};

static bool load(void)
{
	return dlib_load(&nvme); /* errno is ELIBACC when it fails */
}

int nvme_identify(struct nvme_identify_args *args)
{
	return load() ? f.identify(args) : -1;
}

int nvme_get_log_page(int fd, __u32 xfer_len, struct nvme_get_log_args *args)
{
	return load() ? f.get_log_page(fd, xfer_len, args) : -1;
}

int nvme_format_nvm(struct nvme_format_nvm_args *args)
{
	return load() ? f.format_nvm(args) : -1;
}

int nvme_sanitize_nvm(struct nvme_sanitize_nvm_args *args)
{
	return load() ? f.sanitize_nvm(args) : -1;
}

int nvme_get_nsid(int fd, __u32 *nsid)
{
	return load() ? f.get_nsid(fd, nsid) : -1;
}

const char *nvme_get_version(enum nvme_version type)
{
	return load() ? f.get_version(type) : "unknown (libnvme.so.1 could not be loaded)";
}
