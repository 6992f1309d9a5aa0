/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PKCS#11 return values (CK_RV) in the project's terms: -errno for the exit
 * code (exitcode.c), the CKR_ name for the log and a few plain words for people. */
#pragma once

#include <p11-kit/pkcs11.h>

/* 0 for CKR_OK, else a negative errno. */
int p11_rv_to_errno(CK_RV rv);
/* "CKR_PIN_INCORRECT"; "vendor CKR 0x80000001" style for codes not in the table. */
const char *p11_rv_name(CK_RV rv);
/* "wrong PIN", "the key may not be used for this", ... ("token error" when unknown). */
const char *p11_rv_words(CK_RV rv);
