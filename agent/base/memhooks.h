/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Heap hygiene for the libraries that see secrets in transit: libcurl (request
 * and response bodies, the SigV4 signing key) and OpenSSL (TLS records). Their
 * allocations go through wrappers that wipe every block before it is freed or
 * moved by realloc, so freed heap never keeps a KMS answer or a credential.
 * Call first thing in main(), before any curl or OpenSSL use. It also tells
 * OpenSSL not to clean up at exit: freeing (and so wiping) every object of its
 * library contexts took a quarter of a millisecond at the end of every run,
 * for pages the kernel takes back anyway. (libcurl's hooks are handed over when
 * libcurl is loaded: base/dl_curl.c.) */
#pragma once

#include <stdbool.h>

/* Returns false when OpenSSL had already allocated (its hooks then stay default). */
bool memhooks_setup(void);
