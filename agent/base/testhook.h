/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Crash points for the crash-safety tests: when $VOLKEY_TEST_CRASH_AT names
 * this step, the process sends itself SIGKILL right there, as a power cut would
 * stop it. Steps are listed in docs/format.md. Inert unless the variable is set. */
#pragma once

void test_crash_point(const char *step);
/* When $VOLKEY_TEST_PAUSE_AT names this step, the process stops itself (SIGSTOP)
 * there until a test sends SIGCONT: the test changes the world in between (a
 * write to a device that was checked, say). Inert unless the variable is set. */
void test_pause_point(const char *step);
