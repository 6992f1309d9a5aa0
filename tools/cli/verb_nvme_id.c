// SPDX-License-Identifier: GPL-2.0-or-later
/* volkey nvme-id DEVICE [--json]: what an NVMe namespace is on EC2, as udev
 * properties (IMPORT{program} in udev/70-volkey.rules) or JSON. Reads Identify
 * Controller only; quick and side-effect free, as a udev helper must be. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>

#include "base/fileio.h"
#include "base/log.h"
#include "cli/verb_util.h"
#include "cli/verbs.h"
#include "conf/config.h"
#include "host/nvme_id.h"

static int run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct volkey_config cfg;
	struct nvme_rules rules;
	struct nvme_id_ctrl id;
	struct nvme_ident n;
	bool json = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) >= 0) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			verb_print_help(&verb_nvme_id);
			return 0;
		default:
			return -EINVAL;
		}
	}
	if (optind + 1 != argc)
		return log_error_errno(-EINVAL, "nvme-id: give exactly one DEVICE");
	r = verb_load_config(&cfg);
	if (r < 0)
		return r;
	r = nvme_rules_from_config(&cfg, &rules);
	if (r < 0)
		return log_error_errno(r, "nvme-id: bad [nvme] match rule");
	r = nvme_identify_path(argv[optind], &id);
	if (r < 0)
		return log_error_errno(r, "nvme-id: %s: Identify Controller failed: %m", argv[optind]);
	nvme_classify(&id, &rules, &n);
	if (json) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "device", json_object_new_string(argv[optind]));
		json_object_object_add(o, "class", json_object_new_string(nvme_class_to_string(n.cls)));
		json_object_object_add(o, "vid", json_object_new_int(n.vid));
		json_object_object_add(o, "model", json_object_new_string(n.model));
		json_object_object_add(o, "serial", json_object_new_string(n.serial));
		if (n.ebs_volume_id[0])
			json_object_object_add(o, "ebs_volume_id", json_object_new_string(n.ebs_volume_id));
		if (n.device_name[0])
			json_object_object_add(o, "device_name", json_object_new_string(n.device_name));
		if (n.instance_store_index >= 0)
			json_object_object_add(o, "instance_store_index", json_object_new_int(n.instance_store_index));
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
		return 0;
	}
	/* The serial and the volume id name udev links (disk/volkey/.../ID): left
	 * out when they are not a safe path component ("..", "a/b"). */
	printf("VOLKEY_NVME_CLASS=%s\nVOLKEY_NVME_MODEL=%s\n", nvme_class_to_string(n.cls), n.model);
	if (name_component_safe(n.serial))
		printf("VOLKEY_NVME_SERIAL=%s\n", n.serial);
	if (n.ebs_volume_id[0] && name_component_safe(n.ebs_volume_id))
		printf("VOLKEY_EBS_VOLUME_ID=%s\n", n.ebs_volume_id);
	if (n.device_name[0])
		printf("VOLKEY_NVME_DEVICE_NAME=%s\n", n.device_name);
	if (n.instance_store_index >= 0)
		printf("VOLKEY_INSTANCE_STORE_INDEX=%d\n", n.instance_store_index);
	return 0;
}

const struct verb verb_nvme_id = {
	.name = "nvme-id",
	.args = "DEVICE [--json]",
	.summary = "classify an NVMe namespace (EBS, instance store, other) for udev",
	.run = run,
	.help = "  -j, --json   JSON instead of udev KEY=VALUE lines\n"
		"Reads Identify Controller. [nvme] match = CLASS|MODEL-GLOB|SERIAL-GLOB in volkey.conf\n"
		"adds rules (CLASS: ebs or instance-store), e.g. for emulated controllers.\n",
};
