// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macro.h"
#include "keys/kctx.h"

#define KIND_COUNT (KEY_PKCS11 + 1)

struct kctx {
	struct volkey_config cfg;
	char err[1024];
	struct {
		void *state;
		void (*free_state)(void *state);
	} backend[KIND_COUNT];
	struct key_info last;
};

int kctx_new(const struct volkey_config *cfg, struct kctx **ret)
{
	struct kctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	if (cfg)
		c->cfg = *cfg;
	else
		config_defaults(&c->cfg);
	*ret = c;
	return 0;
}

void kctx_free(struct kctx *c)
{
	if (!c)
		return;
	for (size_t k = 0; k < ARRAY_SIZE(c->backend); k++)
		if (c->backend[k].state && c->backend[k].free_state)
			c->backend[k].free_state(c->backend[k].state);
	free(c);
}

const char *kctx_error(const struct kctx *c)
{
	return c->err[0] ? c->err : "unknown error";
}

const struct volkey_config *kctx_config(const struct kctx *c)
{
	return &c->cfg;
}

int kctx_fail(struct kctx *c, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	for (char *p = c->err; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return r < 0 ? r : -EIO;
}

void kctx_begin(struct kctx *c)
{
	c->err[0] = '\0';
	memset(&c->last, 0, sizeof(c->last));
}

void *kctx_state(struct kctx *c, enum key_kind kind)
{
	return (unsigned)kind < KIND_COUNT ? c->backend[kind].state : NULL;
}

void kctx_set_state(struct kctx *c, enum key_kind kind, void *state, void (*free_state)(void *state))
{
	if ((unsigned)kind >= KIND_COUNT)
		return;
	c->backend[kind].state = state;
	c->backend[kind].free_state = free_state;
}

struct key_info *kctx_last_info(struct kctx *c)
{
	return &c->last;
}
