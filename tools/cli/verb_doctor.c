// SPDX-License-Identifier: GPL-2.0-or-later
/* volkey doctor: what this machine offers volkey, for people and for scripts. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <json-c/json.h>

#include "base/cslock.h"
#include "base/exitcode.h"
#include "base/log.h"
#include "cli/doctor_keys.h"
#include "cli/verbs.h"
#include "conf/config.h"
#include "host/sysinfo.h"
#include "keys/imds.h"

#define IMDS_PROBE_TIMEOUT_MS 1000

enum imds_state { IMDS_NOT_PROBED, IMDS_DISABLED, IMDS_REACHABLE, IMDS_UNREACHABLE };

struct doctor {
	struct utsname uts;
	struct dm_support dm;
	struct xts_driver xts;
	int xts_r;
	enum feature_state volkey_xts; /* the kernel module: available = loaded */
	struct cpu_aes cpu;
	int cpu_r;
	struct loop_support loop;
	struct lib_versions libs;
	struct ec2_dmi dmi;
	enum imds_state imds;
	char imds_endpoint[256];
	char imds_reason[384];
	char *instance_id, *region, *instance_type;
	bool ready;
};

static const char *imds_state_str(enum imds_state s)
{
	static const char *const n[] = { "not-probed", "disabled", "reachable", "unreachable" };
	return n[s];
}

static void probe_imds(struct doctor *d)
{
	_cleanup_(imds_freep) struct imds *m = NULL;
	int r;

	if (imds_disabled_by_env()) {
		d->imds = IMDS_DISABLED;
		snprintf(d->imds_reason, sizeof(d->imds_reason), "disabled by AWS_EC2_METADATA_DISABLED");
		return;
	}
	/* Off EC2, do not send packets to a link-local address nor wait for a timeout:
	 * probe only when DMI says EC2 or an endpoint was configured explicitly. */
	if (!d->dmi.ec2 && !imds_endpoint_from_env()) {
		d->imds = IMDS_NOT_PROBED;
		snprintf(d->imds_reason, sizeof(d->imds_reason),
			 "DMI vendor \"%s\" is not EC2 (set AWS_EC2_METADATA_SERVICE_ENDPOINT to probe anyway)",
			 d->dmi.vendor);
		return;
	}
	r = imds_new(NULL, IMDS_PROBE_TIMEOUT_MS, &m);
	if (r < 0) {
		d->imds = IMDS_UNREACHABLE;
		snprintf(d->imds_reason, sizeof(d->imds_reason), "bad endpoint: %s", strerror(-r));
		return;
	}
	snprintf(d->imds_endpoint, sizeof(d->imds_endpoint), "%s", imds_endpoint(m));
	r = imds_get(m, "meta-data/instance-id", &d->instance_id);
	if (r < 0) {
		d->imds = IMDS_UNREACHABLE;
		snprintf(d->imds_reason, sizeof(d->imds_reason), "%s: %s", d->imds_endpoint, strerror(-r));
		return;
	}
	d->imds = IMDS_REACHABLE;
	(void)imds_get(m, "meta-data/placement/region", &d->region);
	(void)imds_get(m, "meta-data/instance-type", &d->instance_type);
}

static void doctor_probe(struct doctor *d)
{
	int r;

	uname(&d->uts);
	r = sysinfo_dm_probe(NULL, d->uts.release, &d->dm);
	if (r < 0)
		log_debug_errno(r, "device-mapper probe failed: %m");
	d->xts_r = sysinfo_xts_probe(NULL, &d->xts);
	d->volkey_xts = d->xts_r >= 0 && d->xts.found && strcmp(d->xts.driver, "xts-aes-volkey") == 0 ?
		FEATURE_AVAILABLE : sysinfo_module_state(NULL, d->uts.release, "volkey_xts");
	d->cpu_r = sysinfo_cpu_probe(NULL, &d->cpu);
	(void)sysinfo_loop_probe(NULL, d->uts.release, &d->loop);
	sysinfo_lib_versions(&d->libs);
	(void)ec2_dmi_probe(NULL, &d->dmi);
	probe_imds(d);
	d->ready = d->dm.dm != FEATURE_MISSING && d->dm.crypt != FEATURE_MISSING;
}

static const char *yesno(bool b)
{
	return b ? "yes" : "no";
}

static void print_text(const struct doctor *d)
{
	printf("volkey doctor (volkey %s)\n", VOLKEY_VERSION);
	printf("%-12s %s\n", "kernel", d->uts.release);
	if (d->dm.dm == FEATURE_AVAILABLE && d->dm.crypt == FEATURE_AVAILABLE)
		printf("%-12s available (device-mapper %s, crypt target %s)\n", "dm-crypt",
		       d->dm.driver_version[0] ? d->dm.driver_version : "?",
		       d->dm.crypt_version[0] ? d->dm.crypt_version : "?");
	else if (d->dm.dm == FEATURE_MISSING || d->dm.crypt == FEATURE_MISSING)
		printf("%-12s UNAVAILABLE: %s\n", "dm-crypt", d->dm.reason);
	else
		printf("%-12s available on demand: %s\n", "dm-crypt", d->dm.reason);

	if (d->xts_r < 0)
		printf("%-12s unknown: /proc/crypto unreadable (%s)\n", "xts(aes)", strerror(-d->xts_r));
	else if (!d->xts.found)
		printf("%-12s not registered yet (the kernel loads it on first use)\n", "xts(aes)");
	else
		printf("%-12s %s (module %s, priority %d, %s, self-test %s)\n", "xts(aes)", d->xts.driver,
		       d->xts.module, d->xts.priority, d->xts.async ? "async" : "sync",
		       d->xts.selftest_passed ? "passed" : "not passed");
	if (d->volkey_xts == FEATURE_AVAILABLE)
		printf("%-12s loaded; xts-aes-volkey %s (refcnt %d)\n", "volkey_xts",
		       d->xts.refcnt > 1 ? "in use" : "not in use", d->xts.refcnt);
	else
		printf("%-12s not loaded (%s)\n", "volkey_xts", d->volkey_xts == FEATURE_LOADABLE ?
		       "installed for this kernel" : "not installed for this kernel");

	if (d->cpu_r < 0)
		printf("%-12s unknown: /proc/cpuinfo unreadable\n", "cpu");
	else
		printf("%-12s AES-NI %s, VAES %s, AVX2 %s, AVX-512F %s, PCLMULQDQ %s (%s)\n", "cpu", yesno(d->cpu.aes),
		       yesno(d->cpu.vaes), yesno(d->cpu.avx2), yesno(d->cpu.avx512f), yesno(d->cpu.pclmulqdq),
		       d->cpu.model[0] ? d->cpu.model : "unknown model");
	printf("%-12s %s (%d /dev/loopN nodes)\n", "loop", feature_state_to_string(d->loop.state), d->loop.count);
	printf("%-12s libcryptsetup %s (build), libdevmapper %s, libnvme %s, %s, libcurl %s, json-c %s\n",
	       "libraries", d->libs.cryptsetup, d->libs.devmapper, d->libs.nvme, d->libs.openssl, d->libs.curl,
	       d->libs.json_c);
	if (d->imds == IMDS_REACHABLE)
		printf("%-12s yes: instance %s, %s, region %s (IMDSv2 at %s)\n", "ec2", strna(d->instance_id),
		       strna(d->instance_type), strna(d->region), d->imds_endpoint);
	else
		printf("%-12s %s: IMDS %s: %s\n", "ec2", d->dmi.ec2 ? "probably (DMI)" : "no",
		       imds_state_str(d->imds), d->imds_reason);
	if (d->ready)
		printf("%-12s ready: this machine can unlock volkey volumes\n", "result");
	else
		printf("%-12s NOT READY: dm-crypt is unavailable in this kernel; volumes can be formatted and "
		       "tested (open --test) but not unlocked\n", "result");
}

static json_object *jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static void print_json(const struct doctor *d, json_object *keys)
{
	CS_LOCKED;
	json_object *o = json_object_new_object(), *k, *x, *c, *l, *libs, *e;

	json_object_object_add(o, "volkey_version", jstr(VOLKEY_VERSION));
	k = json_object_new_object();
	json_object_object_add(k, "release", jstr(d->uts.release));
	json_object_object_add(k, "device_mapper", jstr(feature_state_to_string(d->dm.dm)));
	json_object_object_add(k, "dm_crypt", jstr(feature_state_to_string(d->dm.crypt)));
	json_object_object_add(k, "dm_driver_version", d->dm.driver_version[0] ? jstr(d->dm.driver_version) : NULL);
	json_object_object_add(k, "crypt_target_version", d->dm.crypt_version[0] ? jstr(d->dm.crypt_version) : NULL);
	json_object_object_add(k, "reason", d->dm.reason[0] ? jstr(d->dm.reason) : NULL);
	json_object_object_add(o, "kernel", k);

	x = NULL;
	if (d->xts_r >= 0 && d->xts.found) {
		x = json_object_new_object();
		json_object_object_add(x, "driver", jstr(d->xts.driver));
		json_object_object_add(x, "module", jstr(d->xts.module));
		json_object_object_add(x, "priority", json_object_new_int(d->xts.priority));
		json_object_object_add(x, "async", json_object_new_boolean(d->xts.async));
		json_object_object_add(x, "selftest_passed", json_object_new_boolean(d->xts.selftest_passed));
		json_object_object_add(x, "refcnt", json_object_new_int(d->xts.refcnt));
	}
	json_object_object_add(o, "xts_aes", x);
	x = json_object_new_object();
	json_object_object_add(x, "loaded", json_object_new_boolean(d->volkey_xts == FEATURE_AVAILABLE));
	json_object_object_add(x, "installed", json_object_new_boolean(d->volkey_xts != FEATURE_MISSING));
	json_object_object_add(x, "in_use", json_object_new_boolean(d->volkey_xts == FEATURE_AVAILABLE && d->xts.refcnt > 1));
	json_object_object_add(o, "volkey_xts", x);

	c = json_object_new_object();
	json_object_object_add(c, "model", jstr(d->cpu.model));
	json_object_object_add(c, "aes", json_object_new_boolean(d->cpu.aes));
	json_object_object_add(c, "vaes", json_object_new_boolean(d->cpu.vaes));
	json_object_object_add(c, "avx2", json_object_new_boolean(d->cpu.avx2));
	json_object_object_add(c, "avx512f", json_object_new_boolean(d->cpu.avx512f));
	json_object_object_add(c, "pclmulqdq", json_object_new_boolean(d->cpu.pclmulqdq));
	json_object_object_add(o, "cpu", c);

	l = json_object_new_object();
	json_object_object_add(l, "state", jstr(feature_state_to_string(d->loop.state)));
	json_object_object_add(l, "devices", json_object_new_int(d->loop.count));
	json_object_object_add(o, "loop", l);

	libs = json_object_new_object();
	json_object_object_add(libs, "libcryptsetup", jstr(d->libs.cryptsetup));
	json_object_object_add(libs, "libdevmapper", jstr(d->libs.devmapper));
	json_object_object_add(libs, "libnvme", jstr(d->libs.nvme));
	json_object_object_add(libs, "openssl", jstr(d->libs.openssl));
	json_object_object_add(libs, "libcurl", jstr(d->libs.curl));
	json_object_object_add(libs, "json-c", jstr(d->libs.json_c));
	json_object_object_add(o, "libraries", libs);

	e = json_object_new_object();
	json_object_object_add(e, "dmi_ec2", json_object_new_boolean(d->dmi.ec2));
	json_object_object_add(e, "dmi_vendor", jstr(d->dmi.vendor));
	json_object_object_add(e, "imds", jstr(imds_state_str(d->imds)));
	json_object_object_add(e, "imds_endpoint", d->imds_endpoint[0] ? jstr(d->imds_endpoint) : NULL);
	json_object_object_add(e, "reason", d->imds_reason[0] ? jstr(d->imds_reason) : NULL);
	json_object_object_add(e, "instance_id", jstr(d->instance_id));
	json_object_object_add(e, "instance_type", jstr(d->instance_type));
	json_object_object_add(e, "region", jstr(d->region));
	json_object_object_add(o, "ec2", e);
	json_object_object_add(o, "ready", json_object_new_boolean(d->ready));
	if (keys)
		json_object_object_add(o, "keys", keys);

	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static int doctor_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "key", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct doctor d = { 0 };
	struct volkey_config cfg;
	struct key_check checks[16];
	char *keys[16];
	int nkeys = 0, kr = 0, line = 0, r;
	bool json = false;
	int c;

	while ((c = getopt_long(argc, argv, "jhk:", opts, NULL)) >= 0) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'k':
			if (nkeys == (int)ARRAY_SIZE(keys))
				return log_error_errno(-E2BIG, "doctor: at most %zu --key options", ARRAY_SIZE(keys));
			keys[nkeys++] = optarg;
			break;
		case 'h':
			verb_print_help(&verb_doctor);
			return 0;
		default:
			return -EINVAL;
		}
	}
	if (optind != argc)
		return log_error_errno(-EINVAL, "doctor: unexpected argument '%s'", argv[optind]);

	r = config_load(arg_config, &cfg, &line);
	if (r < 0)
		return log_error_errno(r, "Cannot read config %s: %s", arg_config ? arg_config : "(default)",
				       r == -EINVAL ? "syntax or value error" : strerror(-r));
	doctor_probe(&d);
	if (nkeys > 0)
		kr = doctor_check_keys(&cfg, keys, nkeys, checks);
	if (json) {
		print_json(&d, nkeys > 0 ? doctor_keys_json(checks, nkeys) : NULL);
	} else {
		print_text(&d);
		doctor_print_keys(checks, nkeys);
	}
	free(d.instance_id);
	free(d.region);
	free(d.instance_type);
	if (nkeys > 0) {
		if (line)
			log_debug("config line %d", line);
		for (int i = 0; i < nkeys; i++)
			if (!checks[i].ok)
				log_error("Key %s does not work: %s", checks[i].uri, checks[i].message);
		return kr; /* with --key, the exit code says whether every key works */
	}
	return d.ready ? 0 : -EOPNOTSUPP;
}

const struct verb verb_doctor = {
	.name = "doctor",
	.args = "[--json] [--key URI]...",
	.summary = "Report what this machine offers: dm-crypt, AES drivers and CPU, libraries, EC2",
	.run = doctor_run,
	.help = "Options:\n"
		"  --json      one JSON object on stdout instead of the table\n"
		"  --key URI   wrap a random secret with this key, unwrap it and compare;\n"
		"              report reachability, region, credential source, latency (repeatable)\n"
		"\nExit status: without --key, 0 when this machine can unlock volumes (dm-crypt\n"
		"available or loadable), 7 when the kernel lacks dm-crypt. With --key, 0 only when\n"
		"every key works, else the exit code of the first failure.\n"
		"IMDS is probed (1 s timeout) only when DMI says EC2 or\n"
		"AWS_EC2_METADATA_SERVICE_ENDPOINT is set; AWS_EC2_METADATA_DISABLED=true skips it.\n",
};
