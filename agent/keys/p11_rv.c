// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdio.h>

#include "keys/p11_rv.h"

struct rv_entry {
	CK_RV rv;
	const char *name;
	int err; /* positive errno */
	const char *words;
};

#define RV(r, e, w) { r, #r, e, w }
static const struct rv_entry table[] = {
	RV(CKR_OK, 0, "success"),
	RV(CKR_CANCEL, ECANCELED, "cancelled"),
	RV(CKR_HOST_MEMORY, ENOMEM, "out of memory on this host"),
	RV(CKR_SLOT_ID_INVALID, ENODEV, "no such slot"),
	RV(CKR_GENERAL_ERROR, EIO, "the module failed"),
	RV(CKR_FUNCTION_FAILED, EIO, "the operation failed in the module"),
	RV(CKR_ARGUMENTS_BAD, EINVAL, "bad arguments"),
	RV(CKR_NEED_TO_CREATE_THREADS, EOPNOTSUPP, "the module needs to create threads"),
	RV(CKR_CANT_LOCK, EOPNOTSUPP, "the module cannot use OS locking"),
	RV(CKR_ATTRIBUTE_READ_ONLY, EINVAL, "an attribute is read-only"),
	RV(CKR_ATTRIBUTE_SENSITIVE, EPERM, "the value is sensitive and cannot be read"),
	RV(CKR_ATTRIBUTE_TYPE_INVALID, EINVAL, "attribute not supported"),
	RV(CKR_ATTRIBUTE_VALUE_INVALID, EINVAL, "attribute value refused"),
	RV(CKR_DATA_INVALID, EBADMSG, "data invalid"),
	RV(CKR_DATA_LEN_RANGE, EINVAL, "data length out of range"),
	RV(CKR_DEVICE_ERROR, EIO, "the HSM reported a device error"),
	RV(CKR_DEVICE_MEMORY, ENOMEM, "the HSM is out of memory"),
	RV(CKR_DEVICE_REMOVED, ENODEV, "the token was removed or the HSM connection lost"),
	RV(CKR_ENCRYPTED_DATA_INVALID, EBADMSG, "encrypted data invalid"),
	RV(CKR_ENCRYPTED_DATA_LEN_RANGE, EBADMSG, "encrypted data has a wrong length"),
	RV(CKR_FUNCTION_CANCELED, ECANCELED, "cancelled"),
	RV(CKR_FUNCTION_NOT_PARALLEL, EOPNOTSUPP, "function not parallel"),
	RV(CKR_FUNCTION_NOT_SUPPORTED, EOPNOTSUPP, "the module does not support this function"),
	RV(CKR_KEY_HANDLE_INVALID, ENOKEY, "key handle no longer valid"),
	RV(CKR_KEY_SIZE_RANGE, EINVAL, "key size not supported"),
	RV(CKR_KEY_TYPE_INCONSISTENT, EINVAL, "the key's type does not fit the mechanism"),
	RV(CKR_KEY_NOT_NEEDED, EINVAL, "key not needed"),
	RV(CKR_KEY_CHANGED, ENOKEY, "the key changed"),
	RV(CKR_KEY_NEEDED, EINVAL, "key needed"),
	RV(CKR_KEY_INDIGESTIBLE, EINVAL, "key indigestible"),
	RV(CKR_KEY_FUNCTION_NOT_PERMITTED, EPERM, "the key's attributes do not allow this use"),
	RV(CKR_KEY_NOT_WRAPPABLE, EPERM, "the key cannot be wrapped"),
	RV(CKR_KEY_UNEXTRACTABLE, EPERM, "the key is not extractable"),
	RV(CKR_MECHANISM_INVALID, EOPNOTSUPP, "the token does not support this mechanism"),
	RV(CKR_MECHANISM_PARAM_INVALID, EOPNOTSUPP, "the token refused the mechanism's parameters"),
	RV(CKR_OBJECT_HANDLE_INVALID, ENOKEY, "object handle no longer valid"),
	RV(CKR_OPERATION_ACTIVE, EBUSY, "another operation is active on the session"),
	RV(CKR_OPERATION_NOT_INITIALIZED, EIO, "operation not initialized"),
	RV(CKR_PIN_INCORRECT, EACCES, "wrong PIN"),
	RV(CKR_PIN_INVALID, EACCES, "the PIN has invalid characters"),
	RV(CKR_PIN_LEN_RANGE, EACCES, "the PIN has a wrong length"),
	RV(CKR_PIN_EXPIRED, EKEYEXPIRED, "the PIN has expired"),
	RV(CKR_PIN_LOCKED, EKEYREVOKED, "the PIN is locked"),
	RV(CKR_SESSION_CLOSED, ENOTCONN, "the session was closed"),
	RV(CKR_SESSION_COUNT, EAGAIN, "too many sessions open on the token"),
	RV(CKR_SESSION_HANDLE_INVALID, ENOTCONN, "the session is no longer valid"),
	RV(CKR_SESSION_PARALLEL_NOT_SUPPORTED, EOPNOTSUPP, "parallel sessions not supported"),
	RV(CKR_SESSION_READ_ONLY, EROFS, "the session is read-only"),
	RV(CKR_SESSION_EXISTS, EBUSY, "a session exists"),
	RV(CKR_SESSION_READ_ONLY_EXISTS, EBUSY, "a read-only session exists"),
	RV(CKR_SESSION_READ_WRITE_SO_EXISTS, EBUSY, "a security-officer session exists"),
	RV(CKR_TEMPLATE_INCOMPLETE, EINVAL, "the token wants more attributes"),
	RV(CKR_TEMPLATE_INCONSISTENT, EINVAL, "the token refused the attributes"),
	RV(CKR_TOKEN_NOT_PRESENT, ENODEV, "no token in the slot"),
	RV(CKR_TOKEN_NOT_RECOGNIZED, ENODEV, "token not recognized"),
	RV(CKR_TOKEN_WRITE_PROTECTED, EROFS, "the token is write-protected"),
	RV(CKR_UNWRAPPING_KEY_HANDLE_INVALID, ENOKEY, "unwrapping key handle invalid"),
	RV(CKR_UNWRAPPING_KEY_SIZE_RANGE, EINVAL, "unwrapping key size not supported"),
	RV(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT, EINVAL, "the unwrapping key's type does not fit the mechanism"),
	RV(CKR_USER_ALREADY_LOGGED_IN, EALREADY, "already logged in"),
	RV(CKR_USER_NOT_LOGGED_IN, EACCES, "not logged in"),
	RV(CKR_USER_PIN_NOT_INITIALIZED, EACCES, "the user PIN is not initialized"),
	RV(CKR_USER_TYPE_INVALID, EINVAL, "user type invalid"),
	RV(CKR_USER_ANOTHER_ALREADY_LOGGED_IN, EBUSY, "another user is logged in"),
	RV(CKR_USER_TOO_MANY_TYPES, EBUSY, "too many user types logged in"),
	RV(CKR_WRAPPED_KEY_INVALID, EBADMSG, "the wrapped key does not unwrap (wrong key or damaged data)"),
	RV(CKR_WRAPPED_KEY_LEN_RANGE, EBADMSG, "the wrapped key has a wrong length"),
	RV(CKR_WRAPPING_KEY_HANDLE_INVALID, ENOKEY, "wrapping key handle invalid"),
	RV(CKR_WRAPPING_KEY_SIZE_RANGE, EINVAL, "wrapping key size not supported"),
	RV(CKR_WRAPPING_KEY_TYPE_INCONSISTENT, EINVAL, "the wrapping key's type does not fit the mechanism"),
	RV(CKR_RANDOM_SEED_NOT_SUPPORTED, EOPNOTSUPP, "random seeding not supported"),
	RV(CKR_RANDOM_NO_RNG, EOPNOTSUPP, "the token has no random number generator"),
	RV(CKR_DOMAIN_PARAMS_INVALID, EINVAL, "domain parameters invalid"),
	RV(CKR_BUFFER_TOO_SMALL, EIO, "buffer too small"),
	RV(CKR_SAVED_STATE_INVALID, EIO, "saved state invalid"),
	RV(CKR_INFORMATION_SENSITIVE, EPERM, "the information is sensitive"),
	RV(CKR_STATE_UNSAVEABLE, EIO, "state unsaveable"),
	RV(CKR_CRYPTOKI_NOT_INITIALIZED, EIO, "the module is not initialized"),
	RV(CKR_CRYPTOKI_ALREADY_INITIALIZED, EALREADY, "the module is already initialized"),
	RV(CKR_MUTEX_BAD, EIO, "bad mutex"),
	RV(CKR_MUTEX_NOT_LOCKED, EIO, "mutex not locked"),
	RV(CKR_FUNCTION_REJECTED, EPERM, "the token rejected the function"),
	RV(CKR_ACTION_PROHIBITED, EPERM, "the token does not allow this action"),
};
#undef RV

static const struct rv_entry *lookup(CK_RV rv)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].rv == rv)
			return &table[i];
	return NULL;
}

int p11_rv_to_errno(CK_RV rv)
{
	const struct rv_entry *e = lookup(rv);

	if (rv == CKR_OK)
		return 0;
	return e ? -e->err : -EIO;
}

const char *p11_rv_name(CK_RV rv)
{
	static __thread char buf[40];
	const struct rv_entry *e = lookup(rv);

	if (e)
		return e->name;
	snprintf(buf, sizeof(buf), "%s 0x%lx", rv & CKR_VENDOR_DEFINED ? "vendor CKR" : "CKR", (unsigned long)rv);
	return buf;
}

const char *p11_rv_words(CK_RV rv)
{
	const struct rv_entry *e = lookup(rv);

	return e ? e->words : "token error";
}
