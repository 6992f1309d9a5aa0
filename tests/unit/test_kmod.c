// SPDX-License-Identifier: GPL-2.0-or-later
/* The module record `volkey bench` leaves for kernel_module = auto, read back
 * (kmod_record_gain): the gain for this kernel, 0 for anything else. */
#include "host/kmod.h"
#include "unit.h"

TEST(module_record_gain)
{
	CHECK(kmod_record_gain("{\"kernel\":\"6.1.0-56-amd64\",\"aesni_geomean\":0.71,\"module_geomean\":0.93,"
			       "\"gain\":1.31,\"measured\":1714557600}", "6.1.0-56-amd64") == 1.31);
	CHECK(kmod_record_gain("{\"kernel\":\"6.1.0-56-amd64\",\"gain\":2}", "6.1.0-56-amd64") == 2.0);
	CHECK(kmod_record_gain("{\"kernel\":\"5.10.0-28-cloud-amd64\",\"gain\":1.5}", "6.1.0-56-amd64") == 0);
	CHECK(kmod_record_gain("{\"kernel\":\"6.1.0-56-amd64\"}", "6.1.0-56-amd64") == 0);
	CHECK(kmod_record_gain("not json", "6.1.0-56-amd64") == 0);
}

/* Found by tests/fuzz/fuzz_bench_record.c: a null kernel made volkeyd's
 * kernel_module = auto call strcmp(NULL, ...) and crash at boot; a NaN gain
 * compared as no loss and would have loaded the module. */
TEST(malformed_module_record_is_no_record)
{
	static const char *const bad[] = {
		"{\"kernel\":null,\"gain\":2.0}",
		"{\"kernel\":[\"6.1.0-56-amd64\"],\"gain\":2.0}",
		"{\"kernel\":\"6.1.0-56-amd64\",\"gain\":NaN}",
		"{\"kernel\":\"6.1.0-56-amd64\",\"gain\":Infinity}",
		"{\"kernel\":\"6.1.0-56-amd64\",\"gain\":-3}",
		"{\"kernel\":\"6.1.0-56-amd64\",\"gain\":\"2.0\"}",
		"[{\"kernel\":\"6.1.0-56-amd64\",\"gain\":2.0}]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(kmod_record_gain(bad[i], "6.1.0-56-amd64") == 0);
}
