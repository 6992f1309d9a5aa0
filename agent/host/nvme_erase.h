/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Asking an NVMe device to destroy its own media encryption key, through
 * libnvme: Format NVM with Secure Erase Setting "cryptographic erase" when the
 * controller says it supports it (Identify Controller FNA bit 2), else Sanitize
 * with the Crypto Erase action (SANICAP bit 0). Either is refused when it would
 * reach namespaces other than this one. Nothing else is done in their stead:
 * an overwrite is not a crypto erase, and the caller says what was not done. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum nvme_erase_method {
	NVME_ERASE_NONE,     /* not an NVMe namespace, or no crypto erase offered */
	NVME_ERASE_FORMAT,   /* Format NVM, SES=2 */
	NVME_ERASE_SANITIZE, /* Sanitize, SANACT=4 (crypto erase) */
};

struct nvme_erase_result {
	enum nvme_erase_method method;
	bool nvme;           /* the device is an NVMe namespace */
	unsigned fna, sanicap, oacs;
	unsigned nn;         /* namespaces the controller can have */
	char detail[256];    /* what was offered, done, or why not */
};

const char *nvme_erase_method_name(enum nvme_erase_method m);
/* Probes, then issues the crypto erase: want NVME_ERASE_AUTO takes what the
 * controller advertises; FORMAT or SANITIZE issues that command even when not
 * advertised (the controller refuses it if it cannot: some, like QEMU's, accept
 * Format with SES=2 without advertising it); NONE skips. 0 done (method set);
 * -EOPNOTSUPP nothing offered or skipped (detail says why); other -errno: the
 * command failed. */
int nvme_crypto_erase(const char *device, int want, struct nvme_erase_result *ret);
#define NVME_ERASE_AUTO (-1)
