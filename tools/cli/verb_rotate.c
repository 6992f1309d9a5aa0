// SPDX-License-Identifier: GPL-2.0-or-later
/* volkey rotate DEVICE --rewrap [--to-key URI] | --secret | --volume-key | --crypto-erase --yes
 * volkey rotate --all --rewrap|--secret|--volume-key [--older-than DAYS] [--dry-run] [--json] */
#include <getopt.h>
#include <json-c/json.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/exitcode.h"
#include "base/log.h"
#include "base/secret.h"
#include "cli/verb_util.h"
#include "cli/verbs.h"
#include "host/nvme_erase.h"
#include "volume/rotate.h"
#include "volume/rotlog.h"
#include "volume/volume_status.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

struct ctx {
	bool json;
	bool dry_run; /* --all --dry-run: report what is due, change nothing */
	bool tty;
	struct json_object *events; /* this device's events */
};

static void report(const struct rotate_event *ev, void *userdata)
{
	struct ctx *c = userdata;
	struct json_object *o = json_object_new_object();

	rotate_journal(ev);
	if (ev->r < 0)
		log_debug("rotate %s %s: failed: %s", rotate_kind_name(ev->kind), ev->device, ev->message);
	else if (ev->token >= 0)
		log_info("%s: token %d: %s (%s -> %s, generation %lu)", ev->device, ev->token, ev->message,
			 ev->old_key ? ev->old_key : "-", ev->new_key ? ev->new_key : "-", ev->generation);
	else
		log_info("%s: %s", ev->device, ev->message);
	if (!o)
		return;
	if (ev->token >= 0)
		json_object_object_add(o, "token", json_object_new_int(ev->token));
	if (ev->old_key)
		json_object_object_add(o, "old_key", json_object_new_string(ev->old_key));
	if (ev->new_key)
		json_object_object_add(o, "new_key", json_object_new_string(ev->new_key));
	if (ev->generation)
		json_object_object_add(o, "generation", json_object_new_int64((int64_t)ev->generation));
	json_object_object_add(o, "kms_request_ids", json_object_new_string(ev->request_ids ? ev->request_ids : ""));
	json_object_object_add(o, "outcome", json_object_new_string(ev->r < 0 ? "failed" : "done"));
	json_object_object_add(o, "message", json_object_new_string(ev->message ? ev->message : ""));
	json_object_array_add(c->events, o);
}

static int progress(const struct rotate_progress *p, void *userdata)
{
	struct ctx *c = userdata;

	if (p->report)
		verb_print_progress(p, c->tty);
	return stop_requested ? 1 : 0;
}

/* One result line for --json: the device and every event. */
static void print_result(const char *device, enum rotate_kind kind, const char *outcome, int r, double age,
			 struct json_object *events, const char *error)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "device", json_object_new_string(device));
	json_object_object_add(o, "kind", json_object_new_string(rotate_kind_name(kind)));
	json_object_object_add(o, "outcome", json_object_new_string(outcome));
	json_object_object_add(o, "exit_code", json_object_new_int(exit_code_from_errno(r)));
	if (age >= 0)
		json_object_object_add(o, "age_days", json_object_new_double(floor(age * 100) / 100));
	if (error)
		json_object_object_add(o, "error", json_object_new_string(error));
	json_object_object_add(o, "events", json_object_get(events));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
	json_object_put(o);
}

static int rotate_one(const char *device, struct rotate_opts *o, const struct volkey_config *cfg, struct ctx *c,
		      double age)
{
	struct errbuf e = { { 0 } };
	int r;

	c->events = json_object_new_array();
	r = volume_rotate(device, o, cfg, &e);
	if (r < 0)
		log_error("%s", e.msg[0] ? e.msg : "rotate failed");
	if (c->json)
		print_result(device, o->kind, r < 0 ? "failed" : "rotated", r, age, c->events, r < 0 ? e.msg : NULL);
	json_object_put(c->events);
	c->events = NULL;
	return r;
}

static int rotate_all(struct rotate_opts *o, const struct volkey_config *cfg, struct ctx *c, double older_than)
{
	char **devs = NULL;
	int n, due = 0, failed = 0, r;

	n = volume_find_all(&devs);
	if (n < 0)
		return log_error_errno(n, "rotate --all: cannot list block devices: %s", strerror(-n));
	for (int i = 0; i < n; i++) {
		struct errbuf e = { { 0 } };
		double age = -1;
		bool resume = o->kind == ROTATE_VOLUME_KEY && volume_reencrypt_pending(devs[i]) > 0;

		r = volume_rotation_age(devs[i], o->kind, &age, &e);
		if (r < 0 && !resume) {
			failed++;
			log_error("%s", e.msg);
			if (c->json) {
				struct json_object *none = json_object_new_array();
				print_result(devs[i], o->kind, "failed", r, -1, none, e.msg);
				json_object_put(none);
			}
			continue;
		}
		if (older_than >= 0 && age < older_than && !resume) {
			log_info("%s: %s is %.1f days old, not due (--older-than %g)", devs[i], rotate_kind_name(o->kind),
				 age, older_than);
			if (c->json) {
				struct json_object *none = json_object_new_array();
				print_result(devs[i], o->kind, "not-due", 0, age, none, NULL);
				json_object_put(none);
			}
			continue;
		}
		due++;
		if (c->dry_run) {
			log_info("%s: %s is %.1f days old: due (dry run: not rotated)", devs[i], rotate_kind_name(o->kind),
				 age);
			if (c->json) {
				struct json_object *none = json_object_new_array();
				print_result(devs[i], o->kind, "due", 0, age, none, NULL);
				json_object_put(none);
			}
			continue;
		}
		if (rotate_one(devs[i], o, cfg, c, age) < 0)
			failed++;
	}
	for (int i = 0; i < n; i++)
		free(devs[i]);
	free(devs);
	if (failed) {
		log_error("rotate --all: %d of %d volkey volumes failed", failed, n);
		return verb_exit_code(EXIT_PARTIAL);
	}
	if (due == 0) {
		log_info("rotate --all: nothing due (%d volkey volumes)", n);
		return verb_exit_code(EXIT_NOTHING_DUE);
	}
	return 0;
}

static int run_rotate(int argc, char **argv)
{
	enum { O_REWRAP = 1000, O_SECRET, O_VK, O_ERASE, O_TO_KEY, O_RES, O_ALL, O_OLDER, O_JSON, O_YES, O_INTERVAL, O_NVME, O_HOTZONE, O_PHRASE, O_DRY };
	static const struct option opts[] = {
		{ "rewrap", no_argument, NULL, O_REWRAP },
		{ "secret", no_argument, NULL, O_SECRET },
		{ "volume-key", no_argument, NULL, O_VK },
		{ "crypto-erase", no_argument, NULL, O_ERASE },
		{ "to-key", required_argument, NULL, O_TO_KEY },
		{ "token", required_argument, NULL, 't' },
		{ "resilience", required_argument, NULL, O_RES },
		{ "all", no_argument, NULL, O_ALL },
		{ "older-than", required_argument, NULL, O_OLDER },
		{ "json", no_argument, NULL, O_JSON },
		{ "yes", no_argument, NULL, O_YES },
		{ "progress-interval", required_argument, NULL, O_INTERVAL },
		{ "nvme-erase", required_argument, NULL, O_NVME },
		{ "hotzone-size", required_argument, NULL, O_HOTZONE },
		{ "recovery-phrase-stdin", no_argument, NULL, O_PHRASE },
		{ "dry-run", no_argument, NULL, O_DRY },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct rotate_opts o = { .token = -1, .progress_interval_ms = 5000, .nvme_erase = NVME_ERASE_AUTO };
	struct ctx c = { .tty = isatty(STDERR_FILENO) };
	_cleanup_secret_ char *phrase = NULL;
	struct volkey_config cfg;
	double older_than = -1;
	bool all = false, yes = false, want_phrase = false;
	int nkinds = 0, ch, r;
	unsigned u;
	char *end;

	while ((ch = getopt_long(argc, argv, "t:h", opts, NULL)) >= 0) {
		switch (ch) {
		case O_REWRAP:
		case O_SECRET:
		case O_VK:
		case O_ERASE:
			o.kind = ch == O_REWRAP ? ROTATE_REWRAP :
				 ch == O_SECRET ? ROTATE_SECRET :
				 ch == O_VK	? ROTATE_VOLUME_KEY :
						  ROTATE_CRYPTO_ERASE;
			nkinds++;
			break;
		case O_TO_KEY:
			o.to_key = optarg;
			break;
		case 't':
			if (parse_uint(optarg, 31, &u) < 0)
				return log_error_errno(-EINVAL, "rotate: --token %s is not a token number (0-31)", optarg);
			o.token = (int)u;
			break;
		case O_RES:
			o.resilience = optarg;
			break;
		case O_ALL:
			all = true;
			break;
		case O_OLDER:
			older_than = strtod(optarg, &end);
			if (end == optarg || *end || !(older_than >= 0) || older_than > 100000)
				return log_error_errno(-EINVAL, "rotate: --older-than %s is not a number of days", optarg);
			break;
		case O_JSON:
			c.json = true;
			break;
		case O_YES:
			yes = true;
			break;
		case O_INTERVAL:
			if (parse_uint(optarg, 86400, &u) < 0)
				return log_error_errno(-EINVAL, "rotate: --progress-interval %s is not a number of seconds",
						       optarg);
			o.progress_interval_ms = (long)u * 1000;
			break;
		case O_PHRASE:
			want_phrase = true;
			break;
		case O_DRY:
			c.dry_run = true;
			break;
		case O_HOTZONE:
			if (parse_uint(optarg, 1024 * 1024, &u) < 0 || u == 0)
				return log_error_errno(-EINVAL, "rotate: --hotzone-size %s is not a number of MiB", optarg);
			o.hotzone_bytes = (uint64_t)u << 20;
			break;
		case O_NVME:
			if (!strcmp(optarg, "auto"))
				o.nvme_erase = NVME_ERASE_AUTO;
			else if (!strcmp(optarg, "format"))
				o.nvme_erase = NVME_ERASE_FORMAT;
			else if (!strcmp(optarg, "sanitize"))
				o.nvme_erase = NVME_ERASE_SANITIZE;
			else if (!strcmp(optarg, "none"))
				o.nvme_erase = NVME_ERASE_NONE;
			else
				return log_error_errno(-EINVAL, "rotate: --nvme-erase %s: use auto, format, sanitize or none",
						       optarg);
			break;
		case 'h':
			verb_print_help(&verb_rotate);
			return 0;
		default:
			return -EINVAL;
		}
	}
	if (nkinds != 1)
		return log_error_errno(-EINVAL, "rotate: give exactly one of --rewrap, --secret, --volume-key, --crypto-erase");
	if (all ? optind != argc : optind + 1 != argc)
		return log_error_errno(-EINVAL, "rotate: give DEVICE, or --all");
	if (o.to_key && o.kind != ROTATE_REWRAP)
		return log_error_errno(-EINVAL, "rotate: --to-key goes with --rewrap");
	if ((o.resilience || o.hotzone_bytes) && o.kind != ROTATE_VOLUME_KEY)
		return log_error_errno(-EINVAL, "rotate: --resilience and --hotzone-size go with --volume-key");
	if (o.token >= 0 && o.kind != ROTATE_REWRAP && o.kind != ROTATE_SECRET)
		return log_error_errno(-EINVAL, "rotate: --token goes with --rewrap or --secret");
	if (want_phrase && (o.kind != ROTATE_VOLUME_KEY || all))
		return log_error_errno(-EINVAL, "rotate: --recovery-phrase-stdin goes with --volume-key on one DEVICE");
	if (older_than >= 0 && !all)
		return log_error_errno(-EINVAL, "rotate: --older-than goes with --all");
	if (c.dry_run && !all)
		return log_error_errno(-EINVAL, "rotate: --dry-run goes with --all");
	if (o.kind == ROTATE_CRYPTO_ERASE) {
		if (all)
			return log_error_errno(-EINVAL, "rotate: --crypto-erase takes one DEVICE, never --all");
		char what[512];
		snprintf(what, sizeof(what), "%s: destroy every key and the header; the data can never be read again",
			 argv[optind]);
		if (!verb_confirm(yes, what))
			return -EPERM; /* verb_confirm said why */
	}
	if (all && o.to_key)
		return log_error_errno(-EINVAL, "rotate: --to-key moves one volume's token; not with --all");
	r = verb_load_config(&cfg);
	if (r < 0)
		return r;
	if (want_phrase) {
		r = verb_read_phrase("rotate", &phrase, &o.recovery_len);
		if (r < 0)
			return r;
		o.recovery_phrase = phrase;
	}
	o.report = report;
	o.progress = progress;
	o.userdata = &c;
	if (o.kind == ROTATE_VOLUME_KEY) {
		struct sigaction sa = { .sa_handler = on_signal };
		FILE *f;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL); /* a dropped SSH session pauses it cleanly */
		/* Killed (not signalled) in the middle of a piece, an online re-encryption
		 * leaves I/O to that piece blocked until the volume is closed: keep the OOM
		 * killer away. */
		f = fopen("/proc/self/oom_score_adj", "we");
		if (f) {
			fputs("-1000", f);
			fclose(f);
		}
	}
	if (all)
		return rotate_all(&o, &cfg, &c, older_than);
	return rotate_one(argv[optind], &o, &cfg, &c, -1);
}

const struct verb verb_rotate = {
	.name = "rotate",
	.args = "DEVICE|--all --rewrap [--to-key URI]|--secret|--volume-key|--crypto-erase --yes",
	.summary = "rotate keys: rewrap, new secret, re-encrypt the data, or crypto-erase for decommissioning",
	.run = run_rotate,
	.help = "  --rewrap            rewrap each token's secret under its key's newest version (KMS ReEncrypt)\n"
		"  --to-key URI        with --rewrap: under another key instead (one token: --token N)\n"
		"  --secret            a new random secret, keyslot and token per token; the old ones go\n"
		"  --volume-key        re-encrypt the data under a new volume key, online if mapped;\n"
		"                      resumable: run it again after a crash, or volkeyd resumes it at boot\n"
		"  --resilience MODE   with --volume-key: checksum (default), journal or none\n"
		"  --recovery-phrase-stdin  with --volume-key: read the recovery passphrase from stdin to\n"
		"                      carry the recovery key over to the new volume key\n"
		"  --hotzone-size MIB  with --volume-key: at most this much between checkpoints (default:\n"
		"                      libcryptsetup's, which depends on the resilience mode)\n"
		"  --progress-interval S  with --volume-key: seconds between progress reports (default 5)\n"
		"  --crypto-erase      destroy every keyslot and the header, then the NVMe media key where the\n"
		"                      controller offers crypto erase; needs --yes, refused while in use\n"
		"  --nvme-erase HOW    with --crypto-erase: auto (what the controller advertises, default),\n"
		"                      format or sanitize (issued even if not advertised), none\n"
		"  -t, --token N       only token N (--rewrap, --secret)\n"
		"  --all               every volkey volume on this host that is due\n"
		"  --older-than DAYS   with --all: due when what is rotated is at least DAYS old\n"
		"  --dry-run           with --all: report each volume as due or not-due, change nothing\n"
		"  --json              one JSON result line per device on stdout\n"
		"Exit: 0 done, 11 nothing due (--all), 12 some volumes failed (--all), else the failure's code.\n"
		"Every rotation is written to the journal (MESSAGE_ID=" VOLKEY_ROTATION_MESSAGE_ID ").\n",
};
