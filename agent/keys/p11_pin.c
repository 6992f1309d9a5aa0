// SPDX-License-Identifier: LGPL-2.1-or-later
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "base/macro.h"
#include "base/secret.h"
#include "keys/p11_pin.h"

/* "file:///p", "file:/p" or "/p" → "/p"; NULL for anything else. */
static const char *pin_path(const char *source)
{
	if (strncmp(source, "file://", 7) == 0)
		source += 7;
	else if (strncmp(source, "file:", 5) == 0)
		source += 5;
	return source[0] == '/' ? source : NULL;
}

int p11_pin_read(struct kctx *c, const char *source, char **ret_pin, size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	_cleanup_secret_ char *pin = NULL;
	const char *path;
	struct stat st;
	size_t len = 0;

	if (!source || !*source)
		return kctx_fail(c, -EINVAL, "the pkcs11 URI has no pin-source: add ?pin-source=/etc/volkey/NAME.pin "
				 "(a 0600 file holding the PIN; for CloudHSM \"user:password\")");
	path = pin_path(source);
	if (!path)
		return kctx_fail(c, -EINVAL, "pin-source %s: only an absolute file path or a file: URI is supported",
				 source);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return kctx_fail(c, negative_errno(), "PIN file %s: %m", path);
	if (fstat(fd, &st) < 0)
		return kctx_fail(c, negative_errno(), "PIN file %s: %m", path);
	if (!S_ISREG(st.st_mode))
		return kctx_fail(c, -EINVAL, "PIN file %s is not a regular file", path);
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return kctx_fail(c, -EPERM, "PIN file %s is owned by uid %u: must be owned by root or by this user",
				 path, (unsigned)st.st_uid);
	if (st.st_mode & 077)
		return kctx_fail(c, -EPERM, "PIN file %s has mode %04o: must be 0600 (no access for group or others)",
				 path, (unsigned)(st.st_mode & 07777));
	if (st.st_size <= 0)
		return kctx_fail(c, -EINVAL, "PIN file %s is empty", path);
	if (st.st_size > P11_PIN_MAX)
		return kctx_fail(c, -EINVAL, "PIN file %s holds %lld bytes: a PIN is at most %d", path,
				 (long long)st.st_size, P11_PIN_MAX);
	pin = secret_alloc(P11_PIN_MAX + 2);
	if (!pin)
		return kctx_fail(c, -ENOMEM, "cannot allocate locked memory for the PIN");
	/* Read to end of file, bounded: the file may change between fstat and read. */
	for (;;) {
		ssize_t k = read(fd, pin + len, P11_PIN_MAX + 1 - len);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return kctx_fail(c, negative_errno(), "PIN file %s: %m", path);
		}
		if (k == 0)
			break;
		len += (size_t)k;
		if (len > P11_PIN_MAX)
			return kctx_fail(c, -EINVAL, "PIN file %s holds more than %d bytes", path, P11_PIN_MAX);
	}
	if (len > 0 && pin[len - 1] == '\n')
		pin[--len] = '\0';
	if (len > 0 && pin[len - 1] == '\r')
		pin[--len] = '\0';
	if (len == 0)
		return kctx_fail(c, -EINVAL, "PIN file %s is empty", path);
	if (memchr(pin, '\0', len) || memchr(pin, '\n', len))
		return kctx_fail(c, -EINVAL, "PIN file %s holds more than one line or a NUL byte", path);
	*ret_pin = TAKE_PTR(pin);
	*ret_len = len;
	return 0;
}
