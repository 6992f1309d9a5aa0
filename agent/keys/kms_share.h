/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the KMS clients of one process share: libcurl's connection cache, TLS
 * session cache and DNS cache (one share handle, locked for use from volkeyd's
 * worker threads), so a process makes one full TLS handshake per KMS endpoint
 * whatever the number of volumes, keeps that connection alive between requests,
 * and resumes the TLS session (TLS 1.3 ticket) when it needs a second
 * connection. Connections keep nothing secret of volkey's: the requests are
 * signed by volkey (sigv4.c), not with credentials handed to libcurl, and the
 * TLS layer wipes decrypted records once read (SSL_OP_CLEANSE_PLAINTEXT). */
#pragma once

#include <stdbool.h>
#include <curl/curl.h>

/* The process's share handle, made on first use; NULL if it cannot be made
 * (the caller then goes without sharing). */
CURLSH *kms_share(void);

/* At most this many KMS requests of the process are in flight at once; the
 * others wait their turn. Measured on the host against the KMS double, eight
 * workers unwrapping at once with 8 in flight made 1 to 3 full handshakes
 * (about half the runs more than one: concurrent resumptions of one session
 * do not all succeed); with 4 in flight, one full handshake in every run,
 * and the same wall time (HTTP/1.1 requests are short; the keyslot and the
 * device-mapper work that follow are serialised anyway). */
#define KMS_SHARE_MAX_INFLIGHT 4
/* Idle connections the share keeps (CURLOPT_MAXCONNECTS): libcurl closes the
 * oldest beyond this. */
#define KMS_SHARE_MAX_CONNECTS (4 * KMS_SHARE_MAX_INFLIGHT)

/* Around each request: kms_share_begin waits for a slot; and the first request
 * to an endpoint goes alone, the others waiting for it, so they find its
 * connection kept alive or its TLS session to resume, instead of all making
 * full handshakes at once. It returns whether the caller went first (gated),
 * which it passes to kms_share_end after its request; that lets everyone
 * through from then on, also when the request failed (a KMS that does not
 * answer must not make the others queue). */
bool kms_share_begin(const char *endpoint);
void kms_share_end(const char *endpoint, bool gated);

/* For CURLOPT_SSL_CTX_FUNCTION: TLS options of every KMS connection. */
CURLcode kms_share_ssl_ctx(CURL *curl, void *ssl_ctx, void *userdata);
