/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* volkey's kernel module (kernel/volkey_xts.c) and the [volkey] kernel_module
 * setting: off, on, or auto (load it only when `volkey bench` measured a gain
 * from it on this kernel). docs/kernel-module.md. */
#pragma once

#include <stddef.h>
#include "conf/policy.h"

/* 1 loaded (now or already), 0 left unloaded (the reason in why), -errno when loading failed. */
int kmod_apply(const struct policy *p, char *why, size_t n);
/* Whether volkey_xts is loaded (/sys/module/volkey_xts). */
bool kmod_loaded(void);
/* `volkey bench` measured the kernel's AES-NI XTS and the module side by side on
 * this kernel: their geometric-mean ratios go to p->module_record. */
int kmod_record(const struct policy *p, const char *kernel, double aesni, double module);
/* The gain such a record (its JSON text) gives for kernel; 0 when it is for another
 * kernel or malformed. */
double kmod_record_gain(const char *text, const char *kernel);
