// SPDX-License-Identifier: LGPL-2.1-or-later
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/rand.h>

#include "base/awsname.h"
#include "base/b64.h"
#include "base/curlutil.h"
#include "base/log.h"
#include "base/macro.h"
#include "base/secret.h"
#include "base/urlcheck.h"
#include "keys/aws_creds.h"
#include "keys/imds.h"
#include "keys/kms_client.h"
#include "keys/kms_share.h"
#include "keys/kms_stats.h"
#include "keys/kms_trust.h"
#include "keys/sigv4.h"

#define MAX_CONNS 8
#define CRED_REFRESH_MARGIN_S 600 /* refresh 10 minutes before expiry, as the SDKs do */
/* No retry with less than this left before the deadline: it could only time out,
 * and its "timed out" would hide the error that made us retry (throttling, say). */
#define MIN_ATTEMPT_MS 100

struct kms_conn {
	char endpoint[256];
	CURL *curl;
};

struct kms_client {
	struct volkey_config cfg;
	struct aws_creds creds;
	struct kms_conn conns[MAX_CONNS];
	int nconns;
	char default_region[48];
};

static bool share_conns = true, full_jitter = true;

void kms_client_share(bool on)
{
	share_conns = on;
}

void kms_client_jitter(bool on)
{
	full_jitter = on;
}

int kms_client_new(const struct volkey_config *cfg, struct kms_client **ret)
{
	struct kms_client *k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->cfg = *cfg;
	*ret = k;
	return 0;
}

void kms_client_free(struct kms_client *k)
{
	if (!k)
		return;
	for (int i = 0; i < k->nconns; i++)
		curl_easy_cleanup(k->conns[i].curl);
	aws_creds_clear(&k->creds);
	free(k);
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* ---- regions and endpoints ---- */

static const char *env_nonempty(const char *n)
{
	const char *v = getenv(n);
	return v && *v ? v : NULL;
}

static int default_region(struct kms_client *k, char *err, size_t err_n)
{
	const char *e;
	char buf[64];

	if (k->default_region[0])
		return 0;
	if ((e = env_nonempty("AWS_REGION")) || (e = env_nonempty("AWS_DEFAULT_REGION"))) {
		if (!aws_region_valid(e)) {
			snprintf(err, err_n, "AWS_REGION %.60s is not an AWS region name", e);
			return -EINVAL;
		}
		snprintf(k->default_region, sizeof(k->default_region), "%s", e);
		return 0;
	}
	if (k->cfg.kms_region[0]) {
		snprintf(k->default_region, sizeof(k->default_region), "%s", k->cfg.kms_region);
		return 0;
	}
	if (aws_profile_region(&k->cfg, buf, sizeof(buf)) == 0) {
		if (!aws_region_valid(buf)) {
			snprintf(err, err_n, "the AWS profile's region %.60s is not an AWS region name", buf);
			return -EINVAL;
		}
		snprintf(k->default_region, sizeof(k->default_region), "%s", buf);
		return 0;
	}
	if (!imds_disabled_by_env()) {
		_cleanup_(imds_freep) struct imds *m = NULL;
		_cleanup_free_ char *r = NULL;
		if (imds_new(k->cfg.imds_endpoint[0] ? k->cfg.imds_endpoint : NULL, k->cfg.imds_timeout_ms, &m) == 0 &&
		    imds_get(m, "meta-data/placement/region", &r) == 0 && r[0]) {
			if (!aws_region_valid(r)) {
				snprintf(err, err_n, "the instance metadata region %.60s is not an AWS region name", r);
				return -EINVAL;
			}
			snprintf(k->default_region, sizeof(k->default_region), "%s", r);
			return 0;
		}
	}
	snprintf(err, err_n, "no AWS region: give a key ARN, AWS_REGION, [kms] region in the config, a profile "
		 "region, or run on EC2");
	return -EINVAL;
}

static int region_list(struct kms_client *k, const struct key_uri *u, char out[][48], int *n, char *err, size_t en)
{
	bool multi = strstr(u->key_id, "mrk-") != NULL;
	int r;

	*n = 0;
	if (u->arn_region) {
		snprintf(out[(*n)++], 48, "%s", u->arn_region);
	} else if (!(multi && k->cfg.kms_nregions > 0)) {
		r = default_region(k, err, en);
		if (r < 0)
			return r;
		snprintf(out[(*n)++], 48, "%s", k->default_region);
	}
	if (multi || *n == 0)
		for (int i = 0; i < k->cfg.kms_nregions && *n < CONFIG_MAX_REGIONS + 1; i++) {
			bool dup = false;
			/* a multi-Region key has no replica in another partition */
			if (u->arn_partition && strcmp(aws_partition_of_region(k->cfg.kms_regions[i]), u->arn_partition))
				continue;
			for (int j = 0; j < *n; j++)
				dup |= !strcmp(out[j], k->cfg.kms_regions[i]);
			if (!dup)
				snprintf(out[(*n)++], 48, "%s", k->cfg.kms_regions[i]);
		}
	return 0;
}

static int endpoint_for(struct kms_client *k, const char *region, char *buf, size_t n, char *err, size_t en)
{
	const char *e = NULL;
	const char *fips = env_nonempty("AWS_USE_FIPS_ENDPOINT");
	int r;

	for (int i = 0; i < k->cfg.kms_nregion_endpoints; i++)
		if (!strcmp(k->cfg.kms_region_endpoints[i].region, region))
			e = k->cfg.kms_region_endpoints[i].endpoint;
	if (!e)
		e = env_nonempty("AWS_ENDPOINT_URL_KMS");
	if (!e)
		e = env_nonempty("AWS_ENDPOINT_URL");
	if (!e && k->cfg.kms_endpoint[0])
		e = k->cfg.kms_endpoint;
	if (!e) {
		bool f = k->cfg.kms_fips || (fips && !strcasecmp(fips, "true"));
		r = aws_kms_endpoint(region, f, buf, n);
		if (r == -EOPNOTSUPP)
			snprintf(err, en, "AWS defines no KMS FIPS endpoint in region %s (partition %s)", region,
				 aws_partition_of_region(region));
		else if (r < 0)
			snprintf(err, en, "region %.60s is not an AWS region name", region);
		return r < 0 ? -EINVAL : 0;
	}
	r = url_check(e, URL_KMS, "KMS endpoint", err, en);
	if (r < 0)
		return r;
	snprintf(buf, n, "%s", e);
	return 0;
}

/* One easy handle per endpoint per client. The connections themselves (and
 * their TLS sessions) live in the process's share (kms_share.c) and outlive
 * the client; they hold nothing secret: volkey signs its requests itself
 * (sigv4.c), so libcurl never sees the AWS secret key. (An earlier shared pool
 * with libcurl's own signer kept the secret key in every pooled connection's
 * heap; the secret-hygiene test found it in a core dump.) */
static CURL *conn_for(struct kms_client *k, const char *endpoint)
{
	for (int i = 0; i < k->nconns; i++)
		if (!strcmp(k->conns[i].endpoint, endpoint))
			return k->conns[i].curl;
	if (k->nconns == MAX_CONNS)
		return NULL;
	k->conns[k->nconns].curl = curl_easy_init();
	if (!k->conns[k->nconns].curl)
		return NULL;
	snprintf(k->conns[k->nconns].endpoint, sizeof(k->conns[0].endpoint), "%s", endpoint);
	return k->conns[k->nconns++].curl;
}

/* ---- request bodies ---- */

static json_object *context_json(const struct binding *b)
{
	json_object *o = json_object_new_object();
	for (size_t i = 0; o && i < b->n; i++)
		json_object_object_add(o, b->pairs[i].key, json_object_new_string(b->pairs[i].value));
	return o;
}

static char *region_key_id(const struct key_uri *u, const char *region)
{
	char *s = key_uri_arn_for_region(u, region);
	return s ? s : strdup(u->key_id);
}

/* Builds the body in secret memory (it may carry a plaintext). */
static int build_body(const struct kms_request *q, const char *region, char **ret, size_t *ret_len)
{
	_cleanup_free_ char *kid = region_key_id(q->key, region), *dkid = NULL, *blob64 = NULL;
	_cleanup_secret_ char *pt64 = NULL;
	json_object *o = json_object_new_object();
	const char *s;
	size_t n, total;
	char *out;

	if (!o || !kid)
		return -ENOMEM;
	if (q->blob) {
		blob64 = b64_encode(q->blob, q->blob_len);
		if (!blob64)
			goto nomem;
		json_object_object_add(o, "CiphertextBlob", json_object_new_string(blob64));
	}
	switch (q->op) {
	case KMS_ENCRYPT:
		json_object_object_add(o, "KeyId", json_object_new_string(kid));
		json_object_object_add(o, "EncryptionContext", context_json(q->binding));
		pt64 = b64_encode_secret(q->plaintext, q->plaintext_len);
		if (!pt64)
			goto nomem;
		break;
	case KMS_GENERATE_DATA_KEY:
		json_object_object_add(o, "KeyId", json_object_new_string(kid));
		json_object_object_add(o, "NumberOfBytes", json_object_new_int(q->number_of_bytes));
		json_object_object_add(o, "EncryptionContext", context_json(q->binding));
		break;
	case KMS_DECRYPT:
		json_object_object_add(o, "KeyId", json_object_new_string(kid));
		json_object_object_add(o, "EncryptionContext", context_json(q->binding));
		break;
	case KMS_REENCRYPT:
		dkid = region_key_id(q->dest_key ? q->dest_key : q->key, region);
		if (!dkid)
			goto nomem;
		json_object_object_add(o, "SourceKeyId", json_object_new_string(kid));
		json_object_object_add(o, "SourceEncryptionContext", context_json(q->binding));
		json_object_object_add(o, "DestinationKeyId", json_object_new_string(dkid));
		json_object_object_add(o, "DestinationEncryptionContext", context_json(q->binding));
		break;
	case KMS_DESCRIBE_KEY:
		json_object_object_add(o, "KeyId", json_object_new_string(kid));
		break;
	}
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	n = strlen(s);
	total = n + (pt64 ? strlen(pt64) + 16 : 0) + 1;
	out = secret_alloc(total);
	if (!out)
		goto nomem;
	if (pt64) /* splice "Plaintext" in, so it exists only in secret memory */
		snprintf(out, total, "{\"Plaintext\":\"%s\"%s%s", pt64, n > 2 ? "," : "", s + 1);
	else
		memcpy(out, s, n + 1);
	json_object_put(o);
	*ret = out;
	*ret_len = strlen(out);
	return 0;
nomem:
	json_object_put(o);
	return -ENOMEM;
}

/* ---- errors ---- */

enum err_class { E_FATAL, E_RETRY, E_REFRESH_CREDS };

static enum err_class classify(const char *type, long status, int *ret_errno)
{
	static const struct {
		const char *type;
		int err;
		enum err_class cls;
	} t[] = {
		{ "ThrottlingException", -EAGAIN, E_RETRY },
		{ "Throttling", -EAGAIN, E_RETRY },
		{ "TooManyRequestsException", -EAGAIN, E_RETRY },
		{ "RequestLimitExceeded", -EAGAIN, E_RETRY },
		{ "LimitExceededException", -EAGAIN, E_RETRY },
		{ "KMSInternalException", -EAGAIN, E_RETRY },
		{ "KeyUnavailableException", -EAGAIN, E_RETRY },
		{ "DependencyTimeoutException", -ETIMEDOUT, E_RETRY },
		{ "ExpiredTokenException", -EKEYEXPIRED, E_REFRESH_CREDS },
		{ "AccessDeniedException", -EACCES, E_FATAL },
		{ "DisabledException", -EKEYREVOKED, E_FATAL },
		{ "KMSInvalidStateException", -EKEYREVOKED, E_FATAL },
		{ "NotFoundException", -ENOKEY, E_FATAL },
		{ "InvalidCiphertextException", -ENOKEY, E_FATAL },
		{ "IncorrectKeyException", -ENOKEY, E_FATAL },
		{ "InvalidKeyUsageException", -EINVAL, E_FATAL },
		{ "UnrecognizedClientException", -EKEYREJECTED, E_FATAL },
		{ "InvalidSignatureException", -EKEYREJECTED, E_FATAL },
		{ "IncompleteSignatureException", -EKEYREJECTED, E_FATAL },
		{ "MissingAuthenticationTokenException", -EKEYREJECTED, E_FATAL },
		{ "InvalidClientTokenId", -EKEYREJECTED, E_FATAL },
		{ "SignatureDoesNotMatch", -EKEYREJECTED, E_FATAL },
		{ "RequestExpired", -EKEYEXPIRED, E_FATAL },
		{ "ValidationException", -EINVAL, E_FATAL },
		{ "SerializationException", -EINVAL, E_FATAL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		if (!strcmp(type, t[i].type)) {
			*ret_errno = t[i].err;
			return t[i].cls;
		}
	if (status >= 500) {
		*ret_errno = -EAGAIN;
		return E_RETRY;
	}
	*ret_errno = -EPROTO;
	return E_FATAL;
}

static const char *plain_words(int err)
{
	switch (err) {
	case -EACCES:
		return "access denied";
	case -EKEYREVOKED:
		return "key not usable";
	case -ENOKEY:
		return "wrong volume binding or wrong key";
	case -EKEYREJECTED:
		return "credentials rejected";
	case -EKEYEXPIRED:
		return "request expired (is the clock right?)";
	case -EAGAIN:
		return "KMS busy or unavailable";
	case -EINVAL:
		return "request refused as invalid";
	default:
		return "KMS error";
	}
}

/* ---- the call ---- */

static bool unreachable(CURLcode cc, CURL *h)
{
	double connect = 0;

	if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_RESOLVE_PROXY)
		return true;
	/* a timeout before the TCP connection was made */
	curl_easy_getinfo(h, CURLINFO_CONNECT_TIME, &connect);
	return cc == CURLE_OPERATION_TIMEDOUT && connect == 0;
}

static bool tls_rejected(CURLcode cc)
{
	return cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE || cc == CURLE_SSL_CERTPROBLEM;
}

static long backoff_ms(const struct volkey_config *cfg, int attempt)
{
	unsigned int rnd = 0;
	long cap = cfg->kms_retry_base_ms << (attempt - 1 < 20 ? attempt - 1 : 20);

	if (cap > cfg->kms_retry_cap_ms)
		cap = cfg->kms_retry_cap_ms;
	if (!full_jitter)
		return cap;
	RAND_bytes((unsigned char *)&rnd, sizeof(rnd));
	return (long)((double)rnd / 4294967296.0 * (double)cap); /* full jitter */
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int ensure_creds(struct kctx *c, struct kms_client *k)
{
	char err[768];
	long t0;
	int r;

	if (aws_creds_fresh(&k->creds, time(NULL), CRED_REFRESH_MARGIN_S))
		return 0;
	if (k->creds.secret && k->creds.expires && k->creds.expires > time(NULL) + 5) {
		/* within the refresh margin but still valid: refresh, keep the old ones on failure */
		struct aws_creds n = { 0 };
		if (aws_creds_load(&k->cfg, &n, err, sizeof(err)) == 0) {
			aws_creds_clear(&k->creds);
			k->creds = n;
		}
		return 0;
	}
	aws_creds_clear(&k->creds);
	t0 = now_ms();
	r = aws_creds_load(&k->cfg, &k->creds, err, sizeof(err));
	if (r < 0)
		return kctx_fail(c, r, "%s", err);
	log_debug("AWS credentials from %s in %ld ms", k->creds.source, now_ms() - t0);
	return 0;
}

/* Keeps the answer's x-amzn-RequestId (the id AWS support and CloudTrail know the call by). */
static size_t header_cb(char *buf, size_t size, size_t n, void *userdata)
{
	static const char name[] = "x-amzn-requestid:";
	char *id = userdata;
	size_t len = size * n, i, j = 0;

	if (len > sizeof(name) - 1 && strncasecmp(buf, name, sizeof(name) - 1) == 0) {
		for (i = sizeof(name) - 1; i < len && (buf[i] == ' ' || buf[i] == '\t'); i++)
			;
		for (; i < len && j < 63 && buf[i] > ' ' && buf[i] < 0x7f; i++)
			id[j++] = buf[i];
		id[j] = '\0';
	}
	return len;
}

/* One debug line per request with where its time went (bench-agent's phases). */
static void log_timing(CURL *h, const struct kms_request *q, const char *endpoint)
{
	curl_off_t conn = 0, tls = 0, start = 0, total = 0;
	long fresh = 0;

	if (log_get_max_level() < LOG_DEBUG)
		return;
	curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &conn);
	curl_easy_getinfo(h, CURLINFO_APPCONNECT_TIME_T, &tls);
	curl_easy_getinfo(h, CURLINFO_PRETRANSFER_TIME_T, &start);
	curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &total);
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &fresh);
	log_debug("KMS %s %s: %s connection, tcp %.2f ms, tls %.2f ms, request and answer %.2f ms",
		  kms_op_name(q->op), endpoint, fresh ? "new" : "kept-alive", (double)conn / 1e3,
		  tls > conn ? (double)(tls - conn) / 1e3 : 0.0, (double)(total - start) / 1e3);
}

/* The Host header and path the request goes to, from the endpoint URL (parsed
 * by libcurl, as the transfer parses it): what SigV4 signs must be what is sent. */
static int host_and_path(const char *endpoint, char *host, size_t hn, char *path, size_t pn)
{
	_cleanup_(curl_url_cleanupp) CURLU *u = curl_url();
	_cleanup_(curl_freep) char *h = NULL, *port = NULL, *p = NULL, *q = NULL;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, endpoint, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK || curl_url_get(u, CURLUPART_PATH, &p, 0) != CURLUE_OK)
		return -EINVAL;
	if (curl_url_get(u, CURLUPART_QUERY, &q, 0) == CURLUE_OK && q && *q)
		return -EINVAL; /* a KMS endpoint has no query */
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK && port)
		snprintf(host, hn, "%s:%s", h, port);
	else
		snprintf(host, hn, "%s", h);
	snprintf(path, pn, "%s", p && *p ? p : "/");
	return 0;
}

static int perform(struct kctx *c, struct kms_client *k, CURL *h, const char *endpoint, const char *region,
		   const struct kms_request *q, const char *body, size_t body_len, long timeout_ms,
		   struct curl_buf *resp, long *status, CURLcode *cc, char *cerr, char *request_id)
{
	_cleanup_secret_ char *tokhdr = NULL;
	struct curl_slist *hdrs = NULL;
	char target[96], host[300], path[256], date[17], auth[512], hosthdr[320], datehdr[40], authhdr[540];
	char trust[300];
	struct sigv4_request sq = {
		.host = host, .path = path, .region = region, .service = "kms",
		.content_type = "application/x-amz-json-1.1", .target = target,
		.body = body, .body_len = body_len, .now = time(NULL),
	};
	bool shared, gated;
	int r;

	r = ensure_creds(c, k);
	if (r < 0)
		return r;
	r = kms_trust_check(&k->cfg, trust, sizeof(trust));
	if (r < 0)
		return kctx_fail(c, r, "%s", trust);
	r = host_and_path(endpoint, host, sizeof(host), path, sizeof(path));
	if (r < 0)
		return kctx_fail(c, r, "KMS endpoint %s cannot be signed for (a path that needs escaping, or a query)",
				 endpoint);
	snprintf(target, sizeof(target), "TrentService.%s", kms_op_name(q->op));
	sq.token = k->creds.token;
	r = sigv4_sign(&sq, k->creds.akid, k->creds.secret, date, auth, sizeof(auth));
	if (r < 0)
		return kctx_fail(c, r, "cannot sign the KMS %s request for %s", kms_op_name(q->op), endpoint);
	snprintf(hosthdr, sizeof(hosthdr), "Host: %s", host);
	snprintf(datehdr, sizeof(datehdr), "X-Amz-Date: %s", date);
	snprintf(authhdr, sizeof(authhdr), "Authorization: %s", auth);
	hdrs = curl_slist_append(hdrs, hosthdr);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/x-amz-json-1.1");
	hdrs = curl_slist_append(hdrs, datehdr);
	if (hdrs) {
		char t[120];
		snprintf(t, sizeof(t), "X-Amz-Target: %s", target);
		hdrs = curl_slist_append(hdrs, t);
	}
	hdrs = hdrs ? curl_slist_append(hdrs, authhdr) : NULL;
	if (hdrs && k->creds.token) {
		size_t n = strlen(k->creds.token) + 32;
		tokhdr = secret_alloc(n);
		if (!tokhdr) {
			curl_slist_free_all(hdrs);
			return -ENOMEM;
		}
		snprintf(tokhdr, n, "X-Amz-Security-Token: %s", k->creds.token);
		hdrs = curl_slist_append(hdrs, tokhdr);
	}
	if (!hdrs)
		return -ENOMEM;
	curl_easy_reset(h); /* keeps the live connection and TLS session */
	if (share_conns && kms_share())
		curl_easy_setopt(h, CURLOPT_SHARE, kms_share());
	curl_easy_setopt(h, CURLOPT_URL, endpoint);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)body_len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	/* CloudTrail records it (userAgent): an audit can tell volkey's calls apart */
	curl_easy_setopt(h, CURLOPT_USERAGENT, "volkey/" VOLKEY_VERSION);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, kms_share_ssl_ctx);
	curl_easy_setopt(h, CURLOPT_MAXCONNECTS, (long)KMS_SHARE_MAX_CONNECTS);
	log_debug("KMS %s trusts %s", endpoint, kms_trust_apply(h, &k->cfg, trust, sizeof(trust)));
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, k->cfg.kms_connect_timeout_ms < timeout_ms ?
							   k->cfg.kms_connect_timeout_ms : timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	cerr[0] = '\0';
	request_id[0] = '\0';
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, request_id);
	curl_buf_attach(h, resp, KMS_ANSWER_MAX);
	shared = share_conns && kms_share();
	gated = shared && kms_share_begin(endpoint);
	*cc = curl_easy_perform(h);
	if (shared)
		kms_share_end(endpoint, gated);
	*status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	log_timing(h, q, endpoint);
	/* curl keeps the option pointers: drop them before our buffers go away */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	secret_wipe(authhdr, sizeof(authhdr));
	secret_wipe(auth, sizeof(auth));
	return 0;
}

static const char *key_name(const struct kms_request *q)
{
	return q->key->key_id;
}

int kms_call(struct kctx *c, struct kms_client *k, const struct kms_request *q, struct kms_answer *ret)
{
	char regions[CONFIG_MAX_REGIONS + 1][48], err[768], endpoint[256];
	long deadline = now_ms() + k->cfg.kms_deadline_ms;
	int nregions = 0, r, last_r = -EHOSTUNREACH;
	char last_msg[1024] = "";

	r = region_list(k, q->key, regions, &nregions, err, sizeof(err));
	if (r < 0)
		return kctx_fail(c, r, "%s", err);

	for (int ri = 0; ri < nregions; ri++) {
		_cleanup_secret_ char *body = NULL;
		size_t body_len;
		bool refreshed = false;
		CURL *h;

		r = endpoint_for(k, regions[ri], endpoint, sizeof(endpoint), err, sizeof(err));
		if (r < 0)
			return kctx_fail(c, r, "%s", err);
		h = conn_for(k, endpoint);
		if (!h)
			return kctx_fail(c, -ENOMEM, "cannot create an HTTP handle");
		r = build_body(q, regions[ri], &body, &body_len);
		if (r < 0)
			return kctx_fail(c, r, "cannot build the %s request", kms_op_name(q->op));

		for (int attempt = 1; attempt <= k->cfg.kms_max_attempts; attempt++) {
			_cleanup_(curl_buf_freep) struct curl_buf *resp = NULL;
			char cerr[CURL_ERROR_SIZE], type[128] = "", msg[512] = "", rid[64] = "";
			long status = 0, left = deadline - now_ms();
			CURLcode cc = CURLE_OK;
			enum err_class cls;
			int e;

			if (left <= 0) {
				return kctx_fail(c, -ETIMEDOUT, "KMS %s for %s: deadline of %ld ms passed%s%s",
						 kms_op_name(q->op), key_name(q), k->cfg.kms_deadline_ms,
						 last_msg[0] ? "; last error: " : "", last_msg);
			}
			r = curl_buf_new(true, &resp);
			if (r < 0)
				return r;
			r = perform(c, k, h, endpoint, regions[ri], q, body, body_len,
				    left < k->cfg.kms_timeout_ms ? left : k->cfg.kms_timeout_ms, resp, &status, &cc, cerr, rid);
			if (r < 0)
				return r;
			if (cc != CURLE_OK)
				kms_stats_count(q->op, tls_rejected(cc) ? "tls" : resp->overflow ? "malformed" : "unreachable");
			if (cc != CURLE_OK) {
				if (tls_rejected(cc))
					return kctx_fail(c, -EKEYREJECTED, "TLS certificate of %s not trusted: %s", endpoint,
							 cerr[0] ? cerr : curl_easy_strerror(cc));
				if (resp->overflow)
					return kctx_fail(c, -EBADMSG, "KMS %s answer from %s is larger than %d bytes",
							 kms_op_name(q->op), endpoint, KMS_ANSWER_MAX);
				last_r = curl_code_to_errno(cc);
				snprintf(last_msg, sizeof(last_msg), "cannot reach KMS at %s (%s): %s", endpoint, regions[ri],
					 cerr[0] ? cerr : curl_easy_strerror(cc));
				log_debug("%s", last_msg);
				if (unreachable(cc, h))
					break; /* fast failover to the next region */
				goto retry;
			}
			if (status == 200) {
				struct key_info *info = kctx_last_info(c);
				r = resp->data ? kms_parse_answer(q->op, resp->data, resp->len, ret) : -EBADMSG;
				kms_stats_count(q->op, r < 0 ? "malformed" : NULL);
				if (!resp->data)
					return kctx_fail(c, -EBADMSG, "empty KMS %s answer from %s", kms_op_name(q->op), endpoint);
				if (r < 0)
					return kctx_fail(c, r, "malformed KMS %s answer from %s", kms_op_name(q->op), endpoint);
				snprintf(info->region, sizeof(info->region), "%s", regions[ri]);
				snprintf(info->cred_source, sizeof(info->cred_source), "%s", k->creds.source);
				snprintf(info->key_ref, sizeof(info->key_ref), "%s", ret->key_id);
				snprintf(info->request_id, sizeof(info->request_id), "%s", rid);
				return 0;
			}
			if (!resp->data || kms_parse_error(resp->data, resp->len, type, sizeof(type), msg, sizeof(msg)) < 0) {
				snprintf(type, sizeof(type), "HTTP%ld", status);
				snprintf(msg, sizeof(msg), "unparseable error answer");
			}
			kms_stats_count(q->op, type);
			cls = classify(type, status, &e);
			snprintf(last_msg, sizeof(last_msg), "%s: %s: %s (key %s, region %s, credentials from %s%s%s)",
				 plain_words(e), type, msg, key_name(q), regions[ri], k->creds.source,
				 rid[0] ? ", request id " : "", rid);
			last_r = e;
			if (cls == E_FATAL)
				return kctx_fail(c, e, "KMS %s failed: %s", kms_op_name(q->op), last_msg);
			if (cls == E_REFRESH_CREDS) {
				if (refreshed)
					return kctx_fail(c, e, "KMS %s failed: %s", kms_op_name(q->op), last_msg);
				refreshed = true;
				aws_creds_clear(&k->creds);
				aws_creds_forget();
				attempt--; /* a credential refresh is not a retry */
				continue;
			}
retry:
			if (attempt < k->cfg.kms_max_attempts) {
				long d = backoff_ms(&k->cfg, attempt);
				if (now_ms() + d + MIN_ATTEMPT_MS > deadline)
					break;
				log_debug("KMS %s attempt %d failed (%s); retrying in %ld ms", kms_op_name(q->op), attempt,
					  last_msg, d);
				sleep_ms(d);
			}
		}
	}
	return kctx_fail(c, last_r, "KMS %s for %s failed in every region tried: %s", kms_op_name(q->op), key_name(q),
			 last_msg[0] ? last_msg : "no attempt made");
}
