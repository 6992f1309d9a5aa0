// SPDX-License-Identifier: LGPL-2.1-or-later
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <p11-kit/uri.h>

#include "base/macro.h"
#include "base/secret.h"
#include "keys/keytrust.h"
#include "keys/p11_pin.h"
#include "keys/p11_rv.h"
#include "keys/p11_session.h"

/* A module is loaded and initialized once per process and shared by every
 * context (the unlock race runs one per thread): C_Finalize runs when the last
 * context lets go, never under another thread's session. A module is the file
 * (st_dev, st_ino), not the path: two paths to one file (symlinks, bind mounts)
 * share one load, and a path whose file was replaced loads the new file. */
struct p11_module {
	char *path;         /* as the URI or volkey.conf named it, for messages */
	dev_t dev;
	ino_t ino;
	void *dl;
	CK_FUNCTION_LIST *f;
	bool finalize;      /* we initialized it (not CKR_CRYPTOKI_ALREADY_INITIALIZED) */
	unsigned refs;
	struct p11_module *next;
};

static pthread_mutex_t loaded_mu = PTHREAD_MUTEX_INITIALIZER;
static struct p11_module *loaded;

/* The descriptor each module file was checked and loaded through, one per file,
 * open for the life of the process (under loaded_mu). dlopen() knows a loaded
 * object by its name, "/proc/self/fd/N", and an object can stay mapped after
 * dlclose() (C++ modules with unique symbols are never unloaded): were N closed
 * and reused, dlopen() of another file through it would hand back the old one. */
struct p11_modfile {
	dev_t dev;
	ino_t ino;
	int fd;
	struct p11_modfile *next;
};
static struct p11_modfile *modfiles;

static bool same_ino(dev_t dev, ino_t ino, const struct stat *st)
{
	return dev == st->st_dev && ino == st->st_ino;
}

struct p11_modref {
	struct p11_module *m;
	struct p11_modref *next;
};

struct p11_state {
	struct p11_modref *modules;
	struct p11_token *tokens;
};

bool p11_rv_session_lost(CK_RV rv)
{
	return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED || rv == CKR_DEVICE_REMOVED ||
	       rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_USER_NOT_LOGGED_IN || rv == CKR_DEVICE_ERROR;
}

/* Copies a blank-padded PKCS#11 string field into a C string. */
static void pad_to_str(char *dst, size_t dstsize, const unsigned char *src, size_t n)
{
	while (n > 0 && (src[n - 1] == ' ' || src[n - 1] == '\0'))
		n--;
	if (n >= dstsize)
		n = dstsize - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* The context's PKCS#11 state, freed by kctx_free(): logs out, closes sessions,
 * finalizes and unloads modules. */
static void p11_state_free(void *state);

static struct p11_state *state_get(struct kctx *c)
{
	struct p11_state *s = kctx_state(c, KEY_PKCS11);

	if (!s) {
		s = calloc(1, sizeof(*s));
		if (s)
			kctx_set_state(c, KEY_PKCS11, s, p11_state_free);
	}
	return s;
}

static void module_unload(struct p11_module *m);

/* Drops one context's reference; the last one finalizes and unloads. */
static void module_put(struct p11_module *m)
{
	struct p11_module **pp;
	bool last;

	/* Finalized under the lock, so no other thread can load it again half-way. */
	pthread_mutex_lock(&loaded_mu);
	last = --m->refs == 0;
	if (last) {
		for (pp = &loaded; *pp; pp = &(*pp)->next)
			if (*pp == m) {
				*pp = m->next;
				break;
			}
		module_unload(m);
	}
	pthread_mutex_unlock(&loaded_mu);
}

static void module_unload(struct p11_module *m)
{
	if (m->f && m->finalize)
		m->f->C_Finalize(NULL);
	if (m->dl)
		dlclose(m->dl);
	free(m->path);
	free(m);
}

static int module_load(struct kctx *c, const char *path, int fd, const struct stat *st, struct p11_module **ret);

/* The module at path, checked (keytrust_module_open()) every time and looked up
 * by the file it opened. */
static int module_get(struct kctx *c, struct p11_state *s, const char *path, struct p11_module **ret)
{
	struct errbuf e = { { 0 } };
	struct p11_module *m = NULL;
	struct p11_modref *ref;
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	r = keytrust_module_open(kctx_config(c), path, &fd, &st, &e);
	if (r < 0)
		return kctx_fail(c, r, "%s", e.msg);
	for (ref = s->modules; ref; ref = ref->next)
		if (same_ino(ref->m->dev, ref->m->ino, &st)) {
			*ret = ref->m;
			return 0;
		}
	ref = calloc(1, sizeof(*ref));
	if (!ref)
		return -ENOMEM;
	pthread_mutex_lock(&loaded_mu);
	for (m = loaded; m; m = m->next)
		if (same_ino(m->dev, m->ino, &st))
			break;
	if (m) {
		m->refs++;
		r = 0;
	} else {
		r = module_load(c, path, TAKE_FD(fd), &st, &m);
		if (r == 0) {
			m->refs = 1;
			m->next = loaded;
			loaded = m;
		}
	}
	pthread_mutex_unlock(&loaded_mu);
	if (r < 0) {
		free(ref);
		return r;
	}
	ref->m = m;
	ref->next = s->modules;
	s->modules = ref;
	*ret = m;
	return 0;
}

/* The descriptor to load st's file through: fd, kept in modfiles, or the one
 * kept there for the same file before (fd is closed then). Called with loaded_mu held. */
static int modfile_fd(int fd, const struct stat *st)
{
	struct p11_modfile *f;

	for (f = modfiles; f; f = f->next)
		if (same_ino(f->dev, f->ino, st)) {
			close(fd);
			return f->fd;
		}
	f = calloc(1, sizeof(*f));
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->fd = fd;
	f->next = modfiles;
	modfiles = f;
	return fd;
}

/* Loads the checked descriptor fd (taken) of the module path names. Called with loaded_mu held. */
static int module_load(struct kctx *c, const char *path, int fd, const struct stat *st, struct p11_module **ret)
{
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
	CK_C_GetFunctionList get_list;
	struct p11_module *m = NULL;
	char proc[64];
	CK_RV rv;

	fd = modfile_fd(fd, st);
	if (fd < 0)
		return fd;
	m = calloc(1, sizeof(*m));
	if (!m || !(m->path = strdup(path))) {
		free(m);
		return -ENOMEM;
	}
	m->dev = st->st_dev;
	m->ino = st->st_ino;
	/* The file keytrust_module_open() checked, not whatever path names by now. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	m->dl = dlopen(proc, RTLD_NOW | RTLD_LOCAL);
	if (!m->dl) {
		const char *e = dlerror();
		module_unload(m);
		return kctx_fail(c, -ENOPKG, "cannot load PKCS#11 module %s: %s", path, e ? e : "dlopen failed");
	}
	get_list = (CK_C_GetFunctionList)dlsym(m->dl, "C_GetFunctionList");
	if (!get_list) {
		module_unload(m);
		return kctx_fail(c, -ENOPKG, "%s is not a PKCS#11 module (no C_GetFunctionList)", path);
	}
	rv = get_list(&m->f);
	if (rv != CKR_OK || !m->f) {
		m->f = NULL;
		module_unload(m);
		return kctx_fail(c, -ENOPKG, "PKCS#11 module %s: C_GetFunctionList failed: %s", path, p11_rv_name(rv));
	}
	rv = m->f->C_Initialize(&args);
	if (rv == CKR_OK) {
		m->finalize = true;
	} else if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		m->f = NULL;
		module_unload(m);
		return kctx_fail(c, p11_rv_to_errno(rv), "PKCS#11 module %s: C_Initialize failed: %s (%s)", path,
				 p11_rv_words(rv), p11_rv_name(rv));
	}
	*ret = m;
	return 0;
}

/* The one initialized token in m that the URI names (token, slot and library attributes). */
static int token_find(struct kctx *c, const struct key_uri *u, struct p11_module *m, CK_SLOT_ID *ret_slot,
		      CK_TOKEN_INFO *ret_info)
{
	P11KitUri *uri = u->p11;
	_cleanup_free_ CK_SLOT_ID *slots = NULL;
	CK_SLOT_ID want_slot = p11_kit_uri_get_slot_id(uri);
	CK_ULONG n = 0, matches = 0;
	CK_INFO mi;
	CK_RV rv;
	char seen[256] = "";
	size_t seen_len = 0;

	rv = m->f->C_GetInfo(&mi);
	if (rv == CKR_OK && !p11_kit_uri_match_module_info(uri, &mi))
		return kctx_fail(c, -ENODEV, "PKCS#11 module %s does not match the URI's library attributes", m->path);
	rv = m->f->C_GetSlotList(CK_TRUE, NULL, &n);
	if (rv == CKR_OK && n > 0) {
		slots = calloc(n, sizeof(*slots));
		if (!slots)
			return -ENOMEM;
		rv = m->f->C_GetSlotList(CK_TRUE, slots, &n);
	}
	if (rv != CKR_OK)
		return kctx_fail(c, p11_rv_to_errno(rv), "PKCS#11 module %s: cannot list slots: %s (%s)", m->path,
				 p11_rv_words(rv), p11_rv_name(rv));
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		CK_SLOT_INFO si;
		char label[33];

		if (m->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK || !(ti.flags & CKF_TOKEN_INITIALIZED))
			continue;
		pad_to_str(label, sizeof(label), ti.label, sizeof(ti.label));
		if (seen_len < sizeof(seen))
			seen_len += snprintf(seen + seen_len, sizeof(seen) - seen_len, "%s'%s'", seen_len ? ", " : "",
					     label);
		if (want_slot != (CK_SLOT_ID)-1 && slots[i] != want_slot)
			continue;
		if (m->f->C_GetSlotInfo(slots[i], &si) == CKR_OK && !p11_kit_uri_match_slot_info(uri, &si))
			continue;
		if (!p11_kit_uri_match_token_info(uri, &ti))
			continue;
		if (matches++ == 0) {
			*ret_slot = slots[i];
			*ret_info = ti;
		}
	}
	if (matches == 0)
		return kctx_fail(c, -ENODEV, "no token matching the URI in PKCS#11 module %s (initialized tokens: %s)",
				 m->path, seen_len ? seen : "none");
	if (matches > 1)
		return kctx_fail(c, -ENOTUNIQ, "%lu tokens in PKCS#11 module %s match the URI (%s): give token= or "
				 "serial= in the URI", (unsigned long)matches, m->path, seen);
	return 0;
}

static int token_login(struct kctx *c, const struct key_uri *u, struct p11_token *t)
{
	_cleanup_secret_ char *pin = NULL;
	size_t len = 0;
	CK_RV rv;
	int r;

	r = p11_pin_read(c, u->pin_source, &pin, &len);
	if (r < 0)
		return r;
	rv = t->f->C_Login(t->session, CKU_USER, (CK_UTF8CHAR *)pin, len);
	if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
		t->logged_in = rv == CKR_OK;
		return 0;
	}
	if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE)
		return kctx_fail(c, -EACCES, "PIN rejected by token '%s' (%s): check the PIN file %s", t->label,
				 p11_rv_name(rv), u->pin_source);
	return kctx_fail(c, p11_rv_to_errno(rv), "login to token '%s' failed: %s (%s)", t->label, p11_rv_words(rv),
			 p11_rv_name(rv));
}

static void token_close(struct p11_token *t)
{
	if (t->logged_in)
		t->f->C_Logout(t->session);
	if (t->session != CK_INVALID_HANDLE)
		t->f->C_CloseSession(t->session);
	free(t);
}

int p11_token_get(struct kctx *c, const struct key_uri *u, struct p11_token **ret)
{
	const struct volkey_config *cfg = kctx_config(c);
	const char *path = u->module_path;
	struct p11_state *s = state_get(c);
	struct p11_module *m = NULL;
	struct p11_token *t;
	CK_TOKEN_INFO ti;
	CK_SLOT_ID slot = 0;
	CK_RV rv;
	int r;

	if (!s)
		return -ENOMEM;
	if (p11_kit_uri_get_pin_value(u->p11))
		return kctx_fail(c, -EINVAL, "pin-value in a pkcs11 URI is refused (the URI is stored in the clear): "
				 "use pin-source=FILE");
	if (!path || !*path)
		path = cfg->p11_module[0] ? cfg->p11_module : NULL;
	if (!path)
		return kctx_fail(c, -EINVAL,
				 "the pkcs11 URI has no module-path and volkey.conf sets no [pkcs11] module");
	r = module_get(c, s, path, &m);
	if (r < 0)
		return r;
	r = token_find(c, u, m, &slot, &ti);
	if (r < 0)
		return r;
	for (t = s->tokens; t; t = t->next)
		if (t->module == m && t->slot == slot) {
			t->uses++;
			*ret = t;
			return 0;
		}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->module = m;
	t->f = m->f;
	t->slot = slot;
	t->session = CK_INVALID_HANDLE;
	pad_to_str(t->label, sizeof(t->label), ti.label, sizeof(ti.label));
	pad_to_str(t->model, sizeof(t->model), ti.model, sizeof(ti.model));
	pad_to_str(t->manufacturer, sizeof(t->manufacturer), ti.manufacturerID, sizeof(ti.manufacturerID));
	rv = t->f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &t->session);
	if (rv != CKR_OK) {
		r = kctx_fail(c, p11_rv_to_errno(rv), "cannot open a session on token '%s': %s (%s)", t->label,
			      p11_rv_words(rv), p11_rv_name(rv));
		t->session = CK_INVALID_HANDLE;
		token_close(t);
		return r;
	}
	if (ti.flags & CKF_LOGIN_REQUIRED) {
		r = token_login(c, u, t);
		if (r < 0) {
			token_close(t);
			return r;
		}
	}
	t->uses = 1;
	t->next = s->tokens;
	s->tokens = t;
	*ret = t;
	return 0;
}

void p11_token_drop(struct kctx *c, struct p11_token *t)
{
	struct p11_state *s = kctx_state(c, KEY_PKCS11);

	if (!s)
		return;
	for (struct p11_token **p = &s->tokens; *p; p = &(*p)->next)
		if (*p == t) {
			*p = t->next;
			token_close(t);
			return;
		}
}

static void p11_state_free(void *state)
{
	struct p11_state *s = state;

	if (!s)
		return;
	while (s->tokens) {
		struct p11_token *t = s->tokens;
		s->tokens = t->next;
		token_close(t);
	}
	while (s->modules) {
		struct p11_modref *ref = s->modules;
		s->modules = ref->next;
		module_put(ref->m);
		free(ref);
	}
	free(s);
}
