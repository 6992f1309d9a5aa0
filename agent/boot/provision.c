// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <blkid/blkid.h>

#include "base/cslock.h"
#include "base/fileio.h"
#include "base/secret.h"
#include "base/spawn.h"
#include "base/testhook.h"
#include "boot/provision.h"
#include "conf/crypttab.h"
#include "host/devcheck.h"
#include "volume/volume.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int done(struct device_outcome *o, const char *state, int r, const char *fmt, ...) _printf_(4, 5);
static int done(struct device_outcome *o, const char *state, int r, const char *fmt, ...)
{
	va_list ap;

	snprintf(o->state, sizeof(o->state), "%s", state);
	va_start(ap, fmt);
	vsnprintf(o->detail, sizeof(o->detail), fmt, ap);
	va_end(ap);
	o->error = r < 0 ? r : 0;
	return r < 0 ? r : 0;
}

static void classify(const char *devnode, const struct nvme_rules *rules, struct device_outcome *o,
		     struct nvme_ident *n)
{
	struct nvme_id_ctrl id;
	const char *base = strrchr(devnode, '/') ? strrchr(devnode, '/') + 1 : devnode;

	memset(n, 0, sizeof(*n));
	n->cls = NVME_CLASS_OTHER;
	n->instance_store_index = -1;
	if (strncmp(base, "nvme", 4) == 0 && nvme_identify_path(devnode, &id) == 0)
		nvme_classify(&id, rules, n);
	if (strncmp(base, "md", 2) == 0 || strncmp(devnode, "/dev/md/", 8) == 0) {
		/* the instance-store stripe volkeyd built: one instance-store device, id "raid0" */
		_cleanup_free_ char *a = realpath(devnode, NULL), *b = realpath(VOLKEY_RAID_PATH, NULL);
		if (a && b && !strcmp(a, b)) {
			n->cls = NVME_CLASS_INSTANCE_STORE;
			snprintf(n->serial, sizeof(n->serial), "raid0");
		}
	}
	snprintf(o->cls, sizeof(o->cls), "%s", nvme_class_to_string(n->cls));
	if (n->cls == NVME_CLASS_EBS)
		snprintf(o->id, sizeof(o->id), "%s", n->ebs_volume_id);
	else if (n->cls == NVME_CLASS_INSTANCE_STORE)
		snprintf(o->id, sizeof(o->id), "%s", n->serial);
}

/* The device's id and LUKS UUID come from the device (hostile) and become part of
 * the mapping name and the mount path: a device whose id is not a safe name
 * ("..", "/", spaces) is refused, never escaped into something else. */
static int refuse_unsafe_ids(struct device_outcome *o)
{
	const char *what = "id", *bad = o->id;
	char shown[64];
	size_t i;

	if (!bad[0] || name_component_safe(bad)) {
		what = "LUKS UUID";
		bad = o->luks_uuid;
		if (!bad[0] || name_component_safe(bad))
			return 0;
	}
	for (i = 0; bad[i] && i + 1 < sizeof(shown); i++)
		shown[i] = bad[i] > 0x20 && bad[i] < 0x7f ? bad[i] : '?';
	shown[i] = '\0';
	return done(o, "failed", -EINVAL, "refused: the device's %s \"%s\" is not a safe name for a mapping or mount path "
		    "(only A-Z a-z 0-9 . _ -, not . or ..)", what, shown);
}

/* Stable mapping names: volkey-ebs-vol-…, volkey-is-N or volkey-is-SERIAL, volkey-UUID. */
static void mapping_name(const struct nvme_ident *n, const struct device_outcome *o, const char *uuid, char *buf,
			 size_t len)
{
	if (n->cls == NVME_CLASS_EBS && o->id[0])
		snprintf(buf, len, "volkey-ebs-%s", o->id);
	else if (n->cls == NVME_CLASS_INSTANCE_STORE && n->instance_store_index >= 0)
		snprintf(buf, len, "volkey-is-%d", n->instance_store_index);
	else if (n->cls == NVME_CLASS_INSTANCE_STORE && o->id[0])
		snprintf(buf, len, "volkey-is-%s", o->id);
	else
		snprintf(buf, len, "volkey-%s", uuid);
}

static const struct class_policy *class_policy(const struct volkey_config *cfg, const struct nvme_ident *n)
{
	if (n->cls == NVME_CLASS_INSTANCE_STORE)
		return &cfg->policy.instance_store;
	if (n->cls == NVME_CLASS_EBS)
		return &cfg->policy.ebs;
	return NULL;
}

/* May the policy format this device (blank, or our own interrupted format)? */
static enum provision_mode may_format(const struct volkey_config *cfg, const struct nvme_ident *n,
				      const struct device_outcome *o)
{
	if (n->cls == NVME_CLASS_INSTANCE_STORE)
		return cfg->policy.instance_store.provision;
	if (n->cls == NVME_CLASS_EBS && policy_ebs_listed(&cfg->policy, o->id) &&
	    cfg->policy.ebs.provision == PROVISION_AUTO)
		return PROVISION_AUTO;
	return PROVISION_OFF;
}

static int run_mkfs(const char *fstype, const char *dev)
{
	char prog[32];
	char *argv[] = { prog, "-q", (char *)dev, NULL };
	int r;

	snprintf(prog, sizeof(prog), "mkfs.%s", fstype);
	r = spawn_wait(argv, false);
	return r < 0 ? r : r == 0 ? 0 : -EIO;
}

static int fs_type(const char *dev, char *buf, size_t n)
{
	blkid_probe pr = blkid_new_probe_from_filename(dev);
	const char *t = NULL;
	int r = -ENODATA;

	if (!pr)
		return -errno ? -errno : -EIO;
	blkid_probe_enable_superblocks(pr, 1);
	if (blkid_do_safeprobe(pr) == 0 && blkid_probe_lookup_value(pr, "TYPE", &t, NULL) == 0) {
		snprintf(buf, n, "%s", t);
		r = 0;
	}
	blkid_free_probe(pr);
	return r;
}

static int mkdir_p(const char *path)
{
	char tmp[256];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
				return negative_errno();
			*p = '/';
		}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return negative_errno();
	return 0;
}

/* Whether the policy owns this device's contents: instance store it provisions,
 * EBS volumes listed in [ebs] volumes. Only those are mounted: any other volkey
 * volume came on a disk someone attached, and what is inside it (setuid
 * programs, device nodes, a filesystem crafted to crash the kernel) is theirs. */
static bool policy_owns(const struct volkey_config *cfg, const struct nvme_ident *n, const struct device_outcome *o)
{
	if (n->cls == NVME_CLASS_INSTANCE_STORE)
		return cfg->policy.instance_store.provision != PROVISION_OFF;
	return n->cls == NVME_CLASS_EBS && policy_ebs_listed(&cfg->policy, o->id);
}

static void why_not_mounted(const struct nvme_ident *n, char *buf, size_t len)
{
	snprintf(buf, len, "%s", n->cls == NVME_CLASS_EBS ? "not listed in [ebs] volumes" :
				 n->cls == NVME_CLASS_INSTANCE_STORE ? "[instance-store] provision = off" :
								       "not an instance-store or EBS device");
}

/* Listed in /etc/crypttab: systemd-cryptsetup (with volkey's token plugin) owns
 * it, whatever it holds; volkeyd neither opens, formats nor mounts it. */
static bool crypttab_owns(const struct volkey_config *cfg, const char *devnode, const char *uuid,
			  struct device_outcome *o)
{
	struct crypttab_entry ce;
	int r = crypttab_lookup(cfg->policy.crypttab, devnode, uuid, &ce);

	if (r < 0) {
		/* unreadable: nobody can tell who owns it, so leave it alone */
		done(o, "failed", r, "cannot read %s: %s; left alone", cfg->policy.crypttab, strerror(-r));
		return true;
	}
	if (r == 0)
		return false;
	done(o, "untouched", 0, "listed in %s as %s (line %d): left to systemd-cryptsetup", cfg->policy.crypttab,
	     ce.name, ce.line);
	return true;
}

/* mkfs (after a new format only) and mount, as the class policy says: always
 * nosuid,nodev (and noexec when the class says so). */
static int finish(const struct class_policy *cp, bool fresh, const char *id, struct device_outcome *o)
{
	char mp[256], type[32];
	unsigned long flags;
	int r;

	if (!cp)
		return 0;
	if (fresh && cp->mkfs[0]) {
		r = run_mkfs(cp->mkfs, o->mapping);
		if (r < 0)
			return r;
	}
	if (!cp->mount[0])
		return 0;
	snprintf(mp, sizeof(mp), cp->mount, id);
	if (fs_type(o->mapping, type, sizeof(type)) < 0)
		return -ENODATA;
	r = mkdir_p(mp);
	if (r < 0)
		return r;
	flags = MS_NOATIME | MS_NOSUID | MS_NODEV | (cp->noexec ? MS_NOEXEC : 0);
	if (mount(o->mapping, mp, type, flags, NULL) < 0 && errno != EBUSY)
		return negative_errno();
	snprintf(o->mountpoint, sizeof(o->mountpoint), "%s", mp);
	return 0;
}

/* struct volume (13 KiB, its token table) lives on the heap here and in
 * provision_device: on a worker's stack it stayed resident for the thread's
 * life, twice over, in every one of up to 64 workers. */
static int open_volume(const char *devnode, const struct volkey_config *cfg, const struct nvme_ident *n,
		       struct device_outcome *o)
{
	struct unlock_result u = { .token = -1 };
	struct errbuf e = { { 0 } };
	_cleanup_free_ struct volume *v = malloc(sizeof(*v));
	char name[128];
	int r;

	if (!v)
		return done(o, "failed", -ENOMEM, "out of memory");
	r = volume_load(devnode, v, &e);
	if (r < 0)
		return done(o, "failed", r, "%s", e.msg);
	snprintf(o->luks_uuid, sizeof(o->luks_uuid), "%s", v->uuid);
	r = refuse_unsafe_ids(o);
	if (r < 0) {
		volume_done(v);
		return r;
	}
	mapping_name(n, o, v->uuid, name, sizeof(name));
	r = volume_open(v, cfg, name, 0, &u, &e);
	o->token = u.token;
	unlock_result_clear(&u);
	volume_done(v);
	if (r < 0)
		return done(o, "failed", r, "%s", e.msg);
	snprintf(o->mapping, sizeof(o->mapping), "/dev/mapper/%s", name);
	return 0;
}

static int format_auto(const char *devnode, const struct volkey_config *cfg, const struct class_policy *cp,
		       struct device_outcome *o)
{
	struct format_opts fo = { .device = devnode, .nkeys = 1 };
	struct errbuf e = { { 0 } };
	char ctx[96];
	int r;

	if (!cp->key[0])
		return done(o, "failed", -EINVAL, "policy says provision=auto but names no key");
	fo.keys[0] = cp->key;
	if (o->id[0]) {
		snprintf(ctx, sizeof(ctx), "device=%s", o->id);
		fo.context[fo.ncontext++] = ctx;
	}
	r = volume_format(&fo, cfg, o->luks_uuid, sizeof(o->luks_uuid), &e);
	if (r < 0)
		return done(o, "failed", r, "%s", e.msg);
	return 0;
}

/* A LUKS2 header marked volkey-ephemeral, a random volume key, no keyslot: the
 * key exists only in the kernel's mapping and is gone at reboot. */
static int ephemeral(const char *devnode, const struct nvme_ident *n, struct device_outcome *o)
{
	CS_LOCKED;
	struct crypt_params_luks2 params = { .sector_size = 4096, .subsystem = VOLKEY_SUBSYSTEM_EPHEMERAL };
	struct crypt_device *cd = NULL;
	char name[128];
	int r;

	r = crypt_init(&cd, devnode);
	if (r >= 0)
		r = volume_set_fast_pbkdf(cd);
	if (r >= 0)
		r = crypt_format(cd, CRYPT_LUKS2, "aes", "xts-plain64", NULL, NULL, 64, &params);
	if (r >= 0) {
		snprintf(o->luks_uuid, sizeof(o->luks_uuid), "%s", crypt_get_uuid(cd));
		mapping_name(n, o, o->luks_uuid, name, sizeof(name));
		r = crypt_activate_by_volume_key(cd, name, NULL, 0, 0);
	}
	crypt_free(cd);
	if (r < 0)
		return done(o, "failed", r, "ephemeral format of %s failed: %s", devnode, strerror(-r));
	snprintf(o->mapping, sizeof(o->mapping), "/dev/mapper/%s", name);
	return 0;
}

/* Held by a dm-crypt mapping (its dm uuid starts CRYPT-): ret gets /dev/mapper/NAME. */
static bool mapped_by_dm_crypt(const struct dev_state *s, char *ret, size_t n)
{
	char kname[32], path[96], name[128];
	_cleanup_free_ char *uuid = NULL;

	if (sscanf(s->holder, "%31[^ ] (%127[^)])", kname, name) != 2 || strncmp(kname, "dm-", 3))
		return false;
	snprintf(path, sizeof(path), "/sys/block/%s/dm/uuid", kname);
	if (read_first_line(NULL, path, &uuid) < 0 || strncmp(uuid, "CRYPT-", 6))
		return false;
	snprintf(ret, n, "/dev/mapper/%s", name);
	return true;
}

/* After a crash between unlock and mkfs, a volume the policy provisioned has no
 * filesystem and a data area never written through: mkfs is still owed. */
static bool mkfs_owed(const char *devnode, const struct class_policy *cp, enum provision_mode m,
		      const struct device_outcome *o)
{
	CS_LOCKED;
	struct crypt_device *cd = NULL;
	unsigned long long off = 0;
	char type[32];

	if (!cp || !cp->mkfs[0] || m != PROVISION_AUTO || fs_type(o->mapping, type, sizeof(type)) == 0)
		return false;
	if (crypt_init(&cd, devnode) == 0 && crypt_load(cd, CRYPT_LUKS2, NULL) == 0)
		off = crypt_get_data_offset(cd) * 512ULL;
	crypt_free(cd);
	return off > 0 && dev_range_blank(devnode, off) == 1;
}

int provision_device(const char *devnode, const struct volkey_config *cfg, const struct nvme_rules *rules,
		     struct device_outcome *o)
{
	const struct class_policy *cp;
	struct nvme_ident n;
	struct dev_state s;
	char held[160] = "";
	double t0 = now_s();
	bool fresh = false;
	int r;

	memset(o, 0, sizeof(*o));
	o->token = -1;
	snprintf(o->device, sizeof(o->device), "%s", devnode);
	classify(devnode, rules, o, &n);
	if (refuse_unsafe_ids(o) < 0)
		goto out;
	cp = class_policy(cfg, &n);
	r = dev_probe(devnode, &s);
	if (r < 0) {
		done(o, "failed", r, "cannot probe %s: %s", devnode, strerror(-r));
		goto out;
	}
	if (s.mountpoint[0] || (s.holder[0] && !mapped_by_dm_crypt(&s, held, sizeof(held)))) {
		done(o, "untouched", 0, "in use (%s)", s.mountpoint[0] ? s.mountpoint : s.holder);
		goto out;
	}
	if (!strcmp(s.signature, "crypto_LUKS")) {
		struct volume *v = malloc(sizeof(*v)); /* not on the stack: see open_volume() */
		struct errbuf e = { { 0 } };
		char sub[64] = "";

		if (v && volume_load(devnode, v, &e) == 0) {
			snprintf(sub, sizeof(sub), "%s", v->subsystem);
			snprintf(o->luks_uuid, sizeof(o->luks_uuid), "%s", v->uuid);
			volume_done(v);
		}
		free(v);
		if (crypttab_owns(cfg, devnode, o->luks_uuid, o))
			goto out;
		if (s.holder[0] && strncmp(sub, VOLKEY_SUBSYSTEM, strlen(VOLKEY_SUBSYSTEM))) {
			/* someone else's LUKS volume, mapped: never touched, not even mounted */
			done(o, "untouched", 0, "LUKS volume%s%s, mapped as %s: not volkey's", sub[0] ? " " : "", sub,
			     held);
			goto out;
		} else if (s.holder[0]) {
			/* Already mapped (a restarted agent, or opened by hand): finish what is owed. */
			if (refuse_unsafe_ids(o) < 0)
				goto out;
			snprintf(o->mapping, sizeof(o->mapping), "%s", held);
			fresh = mkfs_owed(devnode, cp, may_format(cfg, &n, o), o);
			done(o, "already-open", 0, "already mapped as %s%s", held, fresh ? "; making its filesystem" : "");
		} else if (!strcmp(sub, VOLKEY_SUBSYSTEM) && !policy_owns(cfg, &n, o) && !cfg->policy.unlock_unlisted) {
			char why[64];
			why_not_mounted(&n, why, sizeof(why));
			done(o, "untouched", 0, "volkey volume %s: left locked ([volkey] unlock_unlisted = no)", why);
			goto out;
		} else if (!strcmp(sub, VOLKEY_SUBSYSTEM)) {
			r = open_volume(devnode, cfg, &n, o);
			if (r < 0)
				goto out;
			fresh = mkfs_owed(devnode, cp, may_format(cfg, &n, o), o);
			done(o, "unlocked", 0, "unlocked through token %d%s", o->token,
			     fresh ? "; its filesystem was never made (interrupted provisioning): making it" : "");
		} else if (!strcmp(sub, VOLKEY_SUBSYSTEM_PROVISIONING) && may_format(cfg, &n, o) == PROVISION_AUTO) {
			r = format_auto(devnode, cfg, cp, o);
			if (r < 0)
				goto out;
			r = open_volume(devnode, cfg, &n, o);
			if (r < 0)
				goto out;
			fresh = true;
			done(o, "formatted", 0, "finished an interrupted format");
		} else if (!strcmp(sub, VOLKEY_SUBSYSTEM_EPHEMERAL) && may_format(cfg, &n, o) == PROVISION_EPHEMERAL) {
			r = ephemeral(devnode, &n, o);
			if (r < 0)
				goto out;
			fresh = true;
			done(o, "ephemeral", 0, "new ephemeral key (the previous contents are gone by design)");
		} else {
			done(o, "untouched", 0, "LUKS volume%s%s not covered by the policy", sub[0] ? " " : "", sub);
			goto out;
		}
	} else if (s.signature[0] || s.has_data) {
		done(o, "untouched", 0, "foreign data (%s)", s.signature[0] ? s.signature : "non-zero bytes");
		goto out;
	} else {
		enum provision_mode m = may_format(cfg, &n, o);

		if (crypttab_owns(cfg, devnode, "", o))
			goto out;
		if (m == PROVISION_OFF) {
			done(o, "untouched", 0, "blank; the policy does not provision %s%s", o->cls,
			     n.cls == NVME_CLASS_EBS ? " volumes not listed in [ebs] volumes" : " devices");
			goto out;
		}
		r = m == PROVISION_EPHEMERAL ? ephemeral(devnode, &n, o) : format_auto(devnode, cfg, cp, o);
		if (r < 0)
			goto out;
		if (m == PROVISION_AUTO) {
			r = open_volume(devnode, cfg, &n, o);
			if (r < 0)
				goto out;
		}
		fresh = true;
		done(o, m == PROVISION_EPHEMERAL ? "ephemeral" : "formatted", 0, "%s",
		     m == PROVISION_EPHEMERAL ? "new ephemeral volume" : "formatted and unlocked");
	}
	o->owned = policy_owns(cfg, &n, o);
	if (fresh)
		test_crash_point("provision-opened");
	if (cp && cp->mount[0] && !policy_owns(cfg, &n, o)) {
		char why[64];
		size_t l = strlen(o->detail);
		why_not_mounted(&n, why, sizeof(why));
		snprintf(o->detail + l, sizeof(o->detail) - l, "; not mounted: %s", why);
		goto out;
	}
	r = finish(cp, fresh, o->id[0] ? o->id : o->luks_uuid, o);
	if (r < 0)
		done(o, "failed", r, "unlocked, but mkfs or mount failed: %s", strerror(-r));
out:
	o->seconds = now_s() - t0;
	return o->error;
}
