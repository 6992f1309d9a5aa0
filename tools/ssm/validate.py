#!/usr/bin/python3
"""Checks volkey's SSM documents and Distributor package (docs/ssm.md).

  validate.py docs DOCUMENT.json...   each Command document: the 2.2 schema
      (tools/ssm/schema/), unique step names, every parameter constrained
      (allowedValues or allowedPattern) with a default that passes, every
      {{ Name }} declared and every parameter used, each use in a script a
      single-quoted assignment alone on its line, and hostile values refused.
  validate.py manifest DIR            DIR/manifest.json against the Distributor
      manifest schema; every file it names is in DIR with that sha256, every
      package's file is listed, each zip holds install.sh and uninstall.sh.

Prints one line per problem; exit 0 clean, 1 problems, 2 usage.
Needs python3-jsonschema (Debian).
"""
import hashlib
import json
import os
import re
import sys
import zipfile

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "fakes"))

# Values that must never reach a script: shell syntax, a newline, quotes, a
# parameter-store reference (the agent resolves {{ssm:NAME}} after substitution).
HOSTILE = ["; rm -rf /", "$(id)", "`id`", "a\nb", "\n", "x' ; id ; '", "'", '"', "${IFS}", "|id", "&& id",
           ">/etc/passwd", "{{ssm:/x}}", "../../etc/passwd", " ", "*", "\\", "\t"]
# Whole values that would be read as options.
OPTIONS = ["--force", "-f", "--key=file:/tmp/k"]
# Valid examples of parameters that have neither default nor allowedValues.
SAMPLES = {"Device": ["/dev/nvme1n1", "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0"],
           "KeyUri": ["aws-kms:alias/vol", "aws-kms:arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                      "aws-kms:mrk-0123456789abcdef0123456789abcdef"]}
TOKEN = re.compile(r"\{\{\s*([^{}\s]*)\s*\}\}")


def go_accepts(pattern, value):
    from ssm_run import pattern_accepts  # the runner's Go-regexp emulation
    return pattern_accepts(pattern, value)


def line_anchored_accepts(pattern, value):
    """The same pattern read by an engine whose `$` also matches before a final newline (Java, Python)."""
    return re.search(pattern, value) is not None


def accepted(spec, value):
    """(by the agent's Go semantics, by a line-anchored engine)"""
    if "allowedValues" in spec:
        ok = value in spec["allowedValues"]
        return ok, ok
    p = spec["allowedPattern"]
    return go_accepts(p, value), line_anchored_accepts(p, value)


def check_document(path, schema):
    problems = []
    name = os.path.basename(path)
    try:
        doc = json.load(open(path))
    except (OSError, ValueError) as e:
        return ["%s: not JSON: %s" % (name, e)]
    v = jsonschema.Draft7Validator(schema)
    for err in sorted(v.iter_errors(doc), key=lambda e: list(e.path)):
        problems.append("%s: schema: %s: %s" % (name, "/".join(map(str, err.path)) or "(top)", err.message))
    if problems:
        return problems
    steps = doc["mainSteps"]
    names = [s["name"] for s in steps]
    if len(set(names)) != len(names):
        problems.append("%s: step names are not unique: %s" % (name, names))
    params = doc.get("parameters") or {}
    used = set()
    for s in steps:
        if s.get("precondition") != {"StringEquals": ["platformType", "Linux"]}:
            problems.append("%s: step %s: no precondition on platformType Linux" % (name, s["name"]))
        for key, val in s["inputs"].items():
            texts = val if isinstance(val, list) else [val]
            for i, t in enumerate(texts):
                if not isinstance(t, str):
                    continue
                for m in TOKEN.finditer(t):
                    used.add(m.group(1))
                    if m.group(1) not in params:
                        problems.append("%s: %s: {{ %s }} is not a declared parameter" % (name, key, m.group(1)))
                    elif key == "runCommand" and not re.fullmatch(r"[a-z_][a-z0-9_]*='\{\{ %s \}\}'" % re.escape(m.group(1)), t):
                        problems.append("%s: runCommand line %d: {{ %s }} is not a single-quoted assignment alone on its line: %s"
                                        % (name, i + 1, m.group(1), t))
    for p, spec in params.items():
        if p not in used:
            problems.append("%s: parameter %s is never used" % (name, p))
        if spec["type"] != "String":
            problems.append("%s: parameter %s: type %s (the scripts take String parameters only)" % (name, p, spec["type"]))
            continue
        if "allowedValues" not in spec and "allowedPattern" not in spec:
            problems.append("%s: parameter %s has neither allowedValues nor allowedPattern" % (name, p))
            continue
        if "allowedPattern" in spec:
            pat = spec["allowedPattern"]
            if not (pat.startswith("^") and pat.endswith("$")):
                problems.append("%s: parameter %s: allowedPattern is not anchored with ^...$ (the agent searches)" % (name, p))
            try:
                re.compile(pat)
            except re.error as e:
                problems.append("%s: parameter %s: allowedPattern does not compile: %s" % (name, p, e))
                continue
        samples = list(spec.get("allowedValues", [])) + SAMPLES.get(p, [])
        if "default" in spec:
            samples.append(spec["default"])
            if not all(accepted(spec, spec["default"])):
                problems.append("%s: parameter %s: default %r is refused by its own constraint" % (name, p, spec["default"]))
        if not samples:
            problems.append("%s: parameter %s: no default, allowedValues or sample to test its constraint with" % (name, p))
        for sv in samples:
            if not all(accepted(spec, sv)):
                problems.append("%s: parameter %s: valid example %r refused" % (name, p, sv))
        tries = HOSTILE + OPTIONS
        for sv in samples:
            tries += ["-" + sv, "--force " + sv]
            tries += [sv + h for h in HOSTILE] + [h + sv for h in HOSTILE]
        for h in tries:
            go, line = accepted(spec, h)
            if go:
                problems.append("%s: parameter %s accepts the hostile value %r" % (name, p, h))
            elif line and not (h.endswith("\n") and accepted(spec, h[:-1])[0]):
                # only a final newline may pass there (the scripts' own check refuses it)
                problems.append("%s: parameter %s: a line-anchored engine accepts %r" % (name, p, h))
    return problems


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_manifest(d, schema):
    problems = []
    try:
        m = json.load(open(os.path.join(d, "manifest.json")))
    except (OSError, ValueError) as e:
        return ["manifest.json: %s" % e]
    for err in jsonschema.Draft7Validator(schema).iter_errors(m):
        problems.append("manifest.json: schema: %s: %s" % ("/".join(map(str, err.path)) or "(top)", err.message))
    if problems:
        return problems
    named = set()
    for plat, versions in m["packages"].items():
        for ver, arches in versions.items():
            for arch, pkg in arches.items():
                named.add(pkg["file"])
                if pkg["file"] not in m["files"]:
                    problems.append("manifest.json: %s/%s/%s names %s, which files does not list" % (plat, ver, arch, pkg["file"]))
    for f, info in m["files"].items():
        path = os.path.join(d, f)
        if f not in named:
            problems.append("manifest.json: %s is listed but no package uses it" % f)
        if not os.path.isfile(path):
            problems.append("%s: listed in manifest.json but absent" % f)
            continue
        if sha256(path) != info["checksums"]["sha256"]:
            problems.append("%s: sha256 differs from manifest.json" % f)
        if "size" in info and os.path.getsize(path) != info["size"]:
            problems.append("%s: size differs from manifest.json" % f)
        try:
            members = zipfile.ZipFile(path).namelist()
        except zipfile.BadZipFile as e:
            problems.append("%s: not a zip: %s" % (f, e))
            continue
        for need in ("install.sh", "uninstall.sh"):
            if need not in members:
                problems.append("%s: no %s at its top level" % (f, need))
        if not any(re.fullmatch(r"volkey_[^/]+\.(deb|rpm)", x) for x in members):
            problems.append("%s: no volkey package in it" % f)
    return problems


def main(argv):
    if len(argv) < 3 or argv[1] not in ("docs", "manifest"):
        print(__doc__, file=sys.stderr)
        return 2
    schemas = os.path.join(HERE, "schema")
    problems = []
    if argv[1] == "docs":
        schema = json.load(open(os.path.join(schemas, "command-document-2.2.schema.json")))
        jsonschema.Draft7Validator.check_schema(schema)
        for p in argv[2:]:
            problems += check_document(p, schema)
    else:
        schema = json.load(open(os.path.join(schemas, "distributor-manifest-2.0.schema.json")))
        jsonschema.Draft7Validator.check_schema(schema)
        problems += check_manifest(argv[2], schema)
    for p in problems:
        print(p)
    if not problems:
        print("%s: ok (%s)" % (argv[1], ", ".join(os.path.basename(a) for a in argv[2:])))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
