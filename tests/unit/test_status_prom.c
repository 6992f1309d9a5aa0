// SPDX-License-Identifier: GPL-2.0-or-later
/* The status document as Prometheus metrics: label values escaped whatever a
 * disk put in them, one state of the fixed set at 1, KMS counters from the
 * agent's record, and the textfile replaced atomically (never through a
 * symlink at the temp name; nothing written when the directory is missing). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/macro.h"
#include "conf/config.h"
#include "volume/status_doc.h"
#include "volume/status_prom.h"
#include "unit.h"

static char *render(struct json_object *doc)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	if (!f)
		return NULL;
	status_prom_write(doc, f);
	fclose(f);
	return buf;
}

/* A volume as volume_status_json() gives it, with a hostile key URI. */
static struct json_object *volume(const char *device, bool mapped)
{
	const char *tmpl =
		"{\"device\":\"%s\",\"luks_uuid\":\"11111111-2222-3333-4444-555555555555\",\"format\":\"complete\","
		"\"cipher\":\"aes-xts-plain64\",\"mapped\":%s,\"secret_age_days\":400.5,\"wrap_age_days\":10,"
		"\"volume_key_age_days\":400.5,\"oldest_secret_created\":\"2025-10-31T12:00:00Z\","
		"\"tokens\":[{\"id\":3,\"type\":\"volkey\",\"backend\":\"aws-kms\","
		"\"key_uri\":\"aws-kms:alias/x\\\"} 1\\nfake_metric 9\\\\\",\"key_arn\":null,"
		"\"created\":\"2025-10-31T12:00:00Z\",\"rewrapped\":\"2026-11-25T00:00:00Z\"}]}";
	char text[1024];

	snprintf(text, sizeof(text), tmpl, device, mapped ? "true" : "false");
	return json_tokener_parse(text);
}

TEST(labels_escaped_and_states)
{
	struct volkey_config cfg;
	struct json_object *vols = json_object_new_array(), *agent, *doc;
	_cleanup_free_ char *out = NULL;

	config_defaults(&cfg);
	json_object_array_add(vols, volume("/dev/nvme1n1", true));
	json_object_array_add(vols, volume("/dev/nvme2n1", false));
	/* a disk with a copied LUKS UUID: its own record, not nvme2n1's failure */
	json_object_array_add(vols, volume("/dev/nvme3n1", false));
	agent = json_tokener_parse(
		"{\"agent\":{\"pid\":1,\"ready\":true,\"kms\":{\"Decrypt\":{\"requests\":7,\"errors\":"
		"{\"ThrottlingException\":2}}}},\"devices\":[{\"device\":\"/dev/nvme2n1\",\"state\":\"failed\","
		"\"transient\":true,\"detail\":\"KMS unreachable\",\"seconds\":1.5,\"at\":\"2026-12-05T00:00:00Z\","
		"\"luks_uuid\":\"11111111-2222-3333-4444-555555555555\"},"
		"{\"device\":\"/dev/nvme3n1\",\"state\":\"untouched\",\"luks_uuid\":\"11111111-2222-3333-4444-555555555555\"}]}");
	CHECK(agent != NULL);
	doc = status_doc_new(vols, agent, &cfg);
	out = render(doc);
	CHECK(out != NULL);
	/* the key URI's quote, newline and backslash stay inside the label */
	CHECK(strstr(out, "key=\"aws-kms:alias/x\\\"} 1\\nfake_metric 9\\\\\"} 1\n") != NULL);
	CHECK(strstr(out, "\nfake_metric") == NULL);
	/* secret 400 days old against the default 365: due, and the mapped one is not "open" */
	CHECK(strstr(out, "volkey_volume_state{device=\"/dev/nvme1n1\",luks_uuid=\"11111111-2222-3333-4444-555555555555\","
			  "state=\"rotation-due\"} 1\n") != NULL);
	CHECK(strstr(out, "volkey_volume_rotation_due{device=\"/dev/nvme1n1\",luks_uuid=\"11111111-2222-3333-4444-555555555555\","
			  "kind=\"secret\"} 1\n") != NULL);
	/* the agent's transient failure of the locked one wins over rotation */
	CHECK(strstr(out, "volkey_volume_state{device=\"/dev/nvme2n1\",luks_uuid=\"11111111-2222-3333-4444-555555555555\","
			  "state=\"key-unreachable\"} 1\n") != NULL);
	CHECK(strstr(out, "volkey_volume_state{device=\"/dev/nvme3n1\",luks_uuid=\"11111111-2222-3333-4444-555555555555\","
			  "state=\"rotation-due\"} 1\n") != NULL);
	CHECK(strstr(out, "volkey_unlock_success{device=\"/dev/nvme3n1\"") == NULL);
	CHECK(strstr(out, "volkey_unlock_success{device=\"/dev/nvme2n1\",luks_uuid=\"11111111-2222-3333-4444-555555555555\"} 0\n") != NULL);
	CHECK(strstr(out, "volkey_unlock_duration_seconds{device=\"/dev/nvme2n1\",luks_uuid=\"11111111-2222-3333-4444-555555555555\"} 1.5\n") != NULL);
	/* 2025-10-31T12:00:00Z and the rewrap as Unix time */
	CHECK(strstr(out, ",token=\"3\"} 1761912000\n") != NULL);
	CHECK(strstr(out, "volkey_secret_wrapped_timestamp_seconds{device=\"/dev/nvme1n1\",luks_uuid="
			  "\"11111111-2222-3333-4444-555555555555\",token=\"3\"} 1795564800\n") != NULL);
	CHECK(strstr(out, "volkey_kms_requests_total{operation=\"Decrypt\"} 7\n") != NULL);
	CHECK(strstr(out, "volkey_kms_errors_total{operation=\"Decrypt\",error=\"ThrottlingException\"} 2\n") != NULL);
	/* pid 1 is not volkeyd */
	CHECK(strstr(out, "volkey_agent_up 0\n") != NULL);
	CHECK(strstr(out, "volkey_agent_ready 1\n") != NULL);
	json_object_put(doc);
	json_object_put(agent);
}

TEST(textfile_atomic)
{
	char dir[] = "/tmp/volkey-prom-XXXXXX", path[128], tmp[160], victim[160], missing[160];
	struct volkey_config cfg;
	struct json_object *doc;
	_cleanup_free_ char *v = NULL, *text = NULL;
	struct stat st;
	int fd;

	config_defaults(&cfg);
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/volkey.prom", dir);
	snprintf(tmp, sizeof(tmp), "%s/.volkey.prom.tmp", dir);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	snprintf(missing, sizeof(missing), "%s/none/volkey.prom", dir);
	fd = open(victim, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, "precious\n", 9) == 9);
	close(fd);
	CHECK(symlink(victim, tmp) == 0);
	doc = status_doc_new(json_object_new_array(), NULL, &cfg);
	umask(077);
	CHECK_EQ_INT(status_prom_write_file(doc, path), 0);
	CHECK_EQ_INT(read_small_file(NULL, victim, 4096, &v), 0);
	CHECK_STREQ(v, "precious\n");
	CHECK(stat(path, &st) == 0);
	CHECK_EQ_INT(st.st_mode & 07777, 0644);
	CHECK_EQ_INT(read_small_file(NULL, path, 1 << 16, &text), 0);
	CHECK(strstr(text, "volkey_agent_up 0\n") != NULL);
	CHECK(access(tmp, F_OK) < 0);
	CHECK_EQ_INT(status_prom_write_file(doc, missing), -ENOENT);
	json_object_put(doc);
	unlink(path);
	unlink(victim);
	rmdir(dir);
}
