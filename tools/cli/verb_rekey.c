// SPDX-License-Identifier: GPL-2.0-or-later
/* volkey rekey DEVICE|--root [--if-image] [--recovery-phrase-stdin] [--resilience M] [--hotzone-size MIB]
 *                           [--progress-interval S]
 * volkey rekey DEVICE --mark-image */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/secret.h"
#include "cli/verb_util.h"
#include "cli/verbs.h"
#include "host/rootdev.h"
#include "volume/rotate.h"
#include "volume/rotlog.h"
#include "volume/volume.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int progress(const struct rotate_progress *p, void *userdata)
{
	bool *tty = userdata;

	if (p->report)
		verb_print_progress(p, *tty);
	return stop_requested ? 1 : 0;
}

static void report(const struct rotate_event *ev, void *userdata)
{
	(void)userdata;
	rotate_journal(ev);
	if (ev->r >= 0)
		log_info("%s: %s", ev->device, ev->message);
}

/* Is the volume marked? 1 yes, 0 no; -errno when it cannot be read. */
static int marked(const char *device, struct errbuf *e)
{
	struct image_marker m;
	struct volume v;
	int r = volume_load(device, &v, e);

	if (r < 0)
		return r;
	r = volume_image_marker(&v, &m, NULL);
	volume_done(&v);
	return r < 0 ? err_fail(e, r, "%s: its volkey-image token is malformed", device) : r;
}

static int run(int argc, char **argv)
{
	enum { O_ROOT = 1000, O_IF_IMAGE, O_MARK, O_PHRASE, O_RES, O_HOTZONE, O_INTERVAL };
	static const struct option opts[] = {
		{ "root", no_argument, NULL, O_ROOT },
		{ "if-image", no_argument, NULL, O_IF_IMAGE },
		{ "mark-image", no_argument, NULL, O_MARK },
		{ "recovery-phrase-stdin", no_argument, NULL, O_PHRASE },
		{ "resilience", required_argument, NULL, O_RES },
		{ "hotzone-size", required_argument, NULL, O_HOTZONE },
		{ "progress-interval", required_argument, NULL, O_INTERVAL },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct rotate_opts o = { .kind = ROTATE_VOLUME_KEY, .token = -1, .progress_interval_ms = 5000 };
	_cleanup_secret_ char *phrase = NULL;
	bool root = false, if_image = false, mark = false, want_phrase = false, tty = isatty(STDERR_FILENO);
	struct errbuf e = { { 0 } };
	struct rekey_result res;
	struct volkey_config cfg;
	char dev[300], name[128];
	const char *device;
	unsigned u;
	int ch, r;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (ch) {
		case O_ROOT:
			root = true;
			break;
		case O_IF_IMAGE:
			if_image = true;
			break;
		case O_MARK:
			mark = true;
			break;
		case O_PHRASE:
			want_phrase = true;
			break;
		case O_RES:
			o.resilience = optarg;
			break;
		case O_HOTZONE:
			if (parse_uint(optarg, 1024 * 1024, &u) < 0 || u == 0)
				return log_error_errno(-EINVAL, "rekey: --hotzone-size %s is not a number of MiB", optarg);
			o.hotzone_bytes = (uint64_t)u << 20;
			break;
		case O_INTERVAL:
			if (parse_uint(optarg, 86400, &u) < 0)
				return log_error_errno(-EINVAL, "rekey: --progress-interval %s is not a number of seconds",
						       optarg);
			o.progress_interval_ms = (long)u * 1000;
			break;
		case 'h':
			verb_print_help(&verb_rekey);
			return 0;
		default:
			return -EINVAL;
		}
	}
	if (root ? optind != argc : optind + 1 != argc)
		return log_error_errno(-EINVAL, "rekey: give DEVICE, or --root");
	if (mark && (if_image || want_phrase || o.resilience || o.hotzone_bytes))
		return log_error_errno(-EINVAL, "rekey: --mark-image takes no other option");
	/* Unattended, on a root that may lose power at any moment: the journal
	 * resilience (each hotzone copied into the header first), not the
	 * checksum one (docs/root.md, "First-boot re-keying"). */
	if (!mark && !o.resilience)
		o.resilience = "journal";
	r = verb_load_config(&cfg);
	if (r < 0)
		return r;
	if (root) {
		r = rootdev_luks("/proc/self/mountinfo", "/sys", dev, sizeof(dev), name, sizeof(name), &e);
		if (r < 0 && if_image) {
			/* The unit runs on every boot, also on machines whose root is not encrypted. */
			log_info("rekey --root: %s; nothing to re-key", e.msg);
			return 0;
		}
		if (r < 0)
			return verb_fail(r, &e, "rekey --root");
		log_debug("rekey --root: / is on /dev/mapper/%s over %s", name, dev);
		device = dev;
	} else {
		device = argv[optind];
	}
	if (mark) {
		r = volume_mark_image(device, &cfg, &e);
		if (r < 0)
			return verb_fail(r, &e, "rekey --mark-image");
		log_info("%s: %s", device, r > 0 ? "already marked as an image template" :
						     "marked as an image template: each copy re-keys itself with 'volkey rekey'");
		return 0;
	}
	if (if_image) {
		r = marked(device, &e);
		if (r < 0)
			return verb_fail(r, &e, "rekey");
		if (r == 0) {
			log_info("%s: not a template from an image (no volkey-image marker); nothing to do", device);
			return 0;
		}
	}
	if (want_phrase) {
		r = verb_read_phrase("rekey", &phrase, &o.recovery_len);
		if (r < 0)
			return r;
		o.recovery_phrase = phrase;
	}
	o.report = report;
	o.progress = progress;
	o.userdata = &tty;
	{
		struct sigaction sa = { .sa_handler = on_signal };
		FILE *f;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		f = fopen("/proc/self/oom_score_adj", "we");
		if (f) {
			fputs("-1000", f);
			fclose(f);
		}
	}
	r = volume_rekey(device, &o, &cfg, &res, &e);
	if (r == -EINTR)
		return verb_fail(r, &e, "rekey"); /* paused: "run the same command again" is in the message */
	if (r < 0)
		return verb_fail(r, &e, "rekey");
	log_info("%s: re-keyed: new volume key, new secrets, LUKS UUID %s (was %s)", device, res.new_uuid,
		 res.old_uuid);
	if (res.recovery_dropped)
		log_warning("%s: the image's recovery keyslot was dropped (every copy of the image shared it); add this "
			    "volume's own with 'volkey recovery-key %s'", device, device);
	printf("%s\n", res.new_uuid);
	return 0;
}

const struct verb verb_rekey = {
	.name = "rekey",
	.args = "DEVICE|--root [--if-image] [--recovery-phrase-stdin] | DEVICE --mark-image",
	.summary = "give a volume made from a machine image its own volume key, secrets and LUKS UUID",
	.run = run,
	.help = "  --root              the LUKS2 device under the mapping / is mounted from\n"
		"  --if-image          only if the volume carries the volkey-image marker; otherwise\n"
		"                      (or, with --root, when / is not on LUKS2) one line and exit 0\n"
		"  --mark-image        mark the volume as an image template instead (format --image does it too)\n"
		"  --recovery-phrase-stdin  carry the image's recovery keyslot over (else it is dropped)\n"
		"  --resilience MODE   the re-encryption's: journal (default), checksum or none\n"
		"  --hotzone-size MIB  at most this much between checkpoints\n"
		"  --progress-interval S  seconds between progress reports (default 5)\n"
		"Online when mapped. Ctrl-C, SIGTERM, SIGHUP pause (exit 10); the same command continues, also\n"
		"after a crash. Prints the new LUKS UUID.\n",
};
