// SPDX-License-Identifier: GPL-2.0-or-later
/* Rig helper: print an NVMe controller's serial, model and vendor id, read with
 * Identify Controller through libnvme. Usage: nvme-serial /dev/nvme0 */
#include <endian.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <libnvme.h>

#include "base/macro.h"

static void trim(char *s, size_t n)
{
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\0'))
		s[--n] = '\0';
}

int main(int argc, char **argv)
{
	_cleanup_close_ int fd = -1;
	struct nvme_id_ctrl id;
	char sn[sizeof(id.sn) + 1], mn[sizeof(id.mn) + 1];
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: nvme-serial /dev/nvmeN\n");
		return 1;
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "nvme-serial: %s: %m\n", argv[1]);
		return 4;
	}
	r = nvme_identify_ctrl(fd, &id);
	if (r != 0) {
		fprintf(stderr, "nvme-serial: %s: identify controller failed (%d: %m)\n", argv[1], r);
		return 10;
	}
	memcpy(sn, id.sn, sizeof(id.sn));
	sn[sizeof(id.sn)] = '\0';
	trim(sn, sizeof(id.sn));
	memcpy(mn, id.mn, sizeof(id.mn));
	mn[sizeof(id.mn)] = '\0';
	trim(mn, sizeof(id.mn));
	printf("serial=%s\nmodel=%s\nvid=0x%04x\n", sn, mn, le16toh(id.vid));
	return 0;
}
