// SPDX-License-Identifier: LGPL-2.1-or-later
/* Unlocking a volume through its volkey tokens, all at once: each token's
 * backend runs in its own thread with its own connections, and the first
 * secret that opens its keyslot wins. A backend that hangs delays only itself;
 * its thread finishes on its own deadline and cleans up after itself. A lone
 * token (the common case) races nobody and runs in the caller's thread. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/cslock.h"
#include "base/exitcode.h"
#include "base/log.h"
#include "base/secret.h"
#include "base/thread.h"
#include "base/timeutil.h"
#include "keys/backend.h"
#include "keys/keytrust.h"
#include "volume/volume.h"

struct lane {
	int token;
	int keyslot;
	char uri[256];     /* for messages */
	char *json;        /* the token, parsed again in the thread */
	bool started, done, taken;
	int r;
	double unwrap_ms;
	void *secret;
	size_t len;
	char why[512];
};

struct race {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;
	bool abandoned;
	struct volkey_config cfg;
	int n;
	struct lane lanes[]; /* as many as the volume has candidate tokens, not VOLKEY_MAX_TOKENS */
};

/* Lanes still running in this process, abandoned or not (volume_unlock_drain). */
static pthread_mutex_t lanes_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t lanes_cv = PTHREAD_COND_INITIALIZER;
static int lanes_running;

static void lanes_add(int d)
{
	pthread_mutex_lock(&lanes_mu);
	lanes_running += d;
	pthread_cond_broadcast(&lanes_cv);
	pthread_mutex_unlock(&lanes_mu);
}

bool volume_unlock_drain(long timeout_ms)
{
	struct timespec ts;
	bool idle;

	ts = deadline_after_ms(timeout_ms);
	pthread_mutex_lock(&lanes_mu);
	while (lanes_running > 0)
		if (pthread_cond_timedwait(&lanes_cv, &lanes_mu, &ts) != 0)
			break;
	idle = lanes_running == 0;
	pthread_mutex_unlock(&lanes_mu);
	return idle;
}


struct lane_arg {
	struct race *race;
	struct lane *lane;
};

void unlock_result_clear(struct unlock_result *u)
{
	secret_free(u->secret);
	memset(u, 0, sizeof(*u));
	u->token = u->keyslot = -1;
}

static void race_unref(struct race *race)
{
	bool last;

	pthread_mutex_lock(&race->mu);
	last = --race->refs == 0;
	pthread_mutex_unlock(&race->mu);
	if (!last)
		return;
	for (int i = 0; i < race->n; i++) {
		secret_free(race->lanes[i].secret);
		free(race->lanes[i].json);
	}
	pthread_mutex_destroy(&race->mu);
	pthread_cond_destroy(&race->cv);
	free(race);
}

/* Runs in the lane's thread: parse, check, unwrap. */
static int lane_unwrap(const struct volkey_config *cfg, const char *json, void **ret, size_t *ret_len, char *why,
		       size_t wl)
{
	_cleanup_(kctx_freep) struct kctx *c = NULL;
	_cleanup_(key_uri_freep) struct key_uri *u = NULL;
	struct volkey_token t = { 0 };
	struct errbuf e = { { 0 } };
	int r;

	r = volkey_token_parse(json, strlen(json), &t, why, wl);
	if (r < 0)
		return r;
	r = key_uri_parse(t.key_uri, &u);
	if (r < 0) {
		snprintf(why, wl, "key URI %s", key_uri_parse_error(r));
		goto out;
	}
	r = key_uri_trusted(u, cfg, &e);
	if (r < 0) {
		snprintf(why, wl, "%s", e.msg);
		goto out;
	}
	r = kctx_new(cfg, &c);
	if (r < 0) {
		snprintf(why, wl, "out of memory");
		goto out;
	}
	r = key_unwrap(c, u, t.binding, &t.wrapped, ret, ret_len);
	if (r < 0)
		snprintf(why, wl, "%s", kctx_error(c));
out:
	volkey_token_clear(&t);
	return r;
}

static void *lane_main(void *p)
{
	struct lane_arg *a = p;
	struct race *race = a->race;
	struct lane *l = a->lane;
	char why[512] = "";
	void *secret = NULL;
	size_t len = 0;
	int r;

	double t0 = monotonic_ms();

	free(a);
	r = lane_unwrap(&race->cfg, l->json, &secret, &len, why, sizeof(why));
	pthread_mutex_lock(&race->mu);
	l->unwrap_ms = monotonic_ms() - t0;
	l->r = r;
	snprintf(l->why, sizeof(l->why), "%s", why);
	if (r >= 0 && !race->abandoned) {
		l->secret = secret;
		l->len = len;
		secret = NULL;
	}
	l->done = true;
	pthread_cond_broadcast(&race->cv);
	pthread_mutex_unlock(&race->mu);
	secret_free(secret);
	race_unref(race);
	lanes_add(-1);
	return NULL;
}

static bool keyslot_active(struct crypt_device *cd, int k)
{
	CS_LOCKED;
	crypt_keyslot_info ki = crypt_keyslot_status(cd, k);
	return ki == CRYPT_SLOT_ACTIVE || ki == CRYPT_SLOT_ACTIVE_LAST;
}

/* Fills a lane for token t, or marks it failed at once. Returns whether to start it. */
static bool lane_prepare(struct volume *v, const struct token_entry *t, struct lane *l)
{
	CS_LOCKED;
	const char *json = NULL;
	const char *bound;

	l->token = t->id;
	l->keyslot = t->keyslot;
	snprintf(l->uri, sizeof(l->uri), "%s", t->role == TOKEN_VOLKEY ? t->t.key_uri : "?");
	if (t->role == TOKEN_BAD) {
		l->r = t->rc;
		snprintf(l->why, sizeof(l->why), "token is unreadable: %s", t->why);
		return false;
	}
	bound = binding_get(t->t.binding, BINDING_UUID_KEY);
	if (!streq_ptr(bound, v->uuid)) {
		l->r = -EBADMSG;
		snprintf(l->why, sizeof(l->why), "its secret is bound to volume %s, not to this volume %s",
			 strna(bound), v->uuid);
		return false;
	}
	if (t->keyslot < 0 || !keyslot_active(v->cd, t->keyslot)) {
		l->r = -EUCLEAN;
		if (t->keyslot < 0)
			snprintf(l->why, sizeof(l->why), "its keyslot is missing (removed outside volkey)");
		else
			snprintf(l->why, sizeof(l->why), "its keyslot %d is missing", t->keyslot);
		return false;
	}
	l->r = crypt_token_json_get(v->cd, t->id, &json);
	if (l->r < 0 || !json) {
		l->r = l->r < 0 ? l->r : -EBADMSG;
		snprintf(l->why, sizeof(l->why), "cannot read the token: %s", strerror(-l->r));
		return false;
	}
	l->json = strdup(json);
	if (!l->json) {
		l->r = -ENOMEM;
		snprintf(l->why, sizeof(l->why), "out of memory");
		return false;
	}
	l->r = 0;
	return true;
}

/* One error for all lanes: their common exit class if they agree; else
 * "unavailable" if any lane could not reach its key service (worth a retry);
 * else the first lane's. */
static int summarize(struct volume *v, struct race *race, struct errbuf *e)
{
	char msg[sizeof(e->msg)];
	size_t off = 0;
	int r = race->lanes[0].r;
	bool agree = true;

	for (int i = 1; i < race->n; i++)
		agree &= exit_code_from_errno(race->lanes[i].r) == exit_code_from_errno(r);
	if (!agree)
		for (int i = 0; i < race->n; i++)
			if (exit_code_from_errno(race->lanes[i].r) == EXIT_UNAVAILABLE) {
				r = race->lanes[i].r;
				break;
			}
	off += (size_t)snprintf(msg + off, sizeof(msg) - off, "%s: ", v->path);
	if (race->n > 1)
		off += (size_t)snprintf(msg + off, sizeof(msg) - off, "no token unlocks it: ");
	for (int i = 0; i < race->n && off < sizeof(msg); i++)
		off += (size_t)snprintf(msg + off, sizeof(msg) - off, "%stoken %d (%s): %s", i ? "; " : "",
					race->lanes[i].token, race->lanes[i].uri, race->lanes[i].why);
	return err_set(e, r ? r : -EIO, "%s", msg);
}

static int try_secret(struct volume *v, struct lane *l, const char *name, uint32_t flags, struct unlock_result *ret)
{
	CS_LOCKED;
	char other_name[128], other_dev[64];
	double t0 = monotonic_ms();
	/* During a volume-key re-encryption the secret opens two keyslots (old and new
	 * key): libcryptsetup needs both keys and finds them itself. */
	int slot = crypt_reencrypt_status(v->cd, NULL) == CRYPT_REENCRYPT_NONE ? l->keyslot : CRYPT_ANY_SLOT;
	int r;

	/* Two devices with one LUKS UUID (a snapshot restored beside its original):
	 * only one is opened, or every lookup by UUID would mix them up. Looked at
	 * here, under the lock that every activation holds, so two workers that
	 * unlock both copies at once cannot both get through. */
	if (name && volume_mapped_elsewhere(v->path, v->uuid, other_name, sizeof(other_name), other_dev,
					    sizeof(other_dev)) > 0) {
		snprintf(l->why, sizeof(l->why),
			 "not opened: its LUKS UUID %s is already open as /dev/mapper/%s from %s (two copies of one "
			 "volume, such as a restored snapshot)",
			 v->uuid, other_name, other_dev);
		return -EEXIST;
	}
	r = crypt_activate_by_passphrase(v->cd, name, slot, l->secret, l->len, flags);

	/* bench-unlock reads this line: backend time against keyslot (PBKDF) time. */
	log_debug("%s: token %d: unwrap %.2f ms, keyslot %d %s %.2f ms", v->path, l->token, l->unwrap_ms, l->keyslot,
		  name ? "activation" : "check", monotonic_ms() - t0);
	if (r < 0)
		return r;
	ret->token = l->token;
	ret->keyslot = slot == CRYPT_ANY_SLOT ? r : l->keyslot;
	ret->secret = TAKE_PTR(l->secret);
	ret->len = l->len;
	return 0;
}

static int unlock(struct volume *v, const struct volkey_config *cfg, int only_token, const char *name,
		  uint32_t flags, struct unlock_result *ret, struct errbuf *e)
{
	/* The lanes unwrap in parallel: the lock is taken only for each library call below. */
	CS_SUSPENDED;
	struct race *race;
	int r = -ENOENT, started = 0, nlanes = 0;

	for (int i = 0; i < v->ntokens; i++)
		nlanes += v->tokens[i].role == TOKEN_VOLKEY || v->tokens[i].role == TOKEN_BAD;
	race = calloc(1, sizeof(*race) + (size_t)nlanes * sizeof(race->lanes[0]));
	if (!race)
		return err_fail(e, -ENOMEM, "out of memory");
	pthread_mutex_init(&race->mu, NULL);
	pthread_cond_init(&race->cv, NULL);
	race->cfg = *cfg;
	race->refs = 1;
	for (int i = 0; i < v->ntokens; i++) {
		const struct token_entry *t = &v->tokens[i];
		if (t->role != TOKEN_VOLKEY && t->role != TOKEN_BAD)
			continue;
		if (only_token >= 0 && t->id != only_token)
			continue;
		if (race->n == nlanes)
			break;
		race->lanes[race->n].started = lane_prepare(v, t, &race->lanes[race->n]);
		if (!race->lanes[race->n].started)
			race->lanes[race->n].done = true;
		race->n++;
	}
	if (race->n == 0) {
		race_unref(race);
		if (only_token >= 0)
			return err_fail(e, -ENOENT, "%s: token %d is not a volkey token", v->path, only_token);
		return err_fail(e, -ENOENT, "%s: has no volkey token", v->path);
	}
	for (int i = 0; i < race->n; i++)
		started += race->lanes[i].started;
	for (int i = 0; i < race->n; i++) {
		struct lane_arg *a;

		if (!race->lanes[i].started)
			continue;
		a = malloc(sizeof(*a));
		if (!a) {
			race->lanes[i].r = -ENOMEM;
			race->lanes[i].done = true;
			continue;
		}
		*a = (struct lane_arg){ race, &race->lanes[i] };
		pthread_mutex_lock(&race->mu);
		race->refs++;
		pthread_mutex_unlock(&race->mu);
		lanes_add(1);
		/* One lane races nobody: it runs here, without a thread (its stack and
		 * malloc arena cost more than the unwrap with a file key). */
		if (started == 1) {
			lane_main(a);
			continue;
		}
		if (thread_start(NULL, lane_main, a, true) < 0) {
			free(a);
			lanes_add(-1);
			pthread_mutex_lock(&race->mu);
			race->refs--;
			pthread_mutex_unlock(&race->mu);
			race->lanes[i].r = -EAGAIN;
			snprintf(race->lanes[i].why, sizeof(race->lanes[i].why), "cannot start a thread");
			race->lanes[i].done = true;
			continue;
		}
	}

	pthread_mutex_lock(&race->mu);
	for (;;) {
		struct lane *won = NULL;
		bool all_done = true;

		for (int i = 0; i < race->n; i++) {
			struct lane *l = &race->lanes[i];
			all_done &= l->done;
			if (l->done && !l->taken && l->r >= 0 && l->secret && !won)
				won = l;
		}
		if (won) {
			won->taken = true;
			pthread_mutex_unlock(&race->mu);
			r = try_secret(v, won, name, flags, ret);
			pthread_mutex_lock(&race->mu);
			if (r >= 0)
				break;
			won->r = r;
			if (r == -EPERM) {
				snprintf(won->why, sizeof(won->why), "its secret does not open keyslot %d", won->keyslot);
			} else if (r == -EEXIST) {
				err_set(e, r, "%s: %s", v->path, won->why);
				break;
			} else {
				snprintf(won->why, sizeof(won->why), "activation failed: %s", strerror(-r));
				err_set(e, r, "%s: cannot activate %s: %s", v->path, name ? name : "(test)", strerror(-r));
				break;
			}
			continue;
		}
		if (all_done) {
			r = summarize(v, race, e);
			break;
		}
		pthread_cond_wait(&race->cv, &race->mu);
	}
	race->abandoned = true;
	pthread_mutex_unlock(&race->mu);
	race_unref(race);
	return r;
}

int volume_unlock(struct volume *v, const struct volkey_config *cfg, int only_token, struct unlock_result *ret,
		  struct errbuf *e)
{
	return unlock(v, cfg, only_token, NULL, 0, ret, e);
}

int volume_open(struct volume *v, const struct volkey_config *cfg, const char *name, uint32_t flags,
		struct unlock_result *ret, struct errbuf *e)
{
	char other_name[128], other_dev[64];

	if (streq_ptr(v->subsystem, VOLKEY_SUBSYSTEM_PROVISIONING))
		return err_fail(e, -EUCLEAN, "%s: its format was interrupted; run 'volkey format %s' again", v->path,
				v->path);
	/* Two devices with one LUKS UUID: no key call when the other copy is open
	 * already (try_secret() looks again under the lock, before activating). */
	if (name && volume_mapped_elsewhere(v->path, v->uuid, other_name, sizeof(other_name), other_dev,
					    sizeof(other_dev)) > 0)
		return err_fail(e, -EEXIST,
				"%s: not opened: its LUKS UUID %s is already open as /dev/mapper/%s from %s "
				"(two copies of one volume, such as a restored snapshot)",
				v->path, v->uuid, other_name, other_dev);
	return unlock(v, cfg, -1, name, flags, ret, e);
}

int volume_get_volume_key(struct volume *v, const struct volkey_config *cfg, void **ret_vk, size_t *ret_len,
			  struct unlock_result *ret_unlock, struct errbuf *e)
{
	CS_LOCKED;
	struct unlock_result u = { .token = -1, .keyslot = -1 };
	_cleanup_secret_ void *vk = NULL;
	size_t len;
	int r;

	r = volume_unlock(v, cfg, -1, &u, e);
	if (r < 0)
		return r;
	r = crypt_get_volume_key_size(v->cd);
	if (r <= 0) {
		unlock_result_clear(&u);
		return err_fail(e, -EINVAL, "%s: unknown volume key size", v->path);
	}
	len = (size_t)r;
	vk = secret_alloc(len);
	if (!vk) {
		unlock_result_clear(&u);
		return err_fail(e, -ENOMEM, "cannot allocate secret memory");
	}
	r = crypt_volume_key_get(v->cd, u.keyslot, vk, &len, u.secret, u.len);
	if (r < 0) {
		unlock_result_clear(&u);
		return err_fail(e, r, "%s: cannot read the volume key through keyslot %d: %s", v->path, u.keyslot,
				strerror(-r));
	}
	*ret_vk = TAKE_PTR(vk);
	*ret_len = len;
	if (ret_unlock)
		*ret_unlock = u;
	else
		unlock_result_clear(&u);
	return 0;
}

/* Does token id (alone) unlock now? 0, or its -errno with the reason in why. */
int volume_token_unlocks(struct volume *v, const struct volkey_config *cfg, int id, struct errbuf *why)
{
	struct unlock_result u = { .token = -1 };
	int r = volume_unlock(v, cfg, id, &u, why);

	unlock_result_clear(&u);
	return r;
}
