// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>

#include "base/thread.h"

int thread_start(pthread_t *ret, void *(*fn)(void *), void *arg, bool detached)
{
	pthread_attr_t a;
	pthread_t t;
	int r;

	r = pthread_attr_init(&a);
	if (r != 0)
		return -r;
	r = pthread_attr_setstacksize(&a, THREAD_STACK_BYTES);
	if (r == 0 && detached)
		r = pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (r == 0)
		r = pthread_create(&t, &a, fn, arg);
	pthread_attr_destroy(&a);
	if (r != 0)
		return -r;
	if (ret)
		*ret = t;
	return 0;
}
