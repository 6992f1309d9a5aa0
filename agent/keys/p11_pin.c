// SPDX-License-Identifier: LGPL-2.1-or-later
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Is real (a resolved path) strictly inside the resolved directory dir? */
static bool inside(const char *real, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1) /* "/" */
		return real[0] == '/' && real[1] != '\0';
	return strncmp(real, dir, n) == 0 && real[n] == '/' && real[n + 1] != '\0';
}

int p11_pin_open(const struct volkey_config *cfg, const char *source, int *ret_fd, struct errbuf *e)
{
	_cleanup_free_ char *real = NULL, *dir = NULL;
	_cleanup_close_ int fd = -1;
	char proc[64], opened[PATH_MAX];
	const char *path = pin_path(source);
	ssize_t n;

	if (!path)
		return err_fail(e, -EINVAL, "pin-source %s: only an absolute file path or a file: URI is supported",
				source);
	dir = realpath(cfg->p11_pin_dir, NULL);
	real = realpath(path, NULL);
	if (!real && dir) {
		int r = negative_errno();
		/* Say why only when the file's directory is the PIN directory (or in it):
		 * nothing about other files leaks to whoever wrote the URI. */
		_cleanup_free_ char *parent = strdup(path), *rparent = NULL;
		char *slash = parent ? strrchr(parent, '/') : NULL;

		if (slash && slash != parent) {
			*slash = '\0';
			rparent = realpath(parent, NULL);
		}
		if (rparent && (strcmp(rparent, dir) == 0 || inside(rparent, dir)))
			return err_fail(e, r, "PIN file %s: %s", path, strerror(-r));
	}
	if (!real || !dir || !inside(real, dir))
		return err_fail(e, -EPERM, "pin-source %s is outside [pkcs11] pin_dir %s: refused", path,
				cfg->p11_pin_dir);
	/* Opened by its resolved path without following a last symlink, then checked
	 * again by where the descriptor really is: a directory swapped for a symlink
	 * after realpath() cannot lead outside. */
	fd = open(real, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
	if (fd < 0)
		return err_fail(e, negative_errno(), "PIN file %s: %s", path, strerror(errno));
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, opened, sizeof(opened) - 1);
	if (n < 0)
		return err_fail(e, negative_errno(), "PIN file %s: cannot check where it is (%s): %s", path, proc,
				strerror(errno));
	opened[n] = '\0';
	if (!inside(opened, dir))
		return err_fail(e, -EPERM, "pin-source %s is outside [pkcs11] pin_dir %s: refused", path,
				cfg->p11_pin_dir);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int p11_pin_read(struct kctx *c, const char *source, char **ret_pin, size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	_cleanup_secret_ char *pin = NULL;
	struct errbuf e = { { 0 } };
	const char *path;
	struct stat st;
	size_t len = 0;
	int r;

	if (!source || !*source)
		return kctx_fail(c, -EINVAL, "the pkcs11 URI has no pin-source: add ?pin-source=/etc/volkey/pins/NAME.pin "
				 "(a 0600 file holding the PIN; for CloudHSM \"user:password\")");
	r = p11_pin_open(kctx_config(c), source, &fd, &e);
	if (r < 0)
		return kctx_fail(c, r, "%s", e.msg);
	path = pin_path(source);
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
