// SPDX-License-Identifier: LGPL-2.1-or-later
/* rotate --crypto-erase: decommissioning. Destroys every keyslot (libcryptsetup
 * overwrites each keyslot area), then zeroes the whole LUKS2 metadata area (both
 * header copies), so no token, no recovery phrase and no backup of a secret can
 * open the volume again; then asks the NVMe controller to destroy its own media
 * key where it offers that. A header backup taken earlier (backup-header) still
 * opens the data with an old secret: the documentation says so. Refused while
 * the device is mounted, mapped or held. Running it again after a crash goes on
 * where it stopped (a blank metadata area counts as already erased). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "base/cslock.h"
#include "base/log.h"
#include "base/macro.h"
#include "base/testhook.h"
#include "host/devcheck.h"
#include "host/nvme_erase.h"
#include "volume/rotate.h"
#include "volume/volume.h"

/* What an erased device starts with (the rest of the old metadata area is zero),
 * so that an erase interrupted after the header went is recognised and finished. */
#define ERASED_MAGIC "volkey-crypto-erased v1"
#define LUKS_MAGIC "LUKS\xba\xbe"

/* Zeroes [from, len) of path; with marker, then writes it over the first 4 KiB. */
static int zero_range(const char *path, unsigned long long from, unsigned long long len, const char *marker,
		      struct errbuf *e)
{
	/* Not const: in .bss it is zero pages, not 64 KiB of every volkey's file. */
	static char zeros[64 * 1024];
	struct stat st;
	int fd, r = 0;

	if (stat(path, &st) < 0)
		return err_fail(e, negative_errno(), "%s: %s", path, strerror(errno));
	/* O_EXCL on a block device: refused while anything in the kernel holds it. */
	fd = open(path, O_WRONLY | O_CLOEXEC | (S_ISBLK(st.st_mode) ? O_EXCL : 0));
	if (fd < 0)
		return err_fail(e, negative_errno(), "%s: cannot open for writing: %s", path, strerror(errno));
	for (unsigned long long off = from; off < len && r >= 0;) {
		size_t n = len - off < sizeof(zeros) ? (size_t)(len - off) : sizeof(zeros);
		ssize_t w = pwrite(fd, zeros, n, (off_t)off);
		if (w <= 0)
			r = err_fail(e, w < 0 ? negative_errno() : -EIO, "%s: cannot overwrite the header at %llu: %s",
				     path, off, strerror(errno));
		else
			off += (unsigned long long)w;
	}
	if (r >= 0 && fsync(fd) < 0)
		r = err_fail(e, negative_errno(), "%s: cannot flush: %s", path, strerror(errno));
	if (r >= 0 && marker) {
		char first[4096] = { 0 };
		snprintf(first, sizeof(first), "%s\n", marker);
		test_crash_point("erase-zeroed");
		if (pwrite(fd, first, sizeof(first), 0) != (ssize_t)sizeof(first) || fsync(fd) < 0)
			r = err_fail(e, -EIO, "%s: cannot write the erase marker: %s", path, strerror(errno));
	}
	close(fd);
	return r;
}

/* Destroys keyslots and the metadata area. *ret_was tells what was there. */
static int erase_header(const char *device, char *uuid, size_t uuid_n, int *ret_keyslots, struct errbuf *e)
{
	CS_LOCKED;
	struct crypt_device *cd = NULL;
	unsigned long long hdr;
	int r, n = 0;

	r = crypt_init(&cd, device);
	if (r < 0)
		return err_fail(e, r, "%s: cannot open device: %s", device, strerror(-r));
	r = crypt_load(cd, CRYPT_LUKS, NULL);
	if (r < 0) {
		char first[64] = "";
		int fd = open(device, O_RDONLY | O_CLOEXEC);
		bool erasing = false;

		crypt_free(cd);
		if (fd >= 0 && pread(fd, first, sizeof(first) - 1, 0) > 0)
			/* Interrupted after the metadata area went: our marker, or the LUKS
			 * magic of a header whose JSON areas are already zero. */
			erasing = strncmp(first, ERASED_MAGIC, strlen(ERASED_MAGIC)) == 0 ||
				  memcmp(first, LUKS_MAGIC, 6) == 0;
		if (fd >= 0)
			close(fd);
		if (!erasing)
			return err_fail(e, -ENODEV, "%s: not a LUKS volume; nothing was erased", device);
		if (strncmp(first, ERASED_MAGIC, strlen(ERASED_MAGIC)) != 0) {
			r = zero_range(device, 4096, 16ULL * 1024 * 1024, ERASED_MAGIC, e);
			if (r < 0)
				return r;
		}
		*ret_keyslots = -1;
		return 0;
	}
	snprintf(uuid, uuid_n, "%s", crypt_get_uuid(cd) ? crypt_get_uuid(cd) : "");
	hdr = (unsigned long long)crypt_get_data_offset(cd) * 512ULL;
	if (hdr == 0)
		hdr = 16ULL * 1024 * 1024;
	for (int k = 0; k < crypt_keyslot_max(crypt_get_type(cd)); k++) {
		crypt_keyslot_info ki = crypt_keyslot_status(cd, k);
		if (ki == CRYPT_SLOT_INACTIVE || ki == CRYPT_SLOT_INVALID)
			continue;
		r = crypt_keyslot_destroy(cd, k);
		if (r < 0) {
			crypt_free(cd);
			return err_fail(e, r, "%s: cannot destroy keyslot %d: %s", device, k, strerror(-r));
		}
		n++;
		test_crash_point("erase-keyslot");
	}
	crypt_free(cd);
	/* Everything after the binary header first (the JSON areas of both copies and
	 * the keyslot areas), then the marker over the binary header. */
	r = zero_range(device, 4096, hdr, ERASED_MAGIC, e);
	if (r < 0)
		return r;
	test_crash_point("erase-header");
	*ret_keyslots = n;
	return 0;
}

int volume_crypto_erase(const char *device, const struct rotate_opts *o, const struct volkey_config *cfg,
			struct errbuf *e)
{
	struct nvme_erase_result ne = { 0 };
	struct dev_state ds;
	char uuid[40] = "", msg[600];
	int r, nks = 0;

	(void)cfg;
	r = dev_probe(device, &ds);
	if (r < 0)
		return err_fail(e, r, "%s: %s", device, strerror(-r));
	if (ds.mountpoint[0])
		return err_fail(e, -EBUSY, "%s: mounted on %s; unmount and close it first", device, ds.mountpoint);
	if (ds.holder[0])
		return err_fail(e, -EBUSY, "%s: in use by %s; close it first (volkey close)", device, ds.holder);
	if (ds.busy)
		return err_fail(e, -EBUSY, "%s: in use (the kernel refuses exclusive access)", device);
	r = erase_header(device, uuid, sizeof(uuid), &nks, e);
	if (r < 0)
		goto out;
	if (ds.is_block) {
		r = nvme_crypto_erase(device, o->nvme_erase, &ne);
		test_crash_point("erase-nvme");
	} else {
		snprintf(ne.detail, sizeof(ne.detail), "a regular file has no media key");
		r = -EOPNOTSUPP;
	}
	if (r == -EOPNOTSUPP) {
		snprintf(msg, sizeof(msg),
			 "%s; media key NOT erased: %s. The data is ciphertext under a key nothing can unwrap any more",
			 nks >= 0 ? "keyslots and LUKS2 header destroyed" : "LUKS2 header was already destroyed",
			 ne.detail);
		r = 0;
	} else if (r < 0) {
		err_fail(e, r, "%s: LUKS2 header destroyed, but the NVMe crypto erase failed: %s", device, ne.detail);
		goto out;
	} else {
		snprintf(msg, sizeof(msg), "%s; NVMe %s",
			 nks >= 0 ? "keyslots and LUKS2 header destroyed" : "LUKS2 header was already destroyed",
			 ne.detail);
	}
	log_info("%s: %s", device, msg);
	rotate_report(o, &(struct rotate_event){ .kind = ROTATE_CRYPTO_ERASE, .device = device, .uuid = uuid,
						 .token = -1, .request_ids = "",
						 .new_key = nvme_erase_method_name(ne.method), .message = msg });
	return 0;
out:
	rotate_report(o, &(struct rotate_event){ .kind = ROTATE_CRYPTO_ERASE, .device = device, .uuid = uuid,
						 .token = -1, .request_ids = "", .r = r, .message = e->msg });
	return r;
}
