// SPDX-License-Identifier: GPL-2.0-or-later
/* The logger: prefixes journald understands, %m from the given error, levels. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "unit.h"

/* Runs fn with stderr redirected into buf. */
static void capture(void (*fn)(void), char *buf, size_t n)
{
	int fds[2], saved;
	ssize_t k;

	fflush(stderr);
	if (pipe(fds) < 0) {
		CHECK(!"pipe");
		return;
	}
	saved = dup(STDERR_FILENO);
	dup2(fds[1], STDERR_FILENO);
	close(fds[1]);
	fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	k = read(fds[0], buf, n - 1);
	buf[k > 0 ? k : 0] = '\0';
	close(fds[0]);
}

static int last_r;

static void emit_error(void)
{
	last_r = log_error_errno(-ENOENT, "Failed to open %s: %m", "/dev/nvme9n1");
}

static void emit_debug(void)
{
	log_debug("hidden unless debug");
}

static void emit_multiline(void)
{
	log_warning("line one\nline two");
}

TEST(plain_format_names_level_and_cause)
{
	char out[512];

	log_set_journal_prefix(false);
	log_set_max_level(LOG_INFO);
	capture(emit_error, out, sizeof(out));
	CHECK_STREQ(out, "volkey: error: Failed to open /dev/nvme9n1: No such file or directory\n");
	CHECK_EQ_INT(last_r, -ENOENT);
}

TEST(journal_format_has_priority_prefix)
{
	char out[512];

	log_set_journal_prefix(true);
	log_set_max_level(LOG_INFO);
	capture(emit_error, out, sizeof(out));
	CHECK_STREQ(out, "<3>Failed to open /dev/nvme9n1: No such file or directory\n");
	log_set_journal_prefix(false);
}

TEST(debug_is_filtered_by_level)
{
	char out[512];

	log_set_max_level(LOG_INFO);
	capture(emit_debug, out, sizeof(out));
	CHECK_STREQ(out, "");
	log_set_max_level(LOG_DEBUG);
	capture(emit_debug, out, sizeof(out));
	CHECK(strstr(out, "volkey: debug: hidden unless debug") == out);
	log_set_max_level(LOG_INFO);
}

TEST(one_message_is_one_line)
{
	char out[512];

	log_set_max_level(LOG_INFO);
	capture(emit_multiline, out, sizeof(out));
	CHECK_STREQ(out, "volkey: warning: line one line two\n");
}

TEST(level_names_parse)
{
	CHECK_EQ_INT(log_level_from_string("debug"), LOG_DEBUG);
	CHECK_EQ_INT(log_level_from_string("ERR"), LOG_ERR);
	CHECK_EQ_INT(log_level_from_string("warning"), LOG_WARNING);
	CHECK_EQ_INT(log_level_from_string("4"), 4);
	CHECK(log_level_from_string("loud") < 0);
	CHECK(log_level_from_string("9") < 0);
}

TEST(env_sets_the_level)
{
	setenv("VOLKEY_LOG_LEVEL", "debug", 1);
	log_setup("volkey");
	CHECK_EQ_INT(log_get_max_level(), LOG_DEBUG);
	setenv("VOLKEY_LOG_LEVEL", "err", 1);
	log_setup("volkey");
	CHECK_EQ_INT(log_get_max_level(), LOG_ERR);
	unsetenv("VOLKEY_LOG_LEVEL");
	log_set_max_level(LOG_INFO);
}

TEST(errno_is_preserved)
{
	errno = EXDEV;
	log_set_max_level(LOG_EMERG); /* filtered out, must still keep errno */
	log_error("x");
	CHECK_EQ_INT(errno, EXDEV);
	log_set_max_level(LOG_INFO);
}
