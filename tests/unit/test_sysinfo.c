// SPDX-License-Identifier: GPL-2.0-or-later
/* Machine probes against fixture trees: a host without device-mapper, a guest
 * with dm as modules, an old Xen EC2 kernel built without dm. */
#include <errno.h>
#include <string.h>

#include "host/sysinfo.h"
#include "keys/imds.h"
#include "unit.h"

#define FX(n) unit_fixture(n)

TEST(dm_missing_names_the_kernel_and_why)
{
	struct dm_support s;

	CHECK_EQ_INT(sysinfo_dm_probe(FX("host-nodm"), "6.18.44-fc", &s), 0);
	CHECK_EQ_INT(s.dm, FEATURE_MISSING);
	CHECK_EQ_INT(s.crypt, FEATURE_MISSING);
	CHECK(strstr(s.reason, "6.18.44-fc") != NULL);
	CHECK(strstr(s.reason, "no device-mapper") != NULL);
}

TEST(dm_missing_by_kernel_config)
{
	struct dm_support s;

	CHECK_EQ_INT(sysinfo_dm_probe(FX("xen-ec2"), "5.10.0-xen", &s), 0);
	CHECK_EQ_INT(s.dm, FEATURE_MISSING);
	CHECK(strstr(s.reason, "CONFIG_BLK_DEV_DM is not set") != NULL);
}

TEST(dm_live_crypt_loadable)
{
	struct dm_support s;

	CHECK_EQ_INT(sysinfo_dm_probe(FX("guest-dm"), "6.1.0-56-amd64", &s), 0);
	CHECK_EQ_INT(s.dm, FEATURE_AVAILABLE);
	CHECK_EQ_INT(s.crypt, FEATURE_LOADABLE);
}

TEST(module_lookup_handles_dash_and_underscore)
{
	CHECK_EQ_INT(sysinfo_module_state(FX("guest-dm"), "6.1.0-56-amd64", "dm_crypt"), FEATURE_LOADABLE);
	CHECK_EQ_INT(sysinfo_module_state(FX("guest-dm"), "6.1.0-56-amd64", "dm-crypt"), FEATURE_LOADABLE);
	CHECK_EQ_INT(sysinfo_module_state(FX("guest-dm"), "6.1.0-56-amd64", "dm_mod"), FEATURE_AVAILABLE);
	CHECK_EQ_INT(sysinfo_module_state(FX("guest-dm"), "6.1.0-56-amd64", "nvme_core"), FEATURE_AVAILABLE);
	CHECK_EQ_INT(sysinfo_module_state(FX("guest-dm"), "6.1.0-56-amd64", "dm"), FEATURE_MISSING);
	CHECK_EQ_INT(sysinfo_module_state(FX("guest-dm"), "6.1.0-56-amd64", "crypt"), FEATURE_MISSING);
}

TEST(xts_picks_highest_priority_non_internal)
{
	struct xts_driver x;

	CHECK_EQ_INT(sysinfo_xts_probe(FX("guest-dm"), &x), 0);
	CHECK(x.found);
	CHECK_STREQ(x.driver, "xts-aes-aesni");
	CHECK_STREQ(x.module, "aesni_intel");
	CHECK_EQ_INT(x.priority, 401);
	CHECK(x.async);
	CHECK(x.selftest_passed);
}

TEST(xts_module_outranks_aesni_and_shows_use)
{
	struct xts_driver x;

	CHECK_EQ_INT(sysinfo_xts_probe(FX("guest-module"), &x), 0);
	CHECK(x.found);
	CHECK_STREQ(x.driver, "xts-aes-volkey");
	CHECK_STREQ(x.module, "volkey_xts");
	CHECK_EQ_INT(x.priority, 410);
	CHECK_EQ_INT(x.refcnt, 3);
	CHECK(!x.async);
	CHECK(x.selftest_passed);
}

TEST(xts_generic_is_sync)
{
	struct xts_driver x;

	CHECK_EQ_INT(sysinfo_xts_probe(FX("host-nodm"), &x), 0);
	CHECK(x.found);
	CHECK_STREQ(x.driver, "xts(ecb(aes-generic))");
	CHECK(!x.async);
}

TEST(xts_absent_file_is_an_error)
{
	struct xts_driver x;

	CHECK_EQ_INT(sysinfo_xts_probe(FX("xen-ec2"), &x), -ENOENT);
}

TEST(cpu_flags_are_whole_words)
{
	struct cpu_aes c;

	CHECK_EQ_INT(sysinfo_cpu_probe(FX("host-nodm"), &c), 0);
	CHECK(c.aes);
	CHECK(c.vaes);
	CHECK(c.avx2);
	CHECK(c.avx512f);
	CHECK(c.pclmulqdq);
	CHECK_STREQ(c.model, "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz");
}

TEST(loop_counts_nodes)
{
	struct loop_support l;

	CHECK_EQ_INT(sysinfo_loop_probe(FX("host-nodm"), "x", &l), 0);
	CHECK_EQ_INT(l.state, FEATURE_AVAILABLE);
	CHECK_EQ_INT(l.count, 2);
	CHECK_EQ_INT(sysinfo_loop_probe(FX("xen-ec2"), "5.10.0-xen", &l), 0);
	CHECK_EQ_INT(l.state, FEATURE_AVAILABLE); /* built in */
	CHECK_EQ_INT(l.count, 0);
}

TEST(dmi_recognises_ec2)
{
	struct ec2_dmi d;

	CHECK_EQ_INT(ec2_dmi_probe(FX("guest-dm"), &d), 0);
	CHECK(d.ec2);
	CHECK_STREQ(d.asset_tag, "i-0123456789abcdef0");
	CHECK_EQ_INT(ec2_dmi_probe(FX("xen-ec2"), &d), 0);
	CHECK(d.ec2);
	CHECK_EQ_INT(ec2_dmi_probe(FX("host-nodm"), &d), 0);
	CHECK(!d.ec2);
	CHECK_STREQ(d.vendor, "QEMU");
}

TEST(lib_versions_are_filled)
{
	struct lib_versions v;

	sysinfo_lib_versions(&v);
	CHECK(v.cryptsetup[0] >= '1' && v.cryptsetup[0] <= '9');
	CHECK(strchr(v.devmapper, '.') != NULL);
	CHECK(strchr(v.nvme, '.') != NULL);
	CHECK(strstr(v.openssl, "OpenSSL") != NULL);
	CHECK(strchr(v.curl, '.') != NULL);
}
