// SPDX-License-Identifier: GPL-2.0-or-later
/* Who owns a volume and what volkeyd does after boot: /etc/crypttab lookups
 * (crypttab_lookup), systemd unit names of mount points (as systemd-escape
 * --path makes them), and the background retry's error classes, bounds and
 * limit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/curlutil.h"
#include "conf/crypttab.h"
#include "host/sdmanager.h"
#include "unit.h"
#include "volkeyd/retry.h"

static char dir[] = "/tmp/volkey-owners-XXXXXX";

static const char *write_tab(const char *text)
{
	static char path[128];
	FILE *f;

	if (!dir[strlen(dir) - 1] || dir[strlen(dir) - 1] == 'X')
		CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/crypttab", dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	fputs(text, f);
	fclose(f);
	return path;
}

TEST(crypttab_by_luks_uuid)
{
	const char *t = write_tab("# name source key options\n\n"
				  "data  UUID=0B2F7D1E-1111-4222-8333-444455556666 none luks,_netdev\n"
				  "other /dev/disk/by-uuid/aaaaaaaa-1111-4222-8333-444455556666 none luks\n");
	struct crypttab_entry e = { "", 0 };

	CHECK_EQ_INT(crypttab_lookup(t, "/dev/nonexistent", "0b2f7d1e-1111-4222-8333-444455556666", &e), 1);
	CHECK_STREQ(e.name, "data");
	CHECK_EQ_INT(e.line, 3);
	CHECK_EQ_INT(crypttab_lookup(t, "/dev/nonexistent", "aaaaaaaa-1111-4222-8333-444455556666", &e), 1);
	CHECK_STREQ(e.name, "other");
	CHECK_EQ_INT(crypttab_lookup(t, "/dev/nonexistent", "bbbbbbbb-1111-4222-8333-444455556666", &e), 0);
	/* a device with no LUKS UUID is never matched by UUID= */
	CHECK_EQ_INT(crypttab_lookup(t, "/dev/nonexistent", "", &e), 0);
}

TEST(crypttab_by_device_path)
{
	char a[160], b[160], c[160], tab[512];
	struct crypttab_entry e = { "", 0 };
	const char *t;

	if (geteuid() != 0)
		return; /* mknod needs root (make check runs as root) */
	write_tab("");
	snprintf(a, sizeof(a), "%s/disk-a", dir);
	snprintf(b, sizeof(b), "%s/same-as-a", dir);
	snprintf(c, sizeof(c), "%s/disk-c", dir);
	/* two nodes of one block device, one of another: matched by device number */
	CHECK(mknod(a, S_IFBLK | 0600, makedev(7, 200)) == 0);
	CHECK(mknod(b, S_IFBLK | 0600, makedev(7, 200)) == 0);
	CHECK(mknod(c, S_IFBLK | 0600, makedev(7, 201)) == 0);
	snprintf(tab, sizeof(tab), "#%s none\nvk %s none luks,_netdev\n", c, b);
	t = write_tab(tab);
	CHECK_EQ_INT(crypttab_lookup(t, a, "", &e), 1);
	CHECK_STREQ(e.name, "vk");
	CHECK_EQ_INT(e.line, 2);
	/* the commented line does not count */
	CHECK_EQ_INT(crypttab_lookup(t, c, "", &e), 0);
	unlink(a);
	unlink(b);
	unlink(c);
}

TEST(crypttab_missing_or_unreadable)
{
	struct crypttab_entry e;
	char p[160];

	CHECK_EQ_INT(crypttab_lookup("/nonexistent/crypttab", "/dev/x", "u", &e), 0);
	write_tab("");
	snprintf(p, sizeof(p), "%s", dir);
	/* a directory where the file should be cannot be read as one */
	CHECK(crypttab_lookup(p, "/dev/x", "u", &e) < 0);
}

static void unit_is(const char *path, const char *want)
{
	char buf[256];

	CHECK_EQ_INT(unit_name_from_path(path, ".mount", buf, sizeof(buf)), 0);
	CHECK_STREQ(buf, want);
}

TEST(mount_unit_names_as_systemd_escape)
{
	/* expected values are systemd-escape --path's (systemd 252) */
	unit_is("/srv/my data", "srv-my\\x20data.mount");
	unit_is("/mnt/a-b", "mnt-a\\x2db.mount");
	unit_is("/", "-.mount");
	unit_is("//srv//x/", "srv-x.mount");
	unit_is("/.hidden", "\\x2ehidden.mount");
	unit_is("/a/.b", "a-.b.mount");
	unit_is("/mnt/\xc3\xa9", "mnt-\\xc3\\xa9.mount");
	unit_is("/mnt/volkey/vol-0123", "mnt-volkey-vol\\x2d0123.mount");
}

TEST(mount_unit_names_refused)
{
	char buf[16];

	CHECK_EQ_INT(unit_name_from_path("srv/x", ".mount", buf, sizeof(buf)), -EINVAL);
	CHECK_EQ_INT(unit_name_from_path("/srv/../etc", ".mount", buf, sizeof(buf)), -EINVAL);
	CHECK_EQ_INT(unit_name_from_path("/srv/./x", ".mount", buf, sizeof(buf)), -EINVAL);
	CHECK_EQ_INT(unit_name_from_path("/a-very-long-mount-point", ".mount", buf, sizeof(buf)), -ENAMETOOLONG);
}

TEST(retry_only_what_can_heal)
{
	CHECK(retry_transient(-ETIMEDOUT));
	CHECK(retry_transient(-ECONNREFUSED));
	CHECK(retry_transient(-EHOSTUNREACH));
	CHECK(retry_transient(-ECONNRESET));
	CHECK(retry_transient(-EAGAIN)); /* throttled, 5xx */
	CHECK(!retry_transient(-EACCES)); /* AccessDeniedException */
	CHECK(!retry_transient(-EKEYREVOKED)); /* disabled key */
	CHECK(!retry_transient(-ENOKEY));
	CHECK(!retry_transient(-EKEYREJECTED)); /* bad signature, untrusted TLS */
	CHECK(!retry_transient(-EINVAL));
	CHECK(!retry_transient(0));
}

static int submitted;
static void count(const char *dev)
{
	(void)dev;
	__atomic_add_fetch(&submitted, 1, __ATOMIC_SEQ_CST);
}

TEST(retry_backoff_bounds_and_limit)
{
	struct policy p;
	long d[3];

	policy_defaults(&p);
	p.retry_base_ms = 200;
	p.retry_cap_ms = 500;
	p.retry_max = 3;
	CHECK_EQ_INT(retry_start(&p, count), 0);
	/* full jitter: attempt k waits in [100, min(cap, base * 2^k)] ms */
	for (int i = 0; i < 3; i++)
		d[i] = retry_schedule("/dev/test0");
	CHECK(d[0] >= 100 && d[0] <= 200);
	CHECK(d[1] >= 100 && d[1] <= 400);
	CHECK(d[2] >= 100 && d[2] <= 500);
	CHECK_EQ_INT(retry_schedule("/dev/test0"), -2); /* retry_max used up */
	usleep(800 * 1000);
	/* the entry was re-armed twice before it came due: one submission */
	CHECK_EQ_INT(__atomic_load_n(&submitted, __ATOMIC_SEQ_CST), 1);
	retry_forget("/dev/test0");
	CHECK(retry_schedule("/dev/test0") >= 100); /* forgotten: counts from zero again */
	retry_stop();
	CHECK_EQ_INT(retry_schedule("/dev/test1"), -1); /* stopped */
}

/* A TLS handshake the peer cut off is a connection failure (retried), a
 * certificate that does not verify a refusal (not retried). */
TEST(tls_cut_off_is_retried_untrusted_is_not)
{
	CHECK(retry_transient(curl_code_to_errno(CURLE_SSL_CONNECT_ERROR)));
	CHECK(retry_transient(curl_code_to_errno(CURLE_COULDNT_CONNECT)));
	CHECK(retry_transient(curl_code_to_errno(CURLE_OPERATION_TIMEDOUT)));
	CHECK(!retry_transient(curl_code_to_errno(CURLE_PEER_FAILED_VERIFICATION)));
}
