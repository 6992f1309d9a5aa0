// SPDX-License-Identifier: LGPL-2.1-or-later
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <openssl/ssl.h>

#include "base/dlib.h"
#include "base/log.h"
#include "base/macro.h"
#include "keys/kms_share.h"

#define MAX_ENDPOINTS 16

static CURLSH *share;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t locks[CURL_LOCK_DATA_LAST];

/* Endpoints whose first connection has been made, and the gate the first
 * requests to each wait at. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static struct {
	char endpoint[256];
	bool open, busy;
} eps[MAX_ENDPOINTS];
static int neps;

static void lock_cb(CURL *h, curl_lock_data d, curl_lock_access a, void *u)
{
	(void)h;
	(void)a;
	(void)u;
	pthread_mutex_lock(&locks[d]);
}

static void unlock_cb(CURL *h, curl_lock_data d, void *u)
{
	(void)h;
	(void)u;
	pthread_mutex_unlock(&locks[d]);
}

static void make_share(void)
{
	CURLSH *s;

	for (size_t i = 0; i < ARRAY_SIZE(locks); i++)
		pthread_mutex_init(&locks[i], NULL);
	s = curl_share_init();
	if (!s)
		return;
	if (curl_share_setopt(s, CURLSHOPT_LOCKFUNC, lock_cb) != CURLSHE_OK ||
	    curl_share_setopt(s, CURLSHOPT_UNLOCKFUNC, unlock_cb) != CURLSHE_OK ||
	    curl_share_setopt(s, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK ||
	    curl_share_setopt(s, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK ||
	    curl_share_setopt(s, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK) {
		log_debug("libcurl cannot share connections here; each KMS client keeps its own");
		curl_share_cleanup(s);
		return;
	}
	share = s;
}

CURLSH *kms_share(void)
{
	pthread_once(&once, make_share);
	return share;
}

/* Requests in flight, all endpoints: at most KMS_SHARE_MAX_INFLIGHT. */
static pthread_mutex_t slot_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slot_cv = PTHREAD_COND_INITIALIZER;
static int inflight;

static bool gate(const char *endpoint)
{
	int i;

	pthread_mutex_lock(&gate_mu);
	for (;;) {
		for (i = 0; i < neps; i++)
			if (!strcmp(eps[i].endpoint, endpoint))
				break;
		if (i == neps) {
			if (neps == MAX_ENDPOINTS) { /* more endpoints than expected: no gate */
				pthread_mutex_unlock(&gate_mu);
				return false;
			}
			snprintf(eps[i].endpoint, sizeof(eps[i].endpoint), "%s", endpoint);
			eps[i].open = eps[i].busy = false;
			neps++;
		}
		if (eps[i].open) {
			pthread_mutex_unlock(&gate_mu);
			return false;
		}
		if (!eps[i].busy) {
			eps[i].busy = true;
			pthread_mutex_unlock(&gate_mu);
			return true;
		}
		pthread_cond_wait(&gate_cv, &gate_mu);
	}
}

bool kms_share_begin(const char *endpoint)
{
	pthread_mutex_lock(&slot_mu);
	while (inflight >= KMS_SHARE_MAX_INFLIGHT)
		pthread_cond_wait(&slot_cv, &slot_mu);
	inflight++;
	pthread_mutex_unlock(&slot_mu);
	return gate(endpoint);
}

static void open_gate(const char *endpoint)
{
	pthread_mutex_lock(&gate_mu);
	for (int i = 0; i < neps; i++)
		if (!strcmp(eps[i].endpoint, endpoint)) {
			eps[i].busy = false;
			eps[i].open = true;
		}
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_mu);
}

/* libssl is libcurl's (volkey links libcrypto only: a file-key run never maps
 * libssl); by the time libcurl calls back it is loaded, and this finds it. */
static uint64_t (*ssl_ctx_set_options)(SSL_CTX *, uint64_t);
static long (*ssl_ctx_ctrl)(SSL_CTX *, int, long, void *);
static const struct dlib_sym ssl_syms[] = {
	DLIB_SYM("SSL_CTX_set_options", ssl_ctx_set_options),
	DLIB_SYM("SSL_CTX_ctrl", ssl_ctx_ctrl),
};
static struct dlib libssl = {
	.soname = "libssl.so.3",
	.what = "the TLS options of KMS connections",
	.syms = ssl_syms,
	.nsyms = ARRAY_SIZE(ssl_syms),
	.mu = PTHREAD_MUTEX_INITIALIZER,
};

CURLcode kms_share_ssl_ctx(CURL *curl, void *ssl_ctx, void *userdata)
{
	(void)curl;
	(void)userdata;
	if (!dlib_load(&libssl))
		return CURLE_OK; /* (said once by dlib) the connection works without them */
	/* A kept-alive connection must not keep the last answer (a plaintext data
	 * key) in OpenSSL's record buffer: wipe records once read, and give idle
	 * buffers back. */
	ssl_ctx_set_options(ssl_ctx, SSL_OP_CLEANSE_PLAINTEXT);
	/* A server that drops an idle connection without close_notify must not
	 * cost the TLS session: OpenSSL would otherwise take the EOF as a fatal
	 * error and mark the session not resumable, so the next connection would
	 * make a full handshake. Truncation cannot pass: HTTP answers are framed
	 * (Content-Length or chunked) and libcurl checks the framing. */
	ssl_ctx_set_options(ssl_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	ssl_ctx_ctrl(ssl_ctx, SSL_CTRL_MODE, SSL_MODE_RELEASE_BUFFERS, NULL);
	return CURLE_OK;
}

void kms_share_end(const char *endpoint, bool gated)
{
	if (gated)
		open_gate(endpoint);
	pthread_mutex_lock(&slot_mu);
	inflight--;
	pthread_cond_signal(&slot_cv);
	pthread_mutex_unlock(&slot_mu);
}
