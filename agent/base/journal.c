// SPDX-License-Identifier: LGPL-2.1-or-later
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "base/journal.h"
#include "base/macro.h"

#define MAX_FIELDS 64

static bool name_ok(const char *f, size_t len)
{
	if (len == 0 || len > 64 || f[0] == '_' || (f[0] >= '0' && f[0] <= '9'))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((f[i] >= 'A' && f[i] <= 'Z') || (f[i] >= '0' && f[i] <= '9') || f[i] == '_'))
			return false;
	return true;
}

int journal_send(const char *const *fields, size_t n)
{
	return journal_send_at(JOURNAL_SOCKET, fields, n);
}

int journal_send_at(const char *socket_path, const char *const *fields, size_t n)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	/* per field: name(+'=' or '\n'), [length], value, '\n' */
	struct iovec iov[MAX_FIELDS * 4];
	uint64_t lens[MAX_FIELDS];
	struct msghdr mh = { .msg_name = (void *)&sa, .msg_namelen = sizeof(sa), .msg_iov = iov };
	_cleanup_close_ int fd = -1;
	size_t k = 0;

	if (n > MAX_FIELDS)
		return -EINVAL;
	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, socket_path);
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(fields[i], '=');
		const char *v;
		size_t vlen;

		if (!eq || !name_ok(fields[i], (size_t)(eq - fields[i])))
			return -EINVAL;
		v = eq + 1;
		vlen = strlen(v);
		if (!memchr(v, '\n', vlen)) {
			iov[k++] = (struct iovec){ (void *)fields[i], (size_t)(eq - fields[i]) + 1 + vlen };
		} else {
			lens[i] = htole64((uint64_t)vlen);
			iov[k++] = (struct iovec){ (void *)fields[i], (size_t)(eq - fields[i]) };
			iov[k++] = (struct iovec){ (void *)"\n", 1 };
			iov[k++] = (struct iovec){ &lens[i], sizeof(lens[i]) };
			iov[k++] = (struct iovec){ (void *)v, vlen };
		}
		iov[k++] = (struct iovec){ (void *)"\n", 1 };
	}
	mh.msg_iovlen = k;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}
