#!/usr/bin/python3
# -*- coding: utf-8 -*-
# volkey_volume: brings one volkey volume to its declared state. Internal to the
# volkey role (tools/ansible/roles/volkey); docs/ansible.md describes it.
#
# It reads `volkey status DEVICE --json`, plans the difference, and in check
# mode stops there (the plan is the result). Every change goes through the volkey
# CLI, which does its own refusals: format never gets --force, unbind refuses
# the last way in. The recovery phrase is made in a separate call
# (action=recovery_key) so that only that task needs no_log.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: volkey_volume
short_description: Bring one volkey volume to its declared state
description:
  - Internal to the volkey role. Formats a blank device, binds missing keys,
    unbinds keys no longer listed, or removes every key binding (state absent)
    when a recovery keyslot remains. Never formats over data.
options:
  device:
    description: The block device.
    type: str
    required: true
  state:
    description: present or absent.
    type: str
    choices: [present, absent]
    default: present
  keys:
    description: Key URIs (aws-kms:, pkcs11:, file:), the volume's ways in.
    type: list
    elements: str
    default: []
  recovery_key:
    description: Whether the volume must have a recovery keyslot.
    type: bool
    default: false
  context:
    description: Extra binding pairs, used only when formatting.
    type: dict
    default: {}
  sector_size:
    description: Sector size, used only when formatting.
    type: int
  action:
    description: converge (default) or recovery_key (make a recovery phrase and return it).
    type: str
    choices: [converge, recovery_key]
    default: converge
  volkey:
    description: The volkey program.
    type: str
    default: volkey
"""

RETURN = r"""
actions:
  description: What was done (or, in check mode, would be done), one line each.
  type: list
  returned: always
luks_uuid:
  description: The volume's LUKS UUID (null when there is no volume).
  type: str
  returned: always
recovery_needed:
  description: The volume should get a recovery key and has none.
  type: bool
  returned: always
recovery_phrase:
  description: action=recovery_key only. Secret; the calling task must be no_log.
  type: str
  returned: success
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

# `volkey status DEVICE` on a device with no LUKS2 header: 4 (not a LUKS2 volume)
# or 8 (a header it cannot read). Either way format decides, and format refuses
# any device that holds a signature or data.
NOT_A_VOLUME = (4, 8)
INTERRUPTED = ("format interrupted", "format-interrupted")


class Volume(object):
    def __init__(self, module):
        self.m = module
        p = module.params
        self.device = p["device"]
        self.volkey = module.get_bin_path(p["volkey"]) if "/" not in p["volkey"] else p["volkey"]
        self.done = []

    def fail(self, msg, **kw):
        self.m.fail_json(msg="%s: %s" % (self.device, msg), **kw)

    def run(self, args):
        cmd = [self.volkey] + args
        rc, out, err = self.m.run_command(cmd, environ_update={"LC_ALL": "C"})
        return rc, out, err, cmd

    @staticmethod
    def last_line(err, rc):
        line = (err.strip().splitlines() or ["exit %d" % rc])[-1]
        return line[len("volkey: error: "):] if line.startswith("volkey: error: ") else line

    def must(self, args, what):
        rc, out, err, cmd = self.run(args)
        if rc != 0:
            # volkey says what went wrong in one line: pass it on.
            self.m.fail_json(msg="%s failed (exit %d): %s" % (what, rc, self.last_line(err, rc)), rc=rc, cmd=cmd, stderr=err,
                             actions=self.done)
        return out

    def status(self):
        """The volume's status object, or None when the device is no LUKS2 volume."""
        rc, out, err, cmd = self.run(["status", self.device, "--json"])
        if rc in NOT_A_VOLUME:
            return None
        if rc != 0:
            self.fail("volkey status failed (exit %d): %s" % (rc, err.strip()), rc=rc, cmd=cmd)
        try:
            j = json.loads(out)
        except ValueError as e:
            self.fail("cannot parse volkey status --json: %s" % e)
        # One object {"schema_version": 1, "volumes": [...]} (current), or one
        # volume object / an array of them (earlier releases).
        vols = j.get("volumes", [j]) if isinstance(j, dict) else j
        if not vols:
            return None
        for v in vols:
            if v.get("device") == self.device:
                return v
        return vols[0]

    # --- reading a status object -------------------------------------------
    @staticmethod
    def names(tok):
        """Every spelling that names this token's key: the URI as bound and,
        for KMS, the key ARN it resolved to."""
        n = set()
        if tok.get("key_uri"):
            n.add(tok["key_uri"])
        for arn in (tok.get("key_arn") or "", tok.get("key_ref") or ""):
            if arn.startswith("arn:aws:kms:"):
                n.add("aws-kms:" + arn)
        return n

    @staticmethod
    def tokens(vol, kind="volkey"):
        return [t for t in vol.get("tokens", []) if t.get("type") == kind]

    @staticmethod
    def has_recovery(vol):
        return bool(Volume.tokens(vol, "volkey-recovery")) or any(
            k.get("role") == "recovery" for k in vol.get("keyslots", []))

    @staticmethod
    def interrupted(vol):
        return vol.get("state") in INTERRUPTED or vol.get("format") == "interrupted"

    @staticmethod
    def is_volkey(vol):
        if Volume.interrupted(vol):
            return True
        if vol.get("format") == "not volkey":
            return False
        return any(t.get("type", "").startswith("volkey") for t in vol.get("tokens", []))

    # --- the plans -----------------------------------------------------------
    def format_args(self):
        p = self.m.params
        a = ["format", self.device, "--yes"]
        for k in p["keys"]:
            a += ["--key", k]
        for k, v in sorted((p["context"] or {}).items()):
            a += ["--context", "%s=%s" % (k, v)]
        if p["sector_size"]:
            a += ["--sector-size", str(p["sector_size"])]
        return a

    def converge(self):
        p = self.m.params
        check = self.m.check_mode
        if not self.volkey:
            if check:
                # The package is not installed yet: a check run cannot look closer.
                self.m.exit_json(changed=p["state"] == "present", luks_uuid=None, recovery_needed=p["recovery_key"],
                                 actions=["volkey is not installed yet: %s would be examined and formatted if blank"
                                          % self.device] if p["state"] == "present" else [])
            self.fail("volkey is not installed")
        if not os.path.exists(self.device):
            self.fail("no such device")
        vol = self.status()
        if vol is not None and not self.is_volkey(vol):
            self.fail("a LUKS2 volume volkey did not make (no volkey token): left alone")

        if p["state"] == "absent":
            return self.absent(vol, check)

        if not p["keys"]:
            self.fail("state present needs at least one key")
        if len(set(p["keys"])) != len(p["keys"]):
            self.fail("a key is listed twice")
        if vol is None or self.interrupted(vol):
            what = "format" if vol is None else "format (redo an interrupted format)"
            self.done.append("%s %s with %s" % (what, self.device, ", ".join(p["keys"])))
            if check:
                self.m.exit_json(changed=True, actions=self.done, luks_uuid=None, recovery_needed=p["recovery_key"])
            self.must(self.format_args(), "format")
            vol = self.status()
            if vol is None:
                self.fail("formatted, but volkey status does not see a volume")
        else:
            toks = self.tokens(vol)
            for k in p["keys"]:
                if not any(k in self.names(t) for t in toks):
                    self.done.append("bind %s" % k)
                    if not check:
                        self.must(["bind", self.device, "--key", k], "bind %s" % k)
            # Unbind after binding: a replaced key always has its successor first,
            # and volkey refuses to remove the last way in anyway.
            for t in toks:
                if "error" in t and not t.get("key_uri"):
                    self.m.warn("%s: token %s is unreadable (%s): not touched" % (self.device, t.get("id"), t["error"]))
                    continue
                if not any(k in self.names(t) for k in p["keys"]):
                    self.done.append("unbind token %s (%s)" % (t["id"], t.get("key_uri")))
                    if not check:
                        self.must(["unbind", self.device, "--token", str(t["id"])], "unbind token %s" % t["id"])
            if self.done and not check:
                vol = self.status()
        # The recovery key is the next task's (action=recovery_key, no_log):
        # here it only counts as a change in check mode, where that task is skipped.
        need = bool(p["recovery_key"]) and not self.has_recovery(vol)
        changed = bool(self.done) or (need and check)
        if need:
            self.done.append("add a recovery key")
        self.m.exit_json(changed=changed, actions=self.done, luks_uuid=vol.get("luks_uuid"),
                         recovery_needed=need)

    def absent(self, vol, check):
        if vol is None:
            self.m.exit_json(changed=False, actions=[], luks_uuid=None, recovery_needed=False)
        toks = self.tokens(vol)
        if not toks:
            self.m.exit_json(changed=False, actions=[], luks_uuid=vol.get("luks_uuid"), recovery_needed=False)
        if not self.has_recovery(vol):
            # volkey unbind would refuse the last token (exit 2); say so before
            # touching any: a passphrase keyslot no token owns does not count.
            self.fail("state absent removes every key binding, which needs a recovery keyslot to stay "
                      "(recovery_key: true first); nothing was changed")
        for t in toks:
            self.done.append("unbind token %s (%s)" % (t["id"], t.get("key_uri")))
            if not check:
                self.must(["unbind", self.device, "--token", str(t["id"])], "unbind token %s" % t["id"])
        self.m.exit_json(changed=True, actions=self.done, luks_uuid=vol.get("luks_uuid"), recovery_needed=False)

    def recovery_key(self):
        if not self.volkey:
            self.fail("volkey is not installed")
        vol = self.status()
        if vol is None or not self.is_volkey(vol):
            self.fail("not a volkey volume")
        if self.has_recovery(vol):
            self.m.exit_json(changed=False, actions=[], luks_uuid=vol.get("luks_uuid"), recovery_needed=False)
        if self.m.check_mode:
            self.m.exit_json(changed=True, actions=["add a recovery key"], luks_uuid=vol.get("luks_uuid"),
                             recovery_needed=True)
        rc, out, err, cmd = self.run(["recovery-key", self.device])
        if rc != 0:
            # stderr never holds the phrase (volkey writes it to stdout only).
            self.m.fail_json(msg="recovery-key failed (exit %d): %s" % (rc, self.last_line(err, rc)), rc=rc)
        phrase = out.strip()
        self.m.exit_json(changed=True, actions=["add a recovery key"], luks_uuid=vol.get("luks_uuid"),
                         recovery_needed=False, recovery_phrase=phrase, note=err.strip())


def main():
    module = AnsibleModule(
        argument_spec=dict(
            device=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            keys=dict(type="list", elements="str", default=[], no_log=False),
            recovery_key=dict(type="bool", default=False),
            context=dict(type="dict", default={}),
            sector_size=dict(type="int", choices=[512, 1024, 2048, 4096]),
            action=dict(type="str", choices=["converge", "recovery_key"], default="converge"),
            volkey=dict(type="str", default="volkey"),
        ),
        supports_check_mode=True,
    )
    v = Volume(module)
    if module.params["action"] == "recovery_key":
        v.recovery_key()
    v.converge()


if __name__ == "__main__":
    main()
