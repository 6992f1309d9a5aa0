// SPDX-License-Identifier: LGPL-2.1-or-later
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <libnvme.h>

#include "base/log.h"
#include "base/macro.h"
#include "host/nvme_erase.h"

/* Format and sanitize can take minutes on real media. */
#define NVME_ERASE_TIMEOUT_MS (10 * 60 * 1000)

const char *nvme_erase_method_name(enum nvme_erase_method m)
{
	switch (m) {
	case NVME_ERASE_FORMAT:
		return "format-crypto-erase";
	case NVME_ERASE_SANITIZE:
		return "sanitize-crypto-erase";
	case NVME_ERASE_NONE:
		break;
	}
	return "none";
}

static int probe_fd(int fd, struct nvme_erase_result *ret)
{
	struct nvme_id_ctrl id;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = nvme_identify_ctrl(fd, &id);
	if (r < 0) {
		snprintf(ret->detail, sizeof(ret->detail), "not an NVMe device (Identify failed: %s)", strerror(errno));
		return 0;
	}
	if (r > 0) {
		snprintf(ret->detail, sizeof(ret->detail), "Identify Controller failed with NVMe status 0x%x", r);
		return -EIO;
	}
	ret->nvme = true;
	ret->fna = id.fna;
	ret->sanicap = le32toh(id.sanicap);
	ret->oacs = le16toh(id.oacs);
	ret->nn = le32toh(id.nn);
	if ((ret->oacs & NVME_CTRL_OACS_FORMAT) && (ret->fna & NVME_CTRL_FNA_CRYPTO_ERASE) &&
	    (!(ret->fna & (NVME_CTRL_FNA_FMT_ALL_NAMESPACES | NVME_CTRL_FNA_SEC_ALL_NAMESPACES)) || ret->nn <= 1)) {
		ret->method = NVME_ERASE_FORMAT;
		snprintf(ret->detail, sizeof(ret->detail), "Format NVM with cryptographic erase (FNA 0x%x)", ret->fna);
	} else if ((ret->sanicap & NVME_CTRL_SANICAP_CES) && ret->nn <= 1) {
		ret->method = NVME_ERASE_SANITIZE;
		snprintf(ret->detail, sizeof(ret->detail), "Sanitize with crypto erase (SANICAP 0x%x)", ret->sanicap);
	} else if ((ret->fna & NVME_CTRL_FNA_CRYPTO_ERASE) || (ret->sanicap & NVME_CTRL_SANICAP_CES)) {
		snprintf(ret->detail, sizeof(ret->detail),
			 "crypto erase is offered but would reach all %u namespaces of the controller", ret->nn);
	} else {
		snprintf(ret->detail, sizeof(ret->detail),
			 "the controller offers no crypto erase (FNA 0x%x, SANICAP 0x%x, format %s)", ret->fna,
			 ret->sanicap, ret->oacs & NVME_CTRL_OACS_FORMAT ? "supported" : "not supported");
	}
	return 0;
}

/* A partition node takes NVMe admin commands too, and they act on the whole namespace. */
static bool is_partition(int fd)
{
	struct stat st;
	char path[96];

	if (fstat(fd, &st) < 0 || !S_ISBLK(st.st_mode))
		return false;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/partition", major(st.st_rdev), minor(st.st_rdev));
	return access(path, F_OK) == 0;
}

/* Would the command reach other namespaces than this one? */
static bool reaches_others(const struct nvme_erase_result *r, enum nvme_erase_method m)
{
	if (r->nn <= 1)
		return false;
	if (m == NVME_ERASE_SANITIZE)
		return true; /* sanitize acts on the whole NVM subsystem */
	return r->fna & (NVME_CTRL_FNA_FMT_ALL_NAMESPACES | NVME_CTRL_FNA_SEC_ALL_NAMESPACES);
}

/* Sanitize only starts the operation: wait for the log to say how it ended. */
static int sanitize_wait(int fd, struct nvme_erase_result *ret)
{
	for (long waited = 0; waited < NVME_ERASE_TIMEOUT_MS; waited += 500) {
		struct nvme_sanitize_log_page log;
		unsigned st;

		if (nvme_get_log_sanitize(fd, false, &log) != 0) {
			snprintf(ret->detail, sizeof(ret->detail), "sanitize started; its status log cannot be read");
			return -EIO;
		}
		st = (le16toh(log.sstat) >> NVME_SANITIZE_SSTAT_STATUS_SHIFT) & NVME_SANITIZE_SSTAT_STATUS_MASK;
		if (st == NVME_SANITIZE_SSTAT_STATUS_COMPLETE_SUCCESS ||
		    st == NVME_SANITIZE_SSTAT_STATUS_ND_COMPLETE_SUCCESS)
			return 0;
		if (st == NVME_SANITIZE_SSTAT_STATUS_COMPLETED_FAILED) {
			snprintf(ret->detail, sizeof(ret->detail), "sanitize crypto erase failed (sanitize status log)");
			return -EIO;
		}
		usleep(500 * 1000);
	}
	snprintf(ret->detail, sizeof(ret->detail), "sanitize still running after %d s", NVME_ERASE_TIMEOUT_MS / 1000);
	return -ETIMEDOUT;
}

int nvme_crypto_erase(const char *device, int want, struct nvme_erase_result *ret)
{
	_cleanup_close_ int fd = open(device, O_RDONLY | O_CLOEXEC);
	__u32 nsid = 0, result = 0;
	struct nvme_id_ns ns;
	int r;

	if (fd < 0)
		return negative_errno();
	if (is_partition(fd)) {
		memset(ret, 0, sizeof(*ret));
		snprintf(ret->detail, sizeof(ret->detail),
			 "%s is a partition: an NVMe erase would reach the whole namespace", device);
		return -EOPNOTSUPP;
	}
	r = probe_fd(fd, ret);
	if (r < 0)
		return r;
	if (want == NVME_ERASE_NONE) {
		snprintf(ret->detail, sizeof(ret->detail), "skipped (--nvme-erase none)");
		ret->method = NVME_ERASE_NONE;
		return -EOPNOTSUPP;
	}
	if (want != NVME_ERASE_AUTO && ret->nvme && want != (int)ret->method) {
		log_info("%s: %s was asked for; the controller %s (FNA 0x%x, SANICAP 0x%x)", device,
			 nvme_erase_method_name(want), ret->method == NVME_ERASE_NONE ? "advertises no crypto erase" :
			 "advertises another method", ret->fna, ret->sanicap);
		ret->method = want;
	}
	if (ret->method != NVME_ERASE_NONE && reaches_others(ret, ret->method)) {
		snprintf(ret->detail, sizeof(ret->detail), "%s would reach all %u namespaces of the controller; not done",
			 nvme_erase_method_name(ret->method), ret->nn);
		ret->method = NVME_ERASE_NONE;
		return -EOPNOTSUPP;
	}
	if (ret->method == NVME_ERASE_NONE)
		return -EOPNOTSUPP;
	if (nvme_get_nsid(fd, &nsid) < 0) {
		snprintf(ret->detail, sizeof(ret->detail), "not an NVMe namespace (no namespace id)");
		ret->method = NVME_ERASE_NONE;
		return -EOPNOTSUPP;
	}
	if (ret->method == NVME_ERASE_FORMAT) {
		struct nvme_format_nvm_args a = {
			.result = &result,
			.args_size = sizeof(a),
			.fd = fd,
			.timeout = NVME_ERASE_TIMEOUT_MS,
			.nsid = nsid,
			.ses = NVME_FORMAT_SES_CRYPTO_ERASE,
		};
		/* Keep the namespace's current LBA format: only the key changes. */
		if (nvme_identify_ns(fd, nsid, &ns) != 0) {
			snprintf(ret->detail, sizeof(ret->detail), "Identify Namespace %u failed", nsid);
			return -EIO;
		}
		/* The same format, metadata and protection settings: only the key goes. */
		a.lbaf = ns.flbas & 0xf;
		a.lbafu = (ns.flbas >> 5) & 0x3;
		a.mset = (ns.flbas >> 4) & 0x1;
		a.pi = ns.dps & 0x7;
		a.pil = (ns.dps >> 3) & 0x1;
		log_debug("%s: Format NVM nsid %u lbaf %u ses 2", device, nsid, a.lbaf);
		r = nvme_format_nvm(&a);
	} else {
		struct nvme_sanitize_nvm_args a = {
			.result = &result,
			.args_size = sizeof(a),
			.fd = fd,
			.timeout = NVME_ERASE_TIMEOUT_MS,
			.sanact = NVME_SANITIZE_SANACT_START_CRYPTO_ERASE,
		};
		log_debug("%s: Sanitize crypto erase", device);
		r = nvme_sanitize_nvm(&a);
		if (r == 0) {
			int w = sanitize_wait(fd, ret);
			if (w < 0)
				return w;
		}
	}
	if (r < 0) {
		r = negative_errno();
		snprintf(ret->detail, sizeof(ret->detail), "%s failed: %s", nvme_erase_method_name(ret->method),
			 strerror(-r));
		return r;
	}
	if (r > 0) {
		snprintf(ret->detail, sizeof(ret->detail), "%s refused by the controller: NVMe status 0x%x",
			 nvme_erase_method_name(ret->method), r);
		return -EIO;
	}
	/* The kernel re-reads the namespace after a format; wait for the node. */
	snprintf(ret->detail, sizeof(ret->detail), "%s issued on namespace %u and completed",
		 nvme_erase_method_name(ret->method), nsid);
	return 0;
}
