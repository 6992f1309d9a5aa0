/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dm-crypt performance flags stored in a volume's LUKS2 header (volkey bench --apply). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <libcryptsetup.h>

#include "base/errbuf.h"
#include "conf/config.h"

/* The flags volkey bench measures and may store. */
#define VOLUME_PERF_FLAGS (CRYPT_ACTIVATE_NO_READ_WORKQUEUE | CRYPT_ACTIVATE_NO_WRITE_WORKQUEUE)
/* Live flags a reload carries over unchanged. */
#define VOLUME_KEPT_FLAGS (CRYPT_ACTIVATE_READONLY | CRYPT_ACTIVATE_ALLOW_DISCARDS | \
			   CRYPT_ACTIVATE_SAME_CPU_CRYPT | CRYPT_ACTIVATE_SUBMIT_FROM_CRYPT_CPUS)

struct perf_flags_result {
	unsigned sector_size;  /* the volume's encryption sector size */
	uint32_t old_flags, new_flags; /* persistent activation flags before and after */
	bool changed;          /* the header was written */
	char mapping[128];     /* its open mapping, "" when not open */
	uint32_t live_flags;   /* the mapping's flags (after the reload when refreshed) */
	bool refreshed;        /* the mapping now runs with the flags */
	char refresh_error[512]; /* why it could not be reloaded (it keeps its flags until reopened) */
};

/* Sets the workqueue flags of device's persistent activation flags to exactly
 * `flags` (others kept) and reloads its open mapping with them. */
int volume_set_perf_flags(const char *device, uint32_t flags, const struct volkey_config *cfg,
			  struct perf_flags_result *ret, struct errbuf *e);
