// SPDX-License-Identifier: GPL-2.0-or-later
/* name_component_safe(): which device-derived strings (NVMe serials, EBS volume
 * ids, LUKS UUIDs) may become part of a mapping name or a mount path. */
#include <string.h>

#include "base/fileio.h"
#include "unit.h"

TEST(real_ids_are_safe)
{
	CHECK(name_component_safe("vol-0123456789abcdef0"));
	CHECK(name_component_safe("AWS00000000000000011"));
	CHECK(name_component_safe("raid0"));
	CHECK(name_component_safe("0b8a3e36-4a3c-4c8e-9d0e-2f7c1a9b5d11"));
	CHECK(name_component_safe("a.b_c-d"));
	CHECK(name_component_safe("..."));
}

TEST(path_escapes_are_refused)
{
	CHECK(!name_component_safe(""));
	CHECK(!name_component_safe("."));
	CHECK(!name_component_safe(".."));
	CHECK(!name_component_safe("/"));
	CHECK(!name_component_safe("../../etc"));
	CHECK(!name_component_safe("vol-/../../etc"));
	CHECK(!name_component_safe("a/b"));
}

TEST(odd_characters_are_refused)
{
	CHECK(!name_component_safe("AWS 0001"));
	CHECK(!name_component_safe("a\tb"));
	CHECK(!name_component_safe("a\nb"));
	CHECK(!name_component_safe("a%sb"));
	CHECK(!name_component_safe("a*b"));
	CHECK(!name_component_safe("a?b")); /* what the identify parser puts for a non-printable byte */
	CHECK(!name_component_safe("a\\b"));
	CHECK(!name_component_safe("caf\xc3\xa9"));
}

TEST(length_is_bounded)
{
	char s[200];

	memset(s, 'a', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	CHECK(!name_component_safe(s));
	s[128] = '\0';
	CHECK(name_component_safe(s));
}
