#!/usr/bin/python3
"""Run an SSM Command document (schema 2.2, aws:runShellScript steps) the way
the SSM agent does, here or through a remote shell (the instance tier's SSH).

Usage: ssm_run.py DOCUMENT [-p Name=Value]... [--remote CMD] [--instance-id ID]
                  [--region R] [--command-id ID] [--env NAME=VALUE]... [--result FILE]
                  [--orchestration DIR] [--print-script] [--skip-validation]

What the agent does (amazon-ssm-agent: framework/docparser, plugins/runscript,
plugins/pluginutil, executers), and this program with it:
- parameters: names must match ^[a-zA-Z0-9]+$; a missing parameter takes its
  default (none: the service refuses the command); allowedValues is checked by
  the service when the command is sent, allowedPattern by the agent as well,
  with Go's regexp: an unanchored search in which `$` matches only at the very
  end of the value. A refused value ends the run with exit 64 and nothing runs.
- substitution: textual. A string that is exactly {{ Name }} becomes the value;
  elsewhere every {{ Name }} (spaces allowed inside the braces) is replaced by
  the value with "$$" turned into "$".
- a step whose precondition is not met (platformType is Linux here) is skipped.
- the step's runCommand lines are joined with "\\n" (plus one at the end) into
  ORCHESTRATION/<step>/_script.sh, mode 0700, run as `sh -c PATH` from
  ORCHESTRATION (the default working directory; an absolute workingDirectory
  input instead), as root, with the agent's
  environment (PATH of a systemd service; no HOME) plus SSM_COMMAND_ID,
  AWS_SSM_INSTANCE_ID, AWS_SSM_REGION_NAME, AWS_SSM_PLATFORM_NAME.
- timeoutSeconds (default 3600): the whole process group gets SIGKILL; the
  agent reports exit 137 as TimedOut. Exit 0 is Success, 194 Success and reboot,
  anything else Failed.

Prints the script's stdout and stderr as they come; exits with the last step's
exit code (64 when a parameter is refused or the document is malformed).
--result FILE gets one JSON object per step, like GetCommandInvocation:
Name, Status, ResponseCode, StandardOutputContent, StandardErrorContent.
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import uuid

PARAM_NAME = re.compile(r"^[a-zA-Z0-9]+$")
AGENT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
OUTPUT_LIMIT = 24000  # the characters of output GetCommandInvocation returns


class Refused(Exception):
    pass


def go_pattern(p):
    """Python regex with Go RE2's meaning of `$` (end of text only, no (?m))."""
    out, i, in_class = [], 0, False
    while i < len(p):
        c = p[i]
        if c == "\\" and i + 1 < len(p):
            out.append(p[i:i + 2]); i += 2; continue
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
            # a leading ] (or ^]) is a literal inside the class
            j = i + 1
            if j < len(p) and p[j] == "^":
                j += 1
            if j < len(p) and p[j] == "]":
                out.append(p[i:j + 1]); i = j + 1; continue
        elif c == "$":
            out.append(r"\Z"); i += 1; continue
        out.append(c); i += 1
    return "".join(out)


def pattern_accepts(pattern, value):
    return re.search(go_pattern(pattern), value) is not None


def resolve_parameters(doc, given, check=True):
    declared = doc.get("parameters") or {}
    values = {}
    for name, value in given.items():
        if not PARAM_NAME.match(name):
            raise Refused("invalid parameter name %r" % name)
        if name not in declared:
            raise Refused("InvalidParameters: %s is not a parameter of this document" % name)
        values[name] = value
    for name, spec in declared.items():
        if name not in values:
            if "default" not in spec:
                raise Refused("InvalidParameters: %s is required" % name)
            values[name] = spec["default"]
        v = values[name]
        if spec.get("type", "String") == "String" and not isinstance(v, str):
            raise Refused("InvalidParameters: %s must be a string" % name)
        if not check:
            continue
        if "allowedValues" in spec and v not in spec["allowedValues"]:
            raise Refused("InvalidParameters: %s=%r is not one of %s" % (name, v, spec["allowedValues"]))
        if "allowedPattern" in spec and not pattern_accepts(spec["allowedPattern"], v):
            raise Refused("parameter value /%s/ does not match the allowed pattern /%s/" % (v, spec["allowedPattern"]))
    return values


def substitute(node, values):
    if isinstance(node, str):
        for name, v in values.items():
            if re.fullmatch(r"\{\{\s*%s\s*\}\}" % re.escape(name), node):
                return v
        pieces = {name: (v if isinstance(v, str) else json.dumps(v)).replace("$$", "$")
                  for name, v in values.items()}
        rx = re.compile(r"\{\{\s*(%s)\s*\}\}" % "|".join(re.escape(n) for n in values)) if values else None
        return rx.sub(lambda m: pieces[m.group(1)], node) if rx else node
    if isinstance(node, list):
        return [substitute(x, values) for x in node]
    if isinstance(node, dict):
        return {k: substitute(v, values) for k, v in node.items()}
    return node


def precondition_met(step):
    pre = step.get("precondition")
    if not pre:
        return True
    ops = pre.get("StringEquals")
    if not ops or len(ops) != 2 or ops[0] != "platformType":
        raise Refused("unsupported precondition %r" % pre)
    return ops[1] == "Linux"


def status_of(rc):
    if rc == 0:
        return "Success"
    if rc == 194:
        return "Success (reboot requested)"
    if rc == 137:
        return "TimedOut"
    return "Failed"


def run_step(args, step, env):
    orch = os.path.join(args.orchestration, step["name"])
    script = "\n".join(step["inputs"]["runCommand"]) + "\n"
    path = orch + "/_script.sh"
    timeout = int(step["inputs"].get("timeoutSeconds") or 3600)
    if args.print_script:
        sys.stdout.write(script)
        return 0, "", ""
    envs = " ".join(shlex.quote("%s=%s" % kv) for kv in sorted(env.items()))
    setup = "umask 022 && mkdir -p %s && cat >%s && chmod 0700 %s" % (
        shlex.quote(orch), shlex.quote(path), shlex.quote(path))
    # timeout (not --foreground) signals its whole process group, as the agent does
    # an absolute workingDirectory is the cwd (Distributor's install steps use the package's directory)
    wd = step["inputs"].get("workingDirectory") or ""
    cwd = wd if wd.startswith("/") else args.orchestration
    run = "cd %s && exec env -i %s timeout -s KILL %d sh -c %s" % (
        shlex.quote(cwd), envs, timeout, shlex.quote(path))
    prefix = shlex.split(args.remote) if args.remote else ["sh", "-c"]
    subprocess.run(prefix + [setup], input=script.encode(), check=True)
    p = subprocess.Popen(prefix + [run], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    captured = {"out": [], "err": []}

    def pump(src, dst, key):
        for line in iter(src.readline, b""):
            captured[key].append(line)
            dst.buffer.write(line); dst.flush()
    threads = [threading.Thread(target=pump, args=(p.stdout, sys.stdout, "out")),
               threading.Thread(target=pump, args=(p.stderr, sys.stderr, "err"))]
    for t in threads:
        t.start()
    rc = p.wait()
    if rc < 0:  # killed by a signal (here, not through a remote shell): as a shell reports it
        rc = 128 - rc
    for t in threads:
        t.join()
    if args.remote and rc == 255:
        raise SystemExit("ssm_run: the remote shell failed (exit 255)")
    return rc, b"".join(captured["out"]).decode(errors="replace"), b"".join(captured["err"]).decode(errors="replace")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("document")
    ap.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--remote", help="command prefix that runs one shell command line elsewhere (ssh ...)")
    ap.add_argument("--instance-id", help="AWS_SSM_INSTANCE_ID (the agent always sets it; omit to make the script use IMDS)")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--command-id", default=str(uuid.uuid4()))
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--orchestration", help="default /var/lib/amazon/ssm/<instance-id>/document/orchestration/<command-id>/awsrunShellScript")
    ap.add_argument("--result")
    ap.add_argument("--print-script", action="store_true", help="print the substituted script instead of running it")
    ap.add_argument("--skip-validation", action="store_true",
                    help="substitute values that allowedValues/allowedPattern would refuse (tests the scripts' own checks)")
    args = ap.parse_args()
    doc = json.load(open(args.document))
    given = {}
    for p in args.parameter:
        name, sep, value = p.partition("=")
        if not sep:
            ap.error("--parameter %r: NAME=VALUE" % p)
        given[name] = value
    if args.orchestration is None:
        args.orchestration = "/var/lib/amazon/ssm/%s/document/orchestration/%s/awsrunShellScript" % (
            args.instance_id or "i-unknown", args.command_id)
    env = {"PATH": AGENT_PATH, "SSM_COMMAND_ID": args.command_id, "AWS_SSM_REGION_NAME": args.region,
           "AWS_SSM_PLATFORM_NAME": "Debian GNU/Linux"}
    if args.instance_id:
        env["AWS_SSM_INSTANCE_ID"] = args.instance_id
    for e in args.env:
        k, _, v = e.partition("=")
        env[k] = v
    try:
        if doc.get("schemaVersion") != "2.2":
            raise Refused("schemaVersion %r: only 2.2 here" % doc.get("schemaVersion"))
        values = resolve_parameters(doc, given, check=not args.skip_validation)
        steps = substitute(doc["mainSteps"], values)
        for s in steps:
            if s.get("action") != "aws:runShellScript":
                raise Refused("action %r: only aws:runShellScript here" % s.get("action"))
    except (Refused, KeyError, TypeError) as e:
        print("ssm_run: %s" % e, file=sys.stderr)
        return 64
    results, rc = [], 0
    for s in steps:
        if not precondition_met(s):
            results.append({"Name": s["name"], "Status": "Skipped", "ResponseCode": -1})
            continue
        rc, out, err = run_step(args, s, env)
        results.append({"Name": s["name"], "Status": status_of(rc), "ResponseCode": rc,
                        "StandardOutputContent": out[:OUTPUT_LIMIT], "StandardErrorContent": err[:OUTPUT_LIMIT]})
    if args.result:
        with open(args.result, "w") as f:
            json.dump(results, f, indent=1)
    return rc


if __name__ == "__main__":
    sys.exit(main())
