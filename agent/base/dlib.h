/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Optional libraries loaded on first use (libcurl, p11-kit, libnvme, sd-bus of
 * libsystemd): volkey links only what every run needs, so `volkey open` with a
 * file key starts without the 40-odd libraries KMS, PKCS#11, NVMe and systemd
 * pull in. Each library has a shim (base/dl_*.c) that defines the functions
 * volkey calls under their real names and forwards them to pointers this
 * loader resolves with dlopen()/dlsym() the first time one is called; the call
 * sites stay as they are. When a library cannot be loaded, its functions fail
 * as the library itself fails when out of memory (NULL, an error code) with
 * errno set to ELIBACC, so a caller that wants to can tell the two apart, and
 * one line names the library and dlerror()'s reason, once per process. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct dlib_sym {
	const char *name;
	void **slot; /* where the function's address goes */
};

struct dlib {
	const char *soname;           /* "libcurl.so.4" */
	const char *what;             /* what needs it, for the error: "AWS KMS and IMDS" */
	const struct dlib_sym *syms;
	size_t nsyms;
	void (*loaded)(void);         /* run once after a successful load (optional) */
	pthread_mutex_t mu;           /* PTHREAD_MUTEX_INITIALIZER */
	bool tried, ok;
};

#define DLIB_SYM(name, ptr) { name, (void **)&(ptr) }

/* Call first thing in main, before any thread (it sets an environment
 * variable): what loading libcurl brings in is cheaper. Debian's libcurl
 * pulls in GnuTLS through librtmp; volkey's curl speaks TLS with OpenSSL and
 * never uses GnuTLS, whose library constructor initialises it all the same
 * (850 KiB of RSS, measured) unless GNUTLS_NO_IMPLICIT_INIT=1, set here when
 * the environment does not say otherwise. GnuTLS users call
 * gnutls_global_init() themselves; it still works. */
void dl_curl_setup(void);

/* Loads l (once, thread-safe); whether its functions can be called (if not,
 * errno is ELIBACC). */
bool dlib_load(struct dlib *l);
/* Whether l was loaded already (never loads it). */
bool dlib_loaded(const struct dlib *l);
