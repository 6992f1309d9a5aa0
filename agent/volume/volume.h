/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* volkey volumes: LUKS2 headers whose keyslots open with secrets wrapped in
 * `volkey` tokens (docs/format.md). Every function returns 0 (or a count) or
 * -errno, prints nothing, and explains a failure in one line in *e.
 * Multi-step changes are crash-safe: each header write is atomic in LUKS2, a
 * keyslot being added or removed is announced first by a `volkey-pending`
 * token, and volume_cleanup_pending() finishes the job after a crash. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <libcryptsetup.h>
#include "base/errbuf.h"
#include "conf/config.h"
#include "volume/luks_token.h"

#define VOLKEY_SUBSYSTEM "volkey"
#define VOLKEY_SUBSYSTEM_PROVISIONING "volkey-provisioning"
#define VOLKEY_PENDING_TOKEN_TYPE "volkey-pending"
#define VOLKEY_MAX_TOKENS 32
#define VOLKEY_MAX_KEYS 8
/* A random 256-bit secret needs no key stretching: PBKDF2 at libcryptsetup's minimum. */
#define VOLKEY_PBKDF_ITERATIONS 1000

enum token_role {
	TOKEN_VOLKEY,    /* parsed volkey token (t valid) */
	TOKEN_BAD,       /* volkey token that does not parse (rc, why) */
	TOKEN_RECOVERY,  /* volkey-recovery marker for a passphrase keyslot */
	TOKEN_PENDING,   /* volkey-pending: keyslot `keyslot` is being added or removed */
	TOKEN_OTHER,     /* another tool's token (systemd-*, clevis, ...) */
};

struct token_entry {
	int id;
	enum token_role role;
	char type[48];
	int keyslot;            /* volkey, recovery, pending: its keyslot; else -1 */
	struct volkey_token t;  /* TOKEN_VOLKEY */
	int rc;                 /* TOKEN_BAD: -EBADMSG / -EPROTONOSUPPORT */
	char why[200];
};

struct volume {
	struct crypt_device *cd;
	char path[256];
	char uuid[40];
	char subsystem[64];
	int ntokens;
	struct token_entry tokens[VOLKEY_MAX_TOKENS];
};

/* Routes libcryptsetup's messages into volkey's logger (debug level); once per process. */
void volume_log_setup(void);

/* ---- loading (volume_load.c) ---- */
/* Loads the LUKS2 header of path. -ENODEV with a message when it is not LUKS2. */
int volume_load(const char *path, struct volume *v, struct errbuf *e);
void volume_done(struct volume *v);
/* The active mapping of the LUKS2 volume with this uuid on device (found by its
 * dm uuid, also when stacked on re-encryption helpers, and checked to sit on
 * device: a copy of the header elsewhere has the same uuid): 1 with its name,
 * 0 when not mapped. */
int volume_active_mapping(const char *device, const char *uuid, char *name, size_t n);
/* A mapping of the same uuid that sits on another device than device (a
 * restored snapshot beside its original): 1 with its name and the device under
 * it (/dev/KNAME), 0 when none. */
int volume_mapped_elsewhere(const char *device, const char *uuid, char *name, size_t n, char *other, size_t on);
/* Re-reads the tokens after the header changed. */
int volume_reload_tokens(struct volume *v, struct errbuf *e);
/* Number of volkey tokens (parsed or not). */
int volume_count_volkey(const struct volume *v);
const struct token_entry *volume_token(const struct volume *v, int id);
/* Whether keyslot k is referenced by any token. */
bool volume_keyslot_referenced(const struct volume *v, int keyslot);

/* PBKDF2 at the minimum for keyslots opened by random secrets. */
int volume_set_fast_pbkdf(struct crypt_device *cd);

/* ---- pending keyslot changes (volume_pending.c; the proof: volume_proof.c) ---- */
/* Finishes interrupted keyslot changes (pending tokens). Returns how many it fixed. */
int volume_cleanup_pending(struct volume *v, const struct volkey_config *cfg, struct errbuf *e);
/* Does the secret a pending token names (its "proof_token" N and optional
 * "proof_wrapped" blob, bound like token N) open keyslot k? 1 yes (the keyslot
 * is provably volkey's, even before the token owned it), 0 no or no proof,
 * -errno when the proof's key cannot be reached now. */
int volume_pending_proven(struct volume *v, const struct volkey_config *cfg, int pending, int keyslot);
/* A pending token's JSON for keyslot k (assigned: the keyslot exists and the token owns it). */
int volume_pending_json(int keyslot, bool assigned, const char *op, char *buf, size_t n);
/* Writes a pending token for keyslot k (not yet existing); returns its token id.
 * proof: NULL, or JSON members naming the secret the keyslot will hold
 * ("\"proof_token\":N" and optionally ",\"proof_wrapped\":\"BASE64\"") so that
 * a crash before the token owns the keyslot can still be cleaned up. */
int volume_pending_begin(struct volume *v, int keyslot, const char *op, const char *proof, struct errbuf *e);

/* ---- keyslot changes (volume_change.c) ---- */
/* volume_load(), refusing a half-format and finishing interrupted changes first. */
int volume_load_for_change(const char *device, const struct volkey_config *cfg, struct volume *v, struct errbuf *e);
/* Adds a keyslot (fast PBKDF) for pass, announced by a pending token; crash points
 * "OP-pending", "OP-added" and "OP-keyslot"; flags as crypt_keyslot_add_by_key()
 * (CRYPT_VOLUME_KEY_NO_SEGMENT: a keyslot of a key no data uses yet). Returns the pending token's id, *ret_keyslot the slot. */
int volume_keyslot_add(struct volume *v, const char *op, const void *vk, size_t vklen, const void *pass,
		       size_t passlen, uint32_t flags, const char *proof, int *ret_keyslot, struct errbuf *e);
/* Writes json over the pending token (one header write) and re-reads the tokens;
 * on failure drops the keyslot. */
int volume_token_commit(struct volume *v, int pending, int keyslot, const char *json, struct errbuf *e);
/* Destroys keyslot, then its pending token (crash point "drop-keyslot" between). */
int volume_keyslot_drop(struct volume *v, int keyslot, int pending, struct errbuf *e);

/* Turns token id (which owns keyslot k) into a pending token, then removes both
 * (crash point "secret-retire" between). */
int volume_token_retire(struct volume *v, int id, int keyslot, struct errbuf *e);

/* Another token (of any type, pending excepted) than `except` that uses keyslot k, or NULL. */
const struct token_entry *volume_keyslot_sharer(const struct volume *v, int except, int k);

/* ---- rotation (rotate.c dispatches to volume_rotate.c, volume_reencrypt.c,
 * volume_erase.c; all report through rotate_report.c; API in rotate.h) ---- */
struct rotate_opts;
struct rotate_event;
struct kctx;
/* The marker of the last volume-key re-encryption: {"type":"volkey-volume-key","keyslots":[],"created":T}. */
#define VOLKEY_VK_TOKEN_TYPE "volkey-volume-key"
/* Its time into buf; -ENOENT if the volume has none. */
int volume_vk_rotated(struct volume *v, char *buf, size_t n);
/* rotate --rewrap and --secret of the selected tokens (volume_rotate.c). */
int volume_rotate_tokens(const char *device, const struct rotate_opts *o, const struct volkey_config *cfg,
			 struct errbuf *e);
int volume_reencrypt(const char *device, const struct rotate_opts *o, const struct volkey_config *cfg,
		     struct errbuf *e);
int volume_crypto_erase(const char *device, const struct rotate_opts *o, const struct volkey_config *cfg,
			struct errbuf *e);
/* What an interrupted rotation left (rotate_finish.c), finished before the next starts. */
/* Two tokens of one key URI are an interrupted --secret: keeps the newer (if it
 * unlocks) and removes the older with its keyslot. */
int volume_finish_secret_rotation(struct volume *v, const struct volkey_config *cfg, struct errbuf *e);
/* A crash after preparing a volume-key re-encryption but before libcryptsetup
 * recorded it leaves tokens with a second keyslot of a key no data uses: drops
 * those (keeping the bound one), so that the next preparation starts clean. */
int volume_drop_stale_prep(struct volume *v, struct errbuf *e);
/* Reporting (rotate_report.c). Appends the context's last KMS request id to a space-separated list. */
void rotate_ids_add(char *ids, size_t n, struct kctx *c);
/* Hands one event to o->report and counts it for this thread's current rotation. */
void rotate_report(const struct rotate_opts *o, const struct rotate_event *ev);
void rotate_reports_reset(void);
int rotate_reports_count(void);

/* ---- unlock (volume_unlock.c) ---- */
struct unlock_result {
	int token;
	int keyslot;
	void *secret; /* secret memory, VOLUME_SECRET_BYTES */
	size_t len;
};
void unlock_result_clear(struct unlock_result *u);
/* Unwraps through every usable volkey token at once (only_token >= 0: just that
 * one); the first secret that opens its keyslot wins, the others are abandoned.
 * A dead backend delays nothing but itself, up to its own deadline. */
int volume_unlock(struct volume *v, const struct volkey_config *cfg, int only_token, struct unlock_result *ret,
		  struct errbuf *e);
/* Waits up to timeout_ms for abandoned unlock threads to finish; false if some
 * still run (a process should then leave with _exit, not run atexit handlers
 * under them). */
bool volume_unlock_drain(long timeout_ms);
/* Does token id (alone) unlock now? 0, or its -errno with the reason in why. */
int volume_token_unlocks(struct volume *v, const struct volkey_config *cfg, int id, struct errbuf *why);
/* Unlock and activate the mapping `name` (NULL: check only). */
int volume_open(struct volume *v, const struct volkey_config *cfg, const char *name, uint32_t flags,
		struct unlock_result *ret, struct errbuf *e);

/* ---- format (volume_format.c) ---- */
struct format_opts {
	const char *device;
	const char *keys[VOLKEY_MAX_KEYS];
	int nkeys;
	const char *context[BINDING_MAX_PAIRS]; /* "K=V" */
	int ncontext;
	unsigned sector_size; /* 0: 4096 */
	bool force;
	bool image; /* a template for a machine image: the volkey-image marker is written before "ready" */
};
/* Refuses (-EBUSY/-EEXIST/-ENOTBLK with the reason) unless safe or forced;
 * redoes a format that crashed part-way without --force. */
int volume_format(const struct format_opts *o, const struct volkey_config *cfg, char *ret_uuid, size_t uuid_len,
		  struct errbuf *e);

/* A random version-4 UUID (getrandom). */
int volume_new_uuid(char *buf, size_t n);

/* ---- the image marker (volume_image.c) and first-boot re-key (volume_rekey.c) ---- */
/* The volume's volkey-image marker: 1 with it (and its token id), 0 none,
 * -EBADMSG malformed. */
int volume_image_marker(struct volume *v, struct image_marker *ret, int *ret_token);
/* Writes m over the marker (or as a new token), one header write; reloads the tokens. */
int volume_image_write(struct volume *v, const struct image_marker *m, struct errbuf *e);
/* Removes the marker. */
int volume_image_clear(struct volume *v, struct errbuf *e);
/* Marks a loaded volume as an image template: 0 marked, 1 it was already
 * (crash point "image-marked"). */
int volume_image_mark_loaded(struct volume *v, struct errbuf *e);
/* `rekey --mark-image`: the same on a ready volkey volume (finishing pending changes first). */
int volume_mark_image(const char *device, const struct volkey_config *cfg, struct errbuf *e);
/* The same on a header format is still writing (subsystem volkey-provisioning). */
int volume_image_mark_path(const char *device, struct errbuf *e);

/* 1 when a re-key started and has not finished (marker past "template"); rotations wait for it. */
int volume_rekey_in_progress(const char *device);

struct rekey_result {
	bool was_marked;        /* the volume carried the marker when rekey started */
	bool recovery_dropped;  /* the image's recovery keyslot went with the old volume key */
	char old_uuid[40], new_uuid[40];
};
/* Gives a volume made from an image its own identity: a new volume key
 * (volume_reencrypt: online when mapped, resumable), new secrets bound to a new
 * LUKS UUID, the UUID switched in one header write, the image's tokens retired,
 * the marker removed. An unmarked volume is marked first. Every step is
 * recorded in the marker or derivable from the header, so a run after a crash
 * (or a pause: -EINTR) continues where it stopped. o: the volume-key options
 * (resilience, progress, report, recovery phrase); without a recovery phrase
 * the image's recovery keyslot is dropped (ret->recovery_dropped). */
int volume_rekey(const char *device, const struct rotate_opts *o, const struct volkey_config *cfg,
		 struct rekey_result *ret, struct errbuf *e);

/* ---- bind, unbind, recovery (volume_bind.c, volume_recovery.c) ---- */
/* Adds a token for uri; returns its token id. */
int volume_bind(const char *device, const char *uri, const struct volkey_config *cfg, struct errbuf *e);
/* Removes token id and its keyslot, never the last way in. */
int volume_unbind(const char *device, int token, const struct volkey_config *cfg, struct errbuf *e);
/* Adds a recovery passphrase keyslot. deliver() shows the phrase (it must not keep
 * it); only after it returns 0 does the keyslot count as a recovery key: on failure
 * or a crash before that, the keyslot is removed. Returns the keyslot. */
int volume_add_recovery(const char *device, const struct volkey_config *cfg,
			int (*deliver)(const char *phrase, void *userdata), void *userdata, struct errbuf *e);

/* The volume key through any token (for bind and recovery). */
int volume_get_volume_key(struct volume *v, const struct volkey_config *cfg, void **ret_vk, size_t *ret_len,
			  struct unlock_result *ret_unlock, struct errbuf *e);
