/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Route libdevmapper's own messages into our logger (debug level for its
 * chatter, warnings and errors as such) instead of its default stderr printing. */
#pragma once

void dmlog_setup(void);
