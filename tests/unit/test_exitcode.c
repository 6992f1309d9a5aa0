// SPDX-License-Identifier: GPL-2.0-or-later
/* Exit codes: the -errno mapping and the documented table agree. */
#include <errno.h>
#include <stdlib.h>

#include "base/exitcode.h"
#include "base/fileio.h"
#include "base/macro.h"
#include "unit.h"

TEST(success_is_zero)
{
	CHECK_EQ_INT(exit_code_from_errno(0), 0);
}

TEST(classes_map_as_documented)
{
	CHECK_EQ_INT(exit_code_from_errno(-EINVAL), 1);
	CHECK_EQ_INT(exit_code_from_errno(-EPERM), 2);
	CHECK_EQ_INT(exit_code_from_errno(-EACCES), 2);
	CHECK_EQ_INT(exit_code_from_errno(-EKEYREJECTED), 2);
	CHECK_EQ_INT(exit_code_from_errno(-ENOMEM), 3);
	CHECK_EQ_INT(exit_code_from_errno(-ENODEV), 4);
	CHECK_EQ_INT(exit_code_from_errno(-ENOENT), 4);
	CHECK_EQ_INT(exit_code_from_errno(-ENOTBLK), 4);
	CHECK_EQ_INT(exit_code_from_errno(-EBUSY), 5);
	CHECK_EQ_INT(exit_code_from_errno(-EEXIST), 5);
	CHECK_EQ_INT(exit_code_from_errno(-ETIMEDOUT), 6);
	CHECK_EQ_INT(exit_code_from_errno(-ECONNREFUSED), 6);
	CHECK_EQ_INT(exit_code_from_errno(-EHOSTUNREACH), 6);
	CHECK_EQ_INT(exit_code_from_errno(-EOPNOTSUPP), 7);
	CHECK_EQ_INT(exit_code_from_errno(-ENOSYS), 7);
	CHECK_EQ_INT(exit_code_from_errno(-ELIBACC), 7); /* a library loaded on first use is missing */
	CHECK_EQ_INT(exit_code_from_errno(-EBADMSG), 8);
	CHECK_EQ_INT(exit_code_from_errno(-EPROTO), 8);
	CHECK_EQ_INT(exit_code_from_errno(-EIO), 10);
	CHECK_EQ_INT(exit_code_from_errno(-EXDEV), 10);
}

TEST(positive_errno_is_accepted)
{
	CHECK_EQ_INT(exit_code_from_errno(EBUSY), 5);
}

TEST(every_errno_maps_to_a_documented_code)
{
	for (int e = 1; e < 134; e++) {
		int code = exit_code_from_errno(-e), found = 0;
		for (const struct exit_code_info *t = exit_code_table(); t->name; t++)
			found |= t->code == code;
		if (!found)
			CHECK(!"an errno maps to an undocumented exit code");
		if (code == 0)
			CHECK(!"a failure maps to exit code 0");
	}
}

TEST(docs_list_the_same_table)
{
	_cleanup_free_ char *doc = NULL;
	const char *src = getenv("VOLKEY_SRC");
	char line[256];

	CHECK_EQ_INT(read_small_file(src ? src : ".", "/docs/exit-codes.md", 1 << 20, &doc), 0);
	if (!doc)
		return;
	for (const struct exit_code_info *t = exit_code_table(); t->name; t++) {
		snprintf(line, sizeof(line), "| %d | `%s` | %s |", t->code, t->name, t->meaning);
		if (!strstr(doc, line)) {
			fprintf(stderr, "  docs/exit-codes.md lacks the row: %s\n", line);
			CHECK(!"docs/exit-codes.md out of date");
		}
	}
}
