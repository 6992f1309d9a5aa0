// SPDX-License-Identifier: LGPL-2.1-or-later
/* struct wrapped on its own, so the token parser (and its fuzz target) need not
 * link the backends. */
#include <stdlib.h>

#include "keys/backend.h"

void wrapped_clear(struct wrapped *w)
{
	if (!w)
		return;
	free(w->data);
	free(w->key_ref);
	w->data = NULL;
	w->key_ref = NULL;
	w->len = 0;
}
