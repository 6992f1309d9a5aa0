/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Key rotation (docs/cli.md#rotate): what there is to rotate, from cheapest to
 * dearest, and decommissioning.
 *   rewrap      the wrapped secret under the key's newest version or another key
 *   secret      a new random secret in a new keyslot and token, then the old ones go
 *   volume-key  the data re-encrypted under a new volume key (libcryptsetup reencrypt)
 *   crypto-erase every keyslot and the header destroyed, then the NVMe media key
 * Every step is one atomic header write or is announced first, so a crash at any
 * point leaves a volume that opens with the old or the new secret, and running the
 * same rotation again completes it. Functions print nothing: they report through
 * the callbacks and explain a failure in *e. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "base/errbuf.h"
#include "conf/config.h"

enum rotate_kind {
	ROTATE_REWRAP,
	ROTATE_SECRET,
	ROTATE_VOLUME_KEY,
	ROTATE_CRYPTO_ERASE,
};
const char *rotate_kind_name(enum rotate_kind k);

#define ROTATE_REQUEST_IDS_MAX 256

/* One rotated token (rewrap, secret) or volume (volume-key, crypto-erase). */
struct rotate_event {
	enum rotate_kind kind;
	const char *device;
	const char *uuid;
	int token;                 /* -1: the volume as a whole */
	const char *old_key;       /* key ref (ARN, fingerprint, label) before; NULL if none */
	const char *new_key;       /* after */
	unsigned long generation;  /* the token's generation after (0: not a token) */
	const char *request_ids;   /* KMS request ids of the calls made, space-separated ("" if none) */
	int r;                     /* 0, or -errno */
	const char *message;       /* what was done, or why not */
};

struct rotate_progress {
	uint64_t size, offset;     /* bytes */
	double rate;               /* bytes per second since this run started */
	double eta_s;              /* seconds left at that rate, < 0 unknown */
	bool done;
	bool report;               /* a report is due (every progress_interval_ms, and at the end) */
};

struct rotate_opts {
	enum rotate_kind kind;
	int token;                 /* rewrap/secret: -1 every volkey token, else that token */
	const char *to_key;        /* rewrap: another key URI */
	const char *resilience;    /* volume-key: checksum (default), journal, none */
	const char *hash;          /* volume-key, checksum resilience: its hash (default sha256) */
	uint64_t hotzone_bytes;    /* volume-key: largest piece re-encrypted between checkpoints (0: libcryptsetup's) */
	/* volume-key: the recovery passphrase (secret memory, not NUL-terminated), to
	 * carry the recovery keyslot over to the new key; NULL refuses a volume that has one. */
	const void *recovery_phrase;
	size_t recovery_len;
	/* volume-key: without recovery_phrase, let the re-encryption drop the recovery
	 * keyslots (with the old key) instead of refusing: volkey rekey of an image,
	 * whose recovery passphrase every instance shares. */
	bool drop_recovery;
	long progress_interval_ms; /* volume-key: how often progress() is called */
	int nvme_erase;            /* crypto-erase: NVME_ERASE_AUTO (what is advertised), or a forced method */
	/* Called once per token or volume with the outcome (the journal, --json). */
	void (*report)(const struct rotate_event *ev, void *userdata);
	/* volume-key: called after every piece; prints when p->report, and returns
	 * non-zero to stop cleanly at this checkpoint (resumable). */
	int (*progress)(const struct rotate_progress *p, void *userdata);
	void *userdata;
};

/* Rotates device as o->kind says. -errno with the reason in e; nothing changed
 * on a refusal. */
int volume_rotate(const char *device, const struct rotate_opts *o, const struct volkey_config *cfg,
		  struct errbuf *e);

/* Whether a volume-key re-encryption of device was interrupted: 0 no, 1 yes, -ENODEV. */
int volume_reencrypt_pending(const char *device);

/* The age in days of what o->kind rotates (the oldest token's wrap for rewrap,
 * the oldest secret for secret, the volume key for volume-key). -errno. */
int volume_rotation_age(const char *device, enum rotate_kind kind, double *ret_days, struct errbuf *e);
