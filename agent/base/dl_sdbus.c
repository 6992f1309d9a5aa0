// SPDX-License-Identifier: LGPL-2.1-or-later
/* sd-bus of libsystemd, loaded on first use (base/dlib.h): the sd_bus_*
 * functions volkey calls (host/sdmanager.c: systemd's state, StartUnit for
 * late mounts), under their own names, forwarded to libsystemd.so.0. None is
 * variadic: sdmanager builds its method call with
 * sd_bus_message_new_method_call and sd_bus_message_append_basic. The rest of
 * what volkey wanted from libsystemd, it does itself: the readiness
 * notification (base/sdnotify.c) and journal entries (base/journal.c). When the
 * library cannot be loaded, the functions fail with -ELIBACC. */
#include <errno.h>
#include <systemd/sd-bus.h>

#include "base/dlib.h"

static struct {
	int (*bus_new)(sd_bus **);
	int (*bus_set_address)(sd_bus *, const char *);
	int (*bus_start)(sd_bus *);
	sd_bus *(*bus_unref)(sd_bus *);
	sd_bus *(*bus_flush_close_unref)(sd_bus *);
	int (*bus_call)(sd_bus *, sd_bus_message *, uint64_t, sd_bus_error *, sd_bus_message **);
	int (*bus_get_property_string)(sd_bus *, const char *, const char *, const char *, const char *,
				       sd_bus_error *, char **);
	int (*message_new_method_call)(sd_bus *, sd_bus_message **, const char *, const char *, const char *,
				       const char *);
	int (*message_append_basic)(sd_bus_message *, char, const void *);
	sd_bus_message *(*message_unref)(sd_bus_message *);
	void (*error_free)(sd_bus_error *);
} f;

static const struct dlib_sym syms[] = {
	DLIB_SYM("sd_bus_new", f.bus_new),
	DLIB_SYM("sd_bus_set_address", f.bus_set_address),
	DLIB_SYM("sd_bus_start", f.bus_start),
	DLIB_SYM("sd_bus_unref", f.bus_unref),
	DLIB_SYM("sd_bus_flush_close_unref", f.bus_flush_close_unref),
	DLIB_SYM("sd_bus_call", f.bus_call),
	DLIB_SYM("sd_bus_get_property_string", f.bus_get_property_string),
	DLIB_SYM("sd_bus_message_new_method_call", f.message_new_method_call),
	DLIB_SYM("sd_bus_message_append_basic", f.message_append_basic),
	DLIB_SYM("sd_bus_message_unref", f.message_unref),
	DLIB_SYM("sd_bus_error_free", f.error_free),
};

static struct dlib sdbus = {
	.soname = "libsystemd.so.0",
	.what = "asking systemd about its state and starting units",
	.syms = syms,
	.nsyms = sizeof(syms) / sizeof(syms[0]),
	.mu = PTHREAD_MUTEX_INITIALIZER,
};

/* An sd_bus or sd_bus_message exists only once the library is loaded. */
#define LOADED (dlib_loaded(&sdbus))

int sd_bus_new(sd_bus **ret)
{
	return dlib_load(&sdbus) ? f.bus_new(ret) : -ELIBACC;
}

int sd_bus_set_address(sd_bus *b, const char *address)
{
	return b && LOADED ? f.bus_set_address(b, address) : -EINVAL;
}

int sd_bus_start(sd_bus *b)
{
	return b && LOADED ? f.bus_start(b) : -EINVAL;
}

sd_bus *sd_bus_unref(sd_bus *b)
{
	return b && LOADED ? f.bus_unref(b) : NULL;
}

sd_bus *sd_bus_flush_close_unref(sd_bus *b)
{
	return b && LOADED ? f.bus_flush_close_unref(b) : NULL;
}

int sd_bus_call(sd_bus *b, sd_bus_message *m, uint64_t usec, sd_bus_error *ret_error, sd_bus_message **reply)
{
	return b && LOADED ? f.bus_call(b, m, usec, ret_error, reply) : -EINVAL;
}

int sd_bus_get_property_string(sd_bus *b, const char *destination, const char *path, const char *interface,
			       const char *member, sd_bus_error *ret_error, char **ret)
{
	return b && LOADED ? f.bus_get_property_string(b, destination, path, interface, member, ret_error, ret)
			   : -EINVAL;
}

int sd_bus_message_new_method_call(sd_bus *b, sd_bus_message **m, const char *destination, const char *path,
				   const char *interface, const char *member)
{
	return b && LOADED ? f.message_new_method_call(b, m, destination, path, interface, member) : -EINVAL;
}

int sd_bus_message_append_basic(sd_bus_message *m, char type, const void *p)
{
	return m && LOADED ? f.message_append_basic(m, type, p) : -EINVAL;
}

sd_bus_message *sd_bus_message_unref(sd_bus_message *m)
{
	return m && LOADED ? f.message_unref(m) : NULL;
}

void sd_bus_error_free(sd_bus_error *e)
{
	/* Only the library fills an sd_bus_error: before it is loaded there is nothing to free. */
	if (e && LOADED)
		f.error_free(e);
}
