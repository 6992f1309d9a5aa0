// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stddef.h>

#include "base/exitcode.h"

static const struct exit_code_info table[] = {
	{ EXIT_OK, "ok", "success" },
	{ EXIT_USAGE, "usage", "bad parameters, input or configuration" },
	{ EXIT_DENIED, "denied", "permission denied, or wrong key / key refused" },
	{ EXIT_NOMEM, "nomem", "out of memory, or secret memory cannot be locked" },
	{ EXIT_DEVICE, "device", "device or file missing or not what was expected" },
	{ EXIT_BUSY, "busy", "device in use, or already exists" },
	{ EXIT_UNAVAILABLE, "unavailable", "key service or network unreachable or timed out" },
	{ EXIT_UNSUPPORTED, "unsupported", "not supported by this kernel, device or build" },
	{ EXIT_DATA, "data", "corrupted or unexpected header, token or answer" },
	{ EXIT_FAILURE_OTHER, "failure", "any other failure (I/O error, internal error)" },
	{ EXIT_NOTHING_DUE, "nothing-due", "`rotate --all`: no volume was due, nothing was done" },
	{ EXIT_PARTIAL, "partial", "`rotate --all`: some volumes failed (each result says which and why)" },
	{ EXIT_CHECK_FAILED, "check-failed", "`bench --check`: a job's encrypted/raw ratio is below the minimum" },
	{ 0, NULL, NULL },
};

const struct exit_code_info *exit_code_table(void)
{
	return table;
}

int exit_code_from_errno(int r)
{
	if (r < 0)
		r = -r;
	switch (r) {
	case 0:
		return EXIT_OK;
	case EINVAL: case E2BIG: case ERANGE: case EDOM: case ENAMETOOLONG:
	case EBADF: case ENOTDIR: case EISDIR: case ELOOP:
		return EXIT_USAGE;
	case EPERM: case EACCES: case EKEYREJECTED: case EKEYREVOKED:
	case EKEYEXPIRED: case ENOKEY: case EROFS:
		return EXIT_DENIED;
	case ENOMEM: case ENOBUFS:
		return EXIT_NOMEM;
	case ENODEV: case ENXIO: case ENOTBLK: case ENOENT: case ENOMEDIUM:
	case ENOSPC:
		return EXIT_DEVICE;
	case EBUSY: case EEXIST: case ETXTBSY: case EALREADY:
		return EXIT_BUSY;
	case ETIMEDOUT: case ECONNREFUSED: case ECONNRESET: case ECONNABORTED:
	case EHOSTUNREACH: case ENETUNREACH: case ENETDOWN: case EHOSTDOWN:
	case EAGAIN: case ENOTCONN: case ECOMM:
		return EXIT_UNAVAILABLE;
	case EOPNOTSUPP: case ENOSYS: case EPROTONOSUPPORT: case ENOPKG:
	case EAFNOSUPPORT: case ELIBACC:
		return EXIT_UNSUPPORTED;
	case EBADMSG: case EUCLEAN: case EILSEQ: case EPROTO: case ENOTUNIQ:
	case ENOMSG: case ENODATA:
		return EXIT_DATA;
	default:
		return EXIT_FAILURE_OTHER;
	}
}

bool errno_transient(int err)
{
	switch (err < 0 ? -err : err) {
	case EAGAIN:
	case ETIMEDOUT:
	case ECONNREFUSED:
	case ECONNRESET:
	case ECONNABORTED:
	case EHOSTUNREACH:
	case EHOSTDOWN:
	case ENETUNREACH:
	case ENETDOWN:
	case EIO:
		return true;
	default:
		return false;
	}
}
