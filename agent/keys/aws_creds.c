// SPDX-License-Identifier: LGPL-2.1-or-later
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <curl/curl.h>

#include "base/curlutil.h"
#include "base/json_secret.h"
#include "base/macro.h"
#include "base/secret.h"
#include "base/urlcheck.h"
#include "keys/aws_creds.h"
#include "keys/imds.h"

/* ---- 1. environment ---- */

static struct {
	bool done;
	bool keep; /* a library in another program's process: copy, do not scrub */
	char akid[128];
	char *secret, *token;
} env_creds;

static char *take_env_secret(const char *name)
{
	char *v = getenv(name), *s;
	size_t n;

	if (!v || !*v)
		return NULL;
	n = strlen(v);
	s = secret_dup(v, n + 1);
	if (!env_creds.keep) {
		secret_wipe(v, n); /* the process environment keeps no copy */
		unsetenv(name);
	}
	return s;
}

void aws_env_capture_keep(void)
{
	env_creds.keep = true;
	aws_env_capture();
}

void aws_env_capture(void)
{
	const char *k;

	if (env_creds.done)
		return;
	env_creds.done = true;
	k = getenv("AWS_ACCESS_KEY_ID");
	if (k)
		snprintf(env_creds.akid, sizeof(env_creds.akid), "%s", k);
	env_creds.secret = take_env_secret("AWS_SECRET_ACCESS_KEY");
	env_creds.token = take_env_secret("AWS_SESSION_TOKEN");
}

static int from_env(struct aws_creds *c)
{
	aws_env_capture();
	if (!env_creds.akid[0] || !env_creds.secret)
		return -ENOENT;
	snprintf(c->akid, sizeof(c->akid), "%s", env_creds.akid);
	c->secret = secret_dup(env_creds.secret, strlen(env_creds.secret) + 1);
	if (env_creds.token)
		c->token = secret_dup(env_creds.token, strlen(env_creds.token) + 1);
	if (!c->secret || (env_creds.token && !c->token))
		return -ENOMEM;
	snprintf(c->source, sizeof(c->source), "environment");
	return 0;
}

/* ---- 2. shared files ---- */

struct ini_state {
	const char *want_section; /* "default" / "profile NAME" / "NAME" */
	struct aws_creds *c;
	char region[48];
	bool region_only;
};

static int ini_cb(void *user, const char *section, const char *name, const char *value)
{
	struct ini_state *s = user;

	if (strcmp(section, s->want_section) != 0)
		return 1;
	if (!strcmp(name, "region"))
		snprintf(s->region, sizeof(s->region), "%s", value);
	if (s->region_only)
		return 1;
	if (!strcmp(name, "aws_access_key_id"))
		snprintf(s->c->akid, sizeof(s->c->akid), "%s", value);
	else if (!strcmp(name, "aws_secret_access_key")) {
		secret_free(s->c->secret);
		s->c->secret = secret_dup(value, strlen(value) + 1);
	} else if (!strcmp(name, "aws_session_token")) {
		secret_free(s->c->token);
		s->c->token = secret_dup(value, strlen(value) + 1);
	}
	return 1;
}

static const char *profile_name(const struct volkey_config *cfg)
{
	const char *p = getenv("AWS_PROFILE");
	if (p && *p)
		return p;
	if (cfg->aws_profile[0])
		return cfg->aws_profile;
	return "default";
}

static int file_path(const char *env, const char *leaf, char *buf, size_t n)
{
	const char *e = getenv(env), *home = getenv("HOME");
	if (e && *e) {
		snprintf(buf, n, "%s", e);
		return 0;
	}
	if (!home)
		return -ENOENT;
	snprintf(buf, n, "%s/.aws/%s", home, leaf);
	return 0;
}

/* The shared files hold the secret access key: they are read whole into secret
 * memory and parsed in place, so no stdio buffer and no parser line buffer (heap
 * or stack) ever holds it. The dialect is what the AWS files use and inih read:
 * [section]; name = value or name: value; comment lines starting with ; or #,
 * and " ;" comments after a value; surrounding blanks removed. A line indented
 * under a name continues it (the AWS CLI's nested values, as in "s3 =") and is
 * skipped here. */
#define SHARED_FILE_MAX (256 * 1024)

static bool blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v';
}

static char *strip(char *b, char *e)
{
	while (b < e && blank(*b))
		b++;
	while (e > b && blank(e[-1]))
		e--;
	*e = '\0';
	return b;
}

/* Parses buf (NUL-terminated, modified) calling ini_cb; 0, or the first bad line's number. */
static int ini_parse_secret(char *buf, struct ini_state *st)
{
	char *line = buf, section[160] = "";
	bool after_name = false;
	int n = 0, bad = 0;

	if ((unsigned char)line[0] == 0xef && (unsigned char)line[1] == 0xbb && (unsigned char)line[2] == 0xbf)
		line += 3; /* UTF-8 BOM */
	while (*line) {
		char *end = strchr(line, '\n'), *next = end ? end + 1 : line + strlen(line), *b, *eq;
		bool indented = blank(*line);

		if (!end)
			end = next;
		n++;
		b = strip(line, end);
		line = next;
		if (!*b || *b == ';' || *b == '#')
			continue;
		if (indented && after_name)
			continue;
		after_name = false;
		if (*b == '[') {
			char *close = strchr(b, ']');
			if (!close) {
				bad = bad ? bad : n;
				continue;
			}
			*close = '\0';
			snprintf(section, sizeof(section), "%s", b + 1);
			continue;
		}
		eq = strpbrk(b, "=:");
		if (!eq || eq == b) {
			bad = bad ? bad : n;
			continue;
		}
		for (char *v = eq + 1; *v; v++)
			if (*v == ';' && blank(v[-1])) {
				*v = '\0';
				break;
			}
		*eq = '\0';
		after_name = true;
		ini_cb(st, section, strip(b, eq), strip(eq + 1, eq + 1 + strlen(eq + 1)));
	}
	return bad;
}

/* The file fd (of sb's size, as fstat found it) in secret memory, NUL-terminated. */
static int read_secret_file(int fd, const struct stat *sb, char **ret)
{
	_cleanup_secret_ char *buf = NULL;
	size_t len = 0, want = (size_t)sb->st_size;

	buf = secret_alloc(want + 1);
	if (!buf)
		return -ENOMEM;
	while (len < want) {
		ssize_t k = read(fd, buf + len, want - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return negative_errno();
		if (k == 0)
			break;
		len += (size_t)k;
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	return 0;
}

static int parse_shared(const char *path, const char *section, struct ini_state *st, char *err, size_t err_n)
{
	_cleanup_close_ int fd = -1;
	_cleanup_secret_ char *buf = NULL;
	struct stat sb;
	int r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : negative_errno();
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))
		return -ENOENT; /* /dev/null and friends: no credentials there */
	if (!st->region_only && (sb.st_mode & 077)) {
		snprintf(err, err_n, "credentials file %s has mode %04o: must not be readable by group or others", path,
			 (unsigned)(sb.st_mode & 07777));
		return -EPERM;
	}
	if (sb.st_size > SHARED_FILE_MAX) {
		snprintf(err, err_n, "%s holds %lld bytes: more than the %d read from an AWS shared file", path,
			 (long long)sb.st_size, SHARED_FILE_MAX);
		return -EFBIG;
	}
	r = read_secret_file(fd, &sb, &buf);
	if (r < 0) {
		snprintf(err, err_n, "%s: %s", path, strerror(-r));
		return r;
	}
	st->want_section = section;
	r = ini_parse_secret(buf, st);
	if (r != 0) {
		snprintf(err, err_n, "%s: syntax error on line %d", path, r);
		return -EINVAL;
	}
	return 0;
}

static int from_shared(const struct volkey_config *cfg, struct aws_creds *c, char *err, size_t err_n)
{
	char path[512], section[160];
	const char *prof = profile_name(cfg);
	struct ini_state st = { .c = c };
	int r;

	if (file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials", path, sizeof(path)) == 0) {
		r = parse_shared(path, prof, &st, err, err_n);
		if (r < 0 && r != -ENOENT)
			return r;
		if (c->akid[0] && c->secret) {
			snprintf(c->source, sizeof(c->source), "profile %s (%s)", prof, path);
			return 0;
		}
	}
	if (file_path("AWS_CONFIG_FILE", "config", path, sizeof(path)) == 0) {
		if (strcmp(prof, "default") == 0)
			snprintf(section, sizeof(section), "default");
		else
			snprintf(section, sizeof(section), "profile %s", prof);
		r = parse_shared(path, section, &st, err, err_n);
		if (r < 0 && r != -ENOENT)
			return r;
		if (c->akid[0] && c->secret) {
			snprintf(c->source, sizeof(c->source), "profile %s (%s)", prof, path);
			return 0;
		}
	}
	aws_creds_clear(c);
	return -ENOENT;
}

int aws_profile_region(const struct volkey_config *cfg, char *buf, size_t n)
{
	char path[512], section[160], err[256];
	const char *prof = profile_name(cfg);
	struct ini_state st = { .region_only = true };

	if (file_path("AWS_CONFIG_FILE", "config", path, sizeof(path)) < 0)
		return -ENOENT;
	if (strcmp(prof, "default") == 0)
		snprintf(section, sizeof(section), "default");
	else
		snprintf(section, sizeof(section), "profile %s", prof);
	if (parse_shared(path, section, &st, err, sizeof(err)) < 0 || !st.region[0])
		return -ENOENT;
	snprintf(buf, n, "%s", st.region);
	return 0;
}

/* ---- 3 and 4: JSON credentials from the container agent or IMDS ---- */

static time_t parse_expiration(const char *s)
{
	struct tm tm = { 0 };
	char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);

	if (!end)
		return 0;
	return timegm(&tm);
}

/* {AccessKeyId, SecretAccessKey, Token, Expiration}; body (secret memory) is blanked. */
static int parse_json_creds(char *body, size_t len, struct aws_creds *c)
{
	char *akid = NULL, *exp = NULL;
	int r;

	r = json_take_secret_string(body, len, "SecretAccessKey", &c->secret);
	if (r < 0)
		return -EBADMSG;
	r = json_take_secret_string(body, len, "Token", &c->token);
	if (r < 0 && r != -ENOENT)
		return -EBADMSG;
	r = json_take_secret_string(body, len, "AccessKeyId", &akid);
	if (r < 0)
		return -EBADMSG;
	snprintf(c->akid, sizeof(c->akid), "%s", akid);
	secret_free(akid);
	if (json_take_secret_string(body, len, "Expiration", &exp) == 0) {
		c->expires = parse_expiration(exp);
		secret_free(exp);
	}
	return 0;
}

static int from_container(const struct volkey_config *cfg, struct aws_creds *c, char *err, size_t err_n)
{
	const char *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *tok = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	const char *tokf = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	_cleanup_(curl_buf_freep) struct curl_buf *body = NULL;
	_cleanup_secret_ char *hdr = NULL;
	struct curl_slist *h = NULL;
	char url[1024];
	long status = 0;
	CURL *curl;
	CURLcode cc;
	int r;

	if (rel && *rel)
		snprintf(url, sizeof(url), "http://169.254.170.2%s", rel);
	else if (full && *full)
		snprintf(url, sizeof(url), "%s", full);
	else
		return -ENOENT;
	r = url_check(url, URL_CONTAINER, "container credentials URI", err, err_n);
	if (r < 0)
		return r;
	hdr = secret_alloc(4096);
	if (!hdr)
		return -ENOMEM;
	if (tokf && *tokf) {
		int fd = open(tokf, O_RDONLY | O_CLOEXEC);
		ssize_t k;
		if (fd < 0)
			return negative_errno();
		strcpy(hdr, "Authorization: ");
		k = read(fd, hdr + 15, 4096 - 16);
		close(fd);
		if (k <= 0)
			return -EIO;
		hdr[15 + k] = '\0';
		hdr[strcspn(hdr, "\r\n")] = '\0';
	} else if (tok && *tok) {
		snprintf(hdr, 4096, "Authorization: %s", tok);
	}
	if (hdr[0] && !(h = curl_slist_append(NULL, hdr)))
		return -ENOMEM;
	r = curl_buf_new(true, &body);
	if (r < 0)
		goto out;
	curl = curl_easy_init();
	if (!curl) {
		r = errno == ELIBACC ? -ELIBACC : -ENOMEM; /* libcurl could not be loaded (base/dlib.h) */
		goto out;
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, cfg->imds_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 2 * cfg->imds_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_buf_attach(curl, body, 16384);
	cc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(curl);
	if (cc != CURLE_OK) {
		snprintf(err, err_n, "container credentials at %s: %s", url, curl_easy_strerror(cc));
		r = curl_code_to_errno(cc);
		goto out;
	}
	if (status != 200 || !body->data) {
		snprintf(err, err_n, "container credentials at %s: HTTP %ld", url, status);
		r = status == 401 || status == 403 ? -EACCES : -EPROTO;
		goto out;
	}
	r = parse_json_creds(body->data, body->len, c);
	if (r < 0) {
		snprintf(err, err_n, "container credentials at %s: malformed answer", url);
		goto out;
	}
	snprintf(c->source, sizeof(c->source), "container");
out:
	curl_slist_free_all(h);
	return r;
}

static int from_imds(const struct volkey_config *cfg, struct aws_creds *c, char *err, size_t err_n)
{
	_cleanup_(imds_freep) struct imds *m = NULL;
	_cleanup_free_ char *role = NULL;
	char path[256];
	char *body = NULL;
	int r;

	if (imds_disabled_by_env())
		return -ENOENT;
	r = imds_new(cfg->imds_endpoint[0] ? cfg->imds_endpoint : NULL, cfg->imds_timeout_ms, &m);
	if (r < 0)
		return r;
	r = imds_get(m, "meta-data/iam/security-credentials/", &role);
	if (r == -ENOENT) {
		snprintf(err, err_n, "the instance has no IAM role (IMDS at %s)", imds_endpoint(m));
		return -ENOENT;
	}
	if (r < 0) {
		snprintf(err, err_n, "instance role through IMDS at %s: %s", imds_endpoint(m), strerror(-r));
		return r;
	}
	role[strcspn(role, "\r\n")] = '\0';
	if (!role[0] || strchr(role, '/')) {
		snprintf(err, err_n, "IMDS returned an unusable role name");
		return -EBADMSG;
	}
	snprintf(path, sizeof(path), "meta-data/iam/security-credentials/%s", role);
	r = imds_get_secret(m, path, &body);
	if (r < 0) {
		snprintf(err, err_n, "credentials of role %s from IMDS: %s", role, strerror(-r));
		return r;
	}
	r = parse_json_creds(body, strlen(body), c);
	secret_free(body);
	if (r < 0) {
		snprintf(err, err_n, "credentials of role %s from IMDS: malformed answer", role);
		return r;
	}
	snprintf(c->source, sizeof(c->source), "imds role %s", role);
	return 0;
}

/* Credentials fetched over the network (container, IMDS role) are shared by every
 * context in the process: the agent unlocking eight devices at boot asks IMDS once,
 * not eight times. A copy is handed out while it stays fresh; a KMS answer saying
 * the token expired drops it (aws_creds_forget). */
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct aws_creds cache;

static int creds_copy(const struct aws_creds *from, struct aws_creds *to)
{
	struct aws_creds c = *from;

	c.secret = secret_dup(from->secret, strlen(from->secret) + 1);
	c.token = from->token ? secret_dup(from->token, strlen(from->token) + 1) : NULL;
	if (!c.secret || (from->token && !c.token)) {
		aws_creds_clear(&c);
		return -ENOMEM;
	}
	*to = c;
	return 0;
}

void aws_creds_forget(void)
{
	pthread_mutex_lock(&cache_mu);
	aws_creds_clear(&cache);
	pthread_mutex_unlock(&cache_mu);
}

/* Container or IMDS credentials, through the cache. Serialized: concurrent callers
 * wait for the one fetch instead of each making their own. */
static int from_network(const struct volkey_config *cfg, struct aws_creds *c, char *err, size_t err_n)
{
	int r;

	pthread_mutex_lock(&cache_mu);
	if (aws_creds_fresh(&cache, time(NULL), 600)) {
		r = creds_copy(&cache, c);
		pthread_mutex_unlock(&cache_mu);
		return r;
	}
	aws_creds_clear(&cache);
	r = from_container(cfg, c, err, err_n);
	if (r == -ENOENT)
		r = from_imds(cfg, c, err, err_n);
	if (r == 0 && creds_copy(c, &cache) < 0)
		aws_creds_clear(&cache);
	pthread_mutex_unlock(&cache_mu);
	return r;
}

int aws_creds_load(const struct volkey_config *cfg, struct aws_creds *ret, char *err, size_t err_n)
{
	struct aws_creds c = { 0 };
	bool web_identity = getenv("AWS_WEB_IDENTITY_TOKEN_FILE") != NULL;
	int r;

	err[0] = '\0';
	r = from_env(&c);
	if (r == -ENOENT)
		r = from_shared(cfg, &c, err, err_n);
	if (r == -ENOENT)
		r = from_network(cfg, &c, err, err_n);
	if (r < 0) {
		aws_creds_clear(&c);
		if (r == -ENOENT) {
			snprintf(err + strlen(err), err_n - strlen(err), "%sno AWS credentials found (environment, "
				 "shared files, container, instance role)%s", err[0] ? "; " : "",
				 web_identity ? "; web identity (AWS_WEB_IDENTITY_TOKEN_FILE) is not supported" : "");
			return -ENOKEY;
		}
		return r;
	}
	*ret = c;
	return 0;
}

void aws_creds_clear(struct aws_creds *c)
{
	secret_free(c->secret);
	secret_free(c->token);
	memset(c, 0, sizeof(*c));
}

bool aws_creds_fresh(const struct aws_creds *c, time_t now, long margin)
{
	if (!c->secret)
		return false;
	return c->expires == 0 || c->expires - now > margin;
}

int aws_creds_parse_json(char *body, size_t len, struct aws_creds *c)
{
	return parse_json_creds(body, len, c);
}
