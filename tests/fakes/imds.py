#!/usr/bin/python3
"""A faithful stand-in for the EC2 instance metadata service (IMDSv2), on loopback.

Enforces what the real service does: a session token from PUT /latest/api/token
with X-aws-ec2-metadata-token-ttl-seconds in 1..21600 (400 otherwise), tokens
that expire after their TTL, 401 for a GET without a valid token (IMDSv1 is off,
as on instances with HttpTokens=required), 403 for a PUT that carries
X-Forwarded-For, 404 for unknown paths. Logs every request as one JSON line.

Usage: imds.py --port-file FILE [--log FILE] [--instance-id ID] [--region R]
               [--role NAME] [--cred-expiry-seconds N] [--user-data FILE]
Serves the meta-data tree cloud-init's Ec2 datasource reads (directory listings,
block-device-mapping, placement, iam/info), user-data and the instance identity
document, under "latest" and the dated versions listed at "/".
"""
import argparse
import datetime
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN_HEADER = "X-aws-ec2-metadata-token"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"


class State:
    def __init__(self, args):
        self.args = args
        self.tokens = {}  # token -> expiry (monotonic)
        self.lock = threading.Lock()
        self.log = open(args.log, "a", buffering=1) if args.log else None
        self.cred_serial = 0

    def record(self, **kw):
        if self.log:
            with self.lock:
                self.log.write(json.dumps(kw) + "\n")

    def credentials(self):
        with self.lock:
            self.cred_serial += 1
            n = self.cred_serial
        exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
            seconds=self.args.cred_expiry_seconds)
        return {
            "Code": "Success",
            "LastUpdated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Type": "AWS-HMAC",
            "AccessKeyId": "ASIAFAKEIMDS%08d" % n,
            "SecretAccessKey": "imds-secret-%d-%s" % (n, self.args.secret_seed),
            "Token": "imds-session-token-%d" % n,
            "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


# Metadata versions the real service lists at "/" (a subset; cloud-init asks for these).
VERSIONS = ["2009-04-04", "2016-09-02", "2018-09-24", "2021-03-23"]


def tree(a):
    """The meta-data/ and dynamic/ trees of one instance (the parts cloud-init's Ec2 datasource reads)."""
    return {"dynamic": {"instance-identity": {"document": json.dumps(identity_document(a))}},
            "meta-data": {
        "ami-id": "ami-0volkey0000000001",
        "ami-launch-index": "0",
        "hostname": "ip-169-254-0-15.ec2.internal",
        "local-hostname": "ip-169-254-0-15.ec2.internal",
        "local-ipv4": "169.254.0.15",
        "instance-id": a.instance_id,
        "instance-type": a.instance_type,
        "instance-action": "none",
        "placement": {"availability-zone": a.region + "a", "region": a.region},
        # As EC2 reports them: names, not NVMe paths (cloud-init maps them).
        "block-device-mapping": {"ami": "xvda", "root": "/dev/xvda", "ephemeral0": "sdb", "ephemeral1": "sdc"},
        "services": {"domain": "amazonaws.com", "partition": "aws"},
        "iam": ({"info": json.dumps({"Code": "Success", "InstanceProfileArn":
                                     "arn:aws:iam::111122223333:instance-profile/" + a.role})}
                if a.role else {}),
    }}


def identity_document(a):
    return {"accountId": "111122223333", "architecture": "x86_64", "availabilityZone": a.region + "a",
            "imageId": "ami-0volkey0000000001", "instanceId": a.instance_id, "instanceType": a.instance_type,
            "privateIp": "169.254.0.15", "region": a.region, "version": "2017-09-30"}


def make_handler(state):
    a = state.args

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet: the JSON log is the record
            pass

        def reply(self, code, body=b"", ctype="text/plain"):
            if isinstance(body, str):
                body = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_PUT(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            ttl = self.headers.get(TTL_HEADER)
            state.record(method="PUT", path=self.path, ttl=ttl,
                         forwarded=self.headers.get("X-Forwarded-For") is not None)
            if self.path != "/latest/api/token":
                return self.reply(404)
            if self.headers.get("X-Forwarded-For") is not None:
                return self.reply(403)
            try:
                ttl_s = int(ttl)
            except (TypeError, ValueError):
                return self.reply(400)
            if not 1 <= ttl_s <= 21600:
                return self.reply(400)
            tok = secrets.token_urlsafe(40)
            with state.lock:
                state.tokens[tok] = time.monotonic() + ttl_s
            self.reply(200, tok)

        def do_GET(self):
            tok = self.headers.get(TOKEN_HEADER)
            with state.lock:
                exp = state.tokens.get(tok) if tok else None
            valid = exp is not None and exp > time.monotonic()
            state.record(method="GET", path=self.path, token_valid=valid, token_sent=tok is not None)
            if not valid:
                return self.reply(401)
            p = self.path
            # Any version prefix the real service knows ("latest" or a date).
            parts = p.split("/", 2)
            if p == "/":
                return self.reply(200, "\n".join(VERSIONS + ["latest"]))
            if len(parts) < 3 or not (parts[1] == "latest" or parts[1] in VERSIONS):
                return self.reply(404)
            rest = parts[2]
            if rest == "user-data":
                if a.user_data is None:
                    return self.reply(404)
                with open(a.user_data, "rb") as f:
                    return self.reply(200, f.read(), "application/octet-stream")
            if a.role and rest == "meta-data/iam/security-credentials/":
                return self.reply(200, a.role)
            if a.role and rest == "meta-data/iam/security-credentials/" + a.role:
                return self.reply(200, json.dumps(state.credentials()), "application/json")
            node = tree(a)
            for seg in [x for x in rest.split("/") if x]:
                if not isinstance(node, dict) or seg not in node:
                    return self.reply(404)
                node = node[seg]
            if isinstance(node, dict):
                return self.reply(200, "\n".join(k + "/" if isinstance(v, dict) else k for k, v in node.items()))
            return self.reply(200, node)
            self.reply(404)

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    ap.add_argument("--instance-id", default="i-0fa4e5e1c0ffee123")
    ap.add_argument("--region", default="eu-west-1")
    ap.add_argument("--instance-type", default="i4i.large")
    ap.add_argument("--role", default="")
    ap.add_argument("--secret-seed", default="s")
    ap.add_argument("--cred-expiry-seconds", type=int, default=3600)
    ap.add_argument("--user-data", help="file served at /latest/user-data (404 without)")
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(State(args)))
    srv.daemon_threads = True
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(args.port_file + ".tmp", args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
