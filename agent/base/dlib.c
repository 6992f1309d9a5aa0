// SPDX-License-Identifier: LGPL-2.1-or-later
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>

#include "base/dlib.h"
#include "base/log.h"

/* The loading itself, once, under l->mu: callers of dlib_load in other threads
 * wait for it. */
static void load(struct dlib *l)
{
	const char *e;
	void *h;

	/* RTLD_NODELETE: the library stays for the life of the process (its
	 * functions' addresses are kept), also when linked into a token plugin
	 * that libcryptsetup unloads. */
	h = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!h) {
		e = dlerror();
		log_error("%s could not be loaded: %s (needed for %s)", l->soname, e ? e : "unknown error", l->what);
		return;
	}
	for (size_t i = 0; i < l->nsyms; i++) {
		void *p;

		dlerror();
		p = dlsym(h, l->syms[i].name);
		if (!p) {
			e = dlerror();
			log_error("%s could not be loaded: %s (needed for %s)", l->soname,
				  e ? e : "a function is missing", l->what);
			for (size_t j = 0; j < i; j++)
				*l->syms[j].slot = NULL;
			dlclose(h);
			return;
		}
		*l->syms[i].slot = p;
	}
	if (l->loaded)
		l->loaded();
	__atomic_store_n(&l->ok, true, __ATOMIC_RELEASE);
}

bool dlib_load(struct dlib *l)
{
	if (__atomic_load_n(&l->ok, __ATOMIC_ACQUIRE))
		return true;
	pthread_mutex_lock(&l->mu);
	if (!l->tried) {
		l->tried = true;
		load(l);
	}
	pthread_mutex_unlock(&l->mu);
	if (!__atomic_load_n(&l->ok, __ATOMIC_ACQUIRE)) {
		errno = ELIBACC;
		return false;
	}
	return true;
}

bool dlib_loaded(const struct dlib *l)
{
	return __atomic_load_n(&l->ok, __ATOMIC_ACQUIRE);
}
