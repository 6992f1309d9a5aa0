#!/usr/bin/python3
"""A faithful stand-in for AWS KMS (JSON 1.1 protocol, SigV4), on loopback.

One process is one region of one account. Speaks to real AWS clients (awscli,
botocore) and to volkey; verifies SigV4 with botocore's own signer; encrypts
with real AES-256-GCM under keys derived deterministically from the seed, so a
restarted double (same config) still decrypts what an earlier one produced.

Usage:
  kms.py --port-file FILE --config FILE.json [--log FILE] [--region R]
         [--tls-cert PEM --tls-key PEM] [--fault JSON]...
         [--require-signed-target | --no-require-signed-target]
         [--prefixed-errors] [--message-key message|Message]
         [--idle-timeout SECONDS] [--rtt-ms MS] [--quota RPS]

  --port-file  the TCP port (on 127.0.0.1, chosen by the kernel) is written here
               atomically (FILE.tmp then rename) once the socket listens.
  --log        one JSON line per KMS call (see "Log" below); never plaintext.
  --region     overrides the config's "region".
  --tls-cert/--tls-key  serve HTTPS (TLS >= 1.2) instead of HTTP; handshakes are
               done in the connection's thread and counted (stats.tls_handshakes).
  --fault      same JSON object as POST /_volkey/fault, applied at start (repeatable).
  --require-signed-target  (default ON) additionally require that x-amz-target
               and content-type are among SignedHeaders. Real KMS accepts them
               unsigned; volkey must sign them, so the double is stricter by
               default. --no-require-signed-target gives the real behaviour.
  --prefixed-errors  error "__type" is "com.amazonaws.kms#<Name>" instead of
               "<Name>" (clients must take what follows the last '#').
  --message-key  key of the error message in error bodies ("message", default,
               or "Message"; AWS services use both).
  --idle-timeout  an idle keep-alive connection is closed after this (default 60 s).
  --rtt-ms     every KMS call is answered this much later: the network round trip
               and service time of a real region (about 10-20 ms within a region).
  --quota      the account's request quota for cryptographic operations in this
               region, in requests per second (see "Request quota" below);
               default: none (every call served). POST /_volkey/quota changes it.

Config (JSON):
  {"region": "eu-west-1", "account": "111122223333", "seed": "any string",
   "credentials": [{"access_key": "AKIA...", "secret_key": "...",
                    "session_token": null}],            # or a string
   "keys": [{"id": "1234abcd-...", "aliases": ["alias/vol"],
             "state": "Enabled",                        # Disabled, PendingDeletion
             "key_spec": "SYMMETRIC_DEFAULT",           # optional, default shown
             "description": "",                         # optional
             "primary_region": "eu-west-1",             # optional, mrk- keys only
             "rotations": 0}]}                          # optional: backing key versions made so far
  Key material = HKDF-SHA256(seed, info = account/region/id) for ordinary keys
  and HKDF-SHA256(seed, info = id) for multi-Region keys (ids starting "mrk-"):
  two doubles (two regions) with the same seed decrypt each other's mrk
  ciphertexts, never each other's ordinary-key ciphertexts.
  Keys whose key_spec is not SYMMETRIC_DEFAULT are described but refuse
  Encrypt/Decrypt/GenerateDataKey*/ReEncrypt with InvalidKeyUsageException.

KMS protocol (POST / only):
  headers X-Amz-Target: TrentService.<Op> and
  Content-Type: application/x-amz-json-1.1, body JSON, blobs standard base64.
  HTTP/1.1 keep-alive, every answer has Content-Length and x-amzn-RequestId.
  Ops: Encrypt, Decrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext,
  ReEncrypt, DescribeKey (request/response members as in KMS; returned KeyId /
  SourceKeyId are key ARNs arn:aws:kms:REGION:ACCOUNT:key/ID). Other ops →
  400 UnknownOperationException. Unknown request members are ignored.
  KeyId forms: bare id, key ARN, alias/NAME, alias ARN (ARNs of another region
  or account → NotFoundException).
  Key rotation: like KMS, a key has backing key versions; a rotation
  (POST /_volkey/rotate-key or "rotations" in the config) makes a new current
  version. Version 0 is the material above; version V > 0 is HKDF with
  info + "\0vV". Encrypt, GenerateDataKey* and ReEncrypt (also to the same
  key) seal under the current version; Decrypt and ReEncrypt open every
  version the key has.
  Ciphertext blob: version 0: b"VKMS1" | len(key id) (1 byte) | key id;
  version V > 0: b"VKMS2" | len(key id) | key id | V (4 bytes, big-endian);
  then a 12-byte nonce | AES-256-GCM ciphertext||tag, AAD = the header before the nonce followed by
  the canonical encryption context (count, then sorted key/value pairs, each
  4-byte big-endian length + UTF-8). Wrong context, tampering, a blob of a key
  this double does not hold → InvalidCiphertextException (no message member,
  as KMS). Blob not base64 → SerializationException; empty or > 6144 bytes →
  ValidationException.

Enforced (in this order; HTTP 400 unless said):
  POST / only (other paths 404, other methods 405; AWS-shaped bodies);
  body > 1 MiB → 413 and close.
  Authorization missing → MissingAuthenticationTokenException.
  Authorization not "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/
    aws4_request, SignedHeaders=..., Signature=..." → IncompleteSignatureException.
  X-Amz-Date missing/malformed, host or x-amz-date not signed, (with
    --require-signed-target) x-amz-target or content-type not signed
    → IncompleteSignatureException.
  Unknown access key → UnrecognizedClientException.
  Credential with a session_token: X-Amz-Security-Token must equal it and be
    signed; credential without one: no X-Amz-Security-Token allowed
    → UnrecognizedClientException "The security token included in the request is invalid."
  Scope date ≠ X-Amz-Date date, scope region ≠ this region, scope service ≠ kms
    → InvalidSignatureException naming the mismatch.
  X-Amz-Date more than 15 min off → InvalidSignatureException "Signature expired: ..."
    (or "Signature not yet current: ...").
  x-amz-content-sha256 (if sent) ≠ SHA-256 of the body → InvalidSignatureException.
  Signature recomputed with botocore.auth.SigV4Auth over exactly the signed
    headers as received (Host with its port) → mismatch gives
    InvalidSignatureException "The request signature we calculated does not
    match the signature you provided. ..." followed by the canonical request
    and string to sign the double expected.
  X-Amz-Target missing/not TrentService.<known op> → UnknownOperationException;
  Content-Type not application/x-amz-json-1.1 → UnknownOperationException.
  Body not a JSON object or members of the wrong type → SerializationException;
  constraint violations → ValidationException.
  Key states: Disabled → DisabledException "<arn> is disabled.";
    PendingDeletion → KMSInvalidStateException "<arn> is pending deletion.";
    DescribeKey works in every state.
  Decrypt/ReEncrypt with KeyId/SourceKeyId naming another key → IncorrectKeyException.

Control endpoints (not KMS, unauthenticated, same port, not logged, not counted
as KMS calls):
  POST /_volkey/fault  JSON object; each given counter is SET (not added):
      {"throttle": N}     → 400 ThrottlingException "Rate exceeded"
      {"error5xx": N}     → 500 KMSInternalException; with {"status": 503} (kept
                            until changed) that status instead; optional
                            {"error5xx_type": "DependencyTimeoutException"} changes the __type
      {"latency_ms": M, "latency_calls": N}  sleep M ms before answering (N defaults to 1)
      {"drop": N}         → the TCP connection is closed without an answer
      {"malformed": N}    → 200, body "{not json"
      {"truncate": N}     → the real answer's headers (Content-Length of the full
                            body), half of its body, then the connection is closed
      {"oversize": N}     → the real answer (status kept) with an extra
                            "VolkeyPadding" string member making the body exactly
                            2 MiB (2097152 bytes) of valid JSON
      {"deny": N}         → 400 AccessDeniedException "User: arn:aws:iam::ACCOUNT:role/x
                            is not authorized to perform: kms:<Op> on resource: <key arn>"
      {"unavailable": N}  → 500 KeyUnavailableException (KMS models it as a
                            server fault: HTTP 500)
      {"reset": true}     → clear every counter first (and status back to 500)
    Each counter applies to the next N KMS calls (POST / requests, any op,
    valid or not) and is decremented by every such call. When several apply
    to one call, latency is added to whichever answer wins, in this order:
    drop, malformed, error5xx, throttle, deny, unavailable, truncate/oversize
    (truncate/oversize alter the answer that would otherwise be given).
    deny and unavailable only hit calls that passed authentication and
    request parsing. Answer: the current fault state as JSON.
  GET /_volkey/fault   the current fault state.
  POST /_volkey/key-state {"key": id|ARN|alias, "state": "Enabled"|"Disabled"|"PendingDeletion"}
    → 200 {"key_arn": ..., "state": ...}; unknown key 404, bad state 400.
  POST /_volkey/rotate-key {"key": id|ARN|alias} → 200 {"key_arn": ..., "version": V}
    (a new backing key version, as automatic or on-demand rotation in KMS).
  GET /_volkey/stats → {"calls": {op: n}, "connections": TCP connections
    accepted (control requests included), "kms_connections": connections
    that carried at least one KMS call, "tls_handshakes": n (= "tls_full"
    full handshakes + "tls_resumed" abbreviated ones, a session the client
    offered and the server accepted), "tls_failures": n, "requests": KMS calls}
    Op names are the X-Amz-Target suffix ("(none)" when missing).

Log (--log), one JSON line per KMS call:
  {"op", "key_arn" (ReEncrypt: destination; Decrypt: the blob's key; null if
   unknown; best effort for calls answered early), "region", "status" (HTTP
   status; 0 when dropped or the client hung up mid-request), "error"
   (__type without prefix, or null), "request_id", "conn" (id of the TCP
   connection, 1, 2, ...), "new_conn" (first request on that connection),
   "access_key" (null if none parsed), "context" (EncryptionContext given;
   ReEncrypt: DestinationEncryptionContext; Decrypt: EncryptionContext; null
   if none), "fault" (name(s) applied, joined by "+", or null)}
  ReEncrypt lines also carry "source_key_arn" and "source_context".

Request quota (--quota RPS, POST /_volkey/quota {"rps": N}; GET it too):
  As KMS's shared quota for symmetric cryptographic operations (Encrypt,
  Decrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext, ReEncrypt; not
  DescribeKey, which has a quota of its own in KMS and none here): one token
  bucket per double (one account, one region) refilled at RPS tokens/s, holding
  at most RPS (a burst of one second's worth), full at start. A call that passed
  authentication and names a known operation takes a token; with none left it is
  answered 400 {"__type": "ThrottlingException", "message": "Rate exceeded"}
  (the faults' throttle answer) and takes no token: a throttled call does not
  consume quota (AWS documents that calls over the quota are throttled, not
  whether they count; this is the assumption). rps 0 throttles every such call.
  GET /_volkey/stats carries "quota": {"rps", "served", "throttled"} (null rps:
  no quota); the listen backlog is 1024 so a thousand clients connecting in one
  second are not dropped.

CloudTrail (--cloudtrail), one JSON line per KMS call in the shape of the
record KMS writes to a trail (eventSource kms.amazonaws.com, eventName,
userIdentity.accessKeyId, requestParameters.encryptionContext, resources[].ARN,
requestID matching the answer's x-amzn-RequestId, errorCode when it failed).
"""
import argparse
import base64
import binascii
import datetime
import hashlib
import hmac
import itertools
import json
import os
import socket
import ssl
import struct
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

JSON_CT = "application/x-amz-json-1.1"
TARGET_PREFIX = "TrentService."
ERR_PREFIX = "com.amazonaws.kms#"
BLOB_MAGIC = b"VKMS1"
BLOB_MAGIC2 = b"VKMS2"
MAX_BODY = 1 << 20
OVERSIZE = 2 * 1024 * 1024
SKEW = datetime.timedelta(minutes=15)
AMZ_FMT = "%Y%m%dT%H%M%SZ"
STATES = ("Enabled", "Disabled", "PendingDeletion")
FAULT_COUNTERS = ("throttle", "error5xx", "drop", "malformed", "truncate",
                  "oversize", "deny", "unavailable", "latency_calls")
SIG_MISMATCH = ("The request signature we calculated does not match the signature you provided. "
                "Check your AWS Secret Access Key and signing method. "
                "Consult the service documentation for details.")
BAD_TOKEN = "The security token included in the request is invalid."


class KmsError(Exception):
    def __init__(self, name, message=None, status=400):
        super().__init__(name)
        self.name = name
        self.message = message
        self.status = status


def validation(member, constraint, value="null"):
    return KmsError("ValidationException",
                    "1 validation error detected: Value %s at '%s' failed to satisfy "
                    "constraint: %s" % (value, member, constraint))


# ---------------------------------------------------------------- keys

class Key:
    def __init__(self, kc, account, region, seed):
        self.id = kc["id"]
        if not isinstance(self.id, str) or not 1 <= len(self.id.encode()) <= 255:
            raise ValueError("key id must be a string of 1..255 bytes: %r" % (self.id,))
        self.mrk = self.id.startswith("mrk-")
        self.arn = "arn:aws:kms:%s:%s:key/%s" % (region, account, self.id)
        self.region = region
        self.aliases = []
        for a in kc.get("aliases") or []:
            self.aliases.append(a if a.startswith("alias/") else "alias/" + a)
        self.state = kc.get("state", "Enabled")
        if self.state not in STATES:
            raise ValueError("key %s: state must be one of %s" % (self.id, STATES))
        self.key_spec = kc.get("key_spec", "SYMMETRIC_DEFAULT")
        self.description = kc.get("description", "")
        self.primary_region = kc.get("primary_region", region)
        if self.mrk:
            info = b"volkey-fake-kms/mrk\0" + self.id.encode()
        else:
            info = b"volkey-fake-kms/key\0" + ("%s\0%s\0%s" % (account, region, self.id)).encode()
        self.info = info
        self.seed = seed
        self.material = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"volkey-fake-kms/v1",
                             info=info).derive(seed.encode())
        self.materials = [self.material]
        rot = kc.get("rotations", 0)
        if not isinstance(rot, int) or isinstance(rot, bool) or not 0 <= rot <= 1000:
            raise ValueError("key %s: rotations must be an integer 0..1000" % self.id)
        for _ in range(rot):
            self.rotate()
        # A stable, plausible creation date (deterministic per key).
        h = hashlib.sha256(b"created\0" + info + seed.encode()).digest()
        self.created = 1600000000 + int.from_bytes(h[:4], "big") % 100000000 + \
            (h[4] % 1000) / 1000.0
        self.changed = time.time()

    def rotate(self):
        v = len(self.materials)
        self.materials.append(HKDF(algorithm=hashes.SHA256(), length=32, salt=b"volkey-fake-kms/v1",
                                   info=self.info + b"\0v%d" % v).derive(self.seed.encode()))
        return v

    def usage(self):
        if self.key_spec.startswith("ECC_") or self.key_spec.startswith("SM2"):
            return "SIGN_VERIFY"
        if self.key_spec.startswith("HMAC_"):
            return "GENERATE_VERIFY_MAC"
        return "ENCRYPT_DECRYPT"

    def metadata(self, account):
        md = {
            "AWSAccountId": account,
            "KeyId": self.id,
            "Arn": self.arn,
            "CreationDate": self.created,
            "Enabled": self.state == "Enabled",
            "Description": self.description,
            "KeyUsage": self.usage(),
            "KeyState": self.state,
            "Origin": "AWS_KMS",
            "KeyManager": "CUSTOMER",
            "CustomerMasterKeySpec": self.key_spec,
            "KeySpec": self.key_spec,
            "MultiRegion": self.mrk,
        }
        if self.key_spec == "SYMMETRIC_DEFAULT":
            md["EncryptionAlgorithms"] = ["SYMMETRIC_DEFAULT"]
        elif self.key_spec.startswith("RSA_"):
            md["EncryptionAlgorithms"] = ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
        if self.state == "PendingDeletion":
            md["DeletionDate"] = self.changed + 7 * 86400
            md["PendingDeletionWindowInDays"] = 7
        if self.mrk:
            parn = "arn:aws:kms:%s:%s:key/%s" % (self.primary_region, account, self.id)
            md["MultiRegionConfiguration"] = {
                "MultiRegionKeyType": "PRIMARY" if self.primary_region == self.region else "REPLICA",
                "PrimaryKey": {"Arn": parn, "Region": self.primary_region},
                "ReplicaKeys": [],
            }
        return md


def canonical_context(ctx):
    out = [struct.pack(">I", len(ctx))]
    items = sorted((k.encode("utf-8"), v.encode("utf-8")) for k, v in ctx.items())
    for k, v in items:
        out += [struct.pack(">I", len(k)), k, struct.pack(">I", len(v)), v]
    return b"".join(out)


def blob_header(key_id, version=0):
    kid = key_id.encode()
    if version == 0:
        return BLOB_MAGIC + bytes([len(kid)]) + kid
    return BLOB_MAGIC2 + bytes([len(kid)]) + kid + struct.pack(">I", version)


def parse_blob(blob):
    """→ (key id, backing version, header, nonce, sealed) or raise InvalidCiphertextException."""
    n = len(BLOB_MAGIC)
    if len(blob) < n + 1 or blob[:n] not in (BLOB_MAGIC, BLOB_MAGIC2):
        raise KmsError("InvalidCiphertextException")
    klen = blob[n]
    hdr_end = n + 1 + klen + (4 if blob[:n] == BLOB_MAGIC2 else 0)
    if klen == 0 or len(blob) < hdr_end + 12 + 16:
        raise KmsError("InvalidCiphertextException")
    try:
        kid = blob[n + 1:n + 1 + klen].decode()
    except UnicodeDecodeError:
        raise KmsError("InvalidCiphertextException")
    version = struct.unpack(">I", blob[n + 1 + klen:hdr_end])[0] if blob[:n] == BLOB_MAGIC2 else 0
    return kid, version, blob[:hdr_end], blob[hdr_end:hdr_end + 12], blob[hdr_end + 12:]


# ---------------------------------------------------------------- state

class State:
    def __init__(self, args, cfg):
        self.args = args
        self.region = args.region or cfg.get("region") or "us-east-1"
        self.account = str(cfg.get("account", "111122223333"))
        seed = str(cfg.get("seed", ""))
        self.creds = {}
        for c in cfg.get("credentials") or []:
            self.creds[c["access_key"]] = (c["secret_key"], c.get("session_token"))
        self.keys = {}
        self.aliases = {}
        for kc in cfg.get("keys") or []:
            k = Key(kc, self.account, self.region, seed)
            self.keys[k.id] = k
            for a in k.aliases:
                self.aliases[a] = k
        self.lock = threading.Lock()
        self.log = open(args.log, "a", buffering=1) if args.log else None
        self.trail = open(args.cloudtrail, "a", buffering=1) if args.cloudtrail else None
        self.faults = {}
        self.fault_status = 500
        self.fault_type = "KMSInternalException"
        self.latency_ms = 0
        self.calls = {}
        self.connections = 0
        self.kms_connections = 0
        self.tls_handshakes = 0
        self.tls_full = 0
        self.tls_resumed = 0
        self.tls_failures = 0
        self.requests = 0
        self.conn_ids = itertools.count(1)

    # -- faults
    def set_faults(self, spec):
        if not isinstance(spec, dict):
            raise ValueError("fault spec must be a JSON object")
        known = set(FAULT_COUNTERS) | {"status", "latency_ms", "reset", "error5xx_type"}
        bad = sorted(set(spec) - known)
        if bad:
            raise ValueError("unknown fault key(s): %s" % ", ".join(bad))
        for k, v in spec.items():
            if k == "reset" or k == "error5xx_type":
                continue
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError("%s must be a non-negative integer" % k)
        if "status" in spec and not 500 <= spec["status"] <= 599:
            raise ValueError("status must be 500..599")
        with self.lock:
            if spec.get("reset"):
                self.faults = {}
                self.fault_status = 500
                self.fault_type = "KMSInternalException"
                self.latency_ms = 0
            for k in FAULT_COUNTERS:
                if k in spec:
                    self.faults[k] = spec[k]
            if "status" in spec:
                self.fault_status = spec["status"]
            if "error5xx_type" in spec:
                self.fault_type = str(spec["error5xx_type"])
            if "latency_ms" in spec:
                self.latency_ms = spec["latency_ms"]
                if "latency_calls" not in spec:
                    self.faults["latency_calls"] = 1 if spec["latency_ms"] else 0
            return self.fault_state()

    def fault_state(self):
        d = {k: self.faults.get(k, 0) for k in FAULT_COUNTERS}
        d.update(status=self.fault_status, latency_ms=self.latency_ms, error5xx_type=self.fault_type)
        return d

    def take_faults(self):
        """Consume one call from every active counter; → set of names, latency ms."""
        with self.lock:
            active = set()
            for k, v in self.faults.items():
                if v > 0:
                    active.add(k)
                    self.faults[k] = v - 1
            lat = self.latency_ms if "latency_calls" in active else 0
            active.discard("latency_calls")
            return active, lat, self.fault_status, self.fault_type

    def cloudtrail(self, info, user_agent, source_ip):
        """One CloudTrail-shaped record of the call, as KMS writes it to the
        trail: what a fleet's audit sees of volkey (docs/fleet.md#audit)."""
        if not self.trail:
            return
        ak = info.get("access_key") or ""
        ctx = info.get("context")
        params = {}
        if ctx is not None:
            params["encryptionContext" if info["op"] != "ReEncrypt" else "destinationEncryptionContext"] = ctx
        if info["op"] == "ReEncrypt":
            params["sourceEncryptionContext"] = info.get("source_context")
            params["destinationKeyId"] = info.get("key_arn")
        elif info.get("key_arn"):
            params["keyId"] = info["key_arn"]
        if info["op"] in ("Decrypt", "Encrypt", "ReEncrypt"):
            params["encryptionAlgorithm"] = "SYMMETRIC_DEFAULT"
        rec = {
            "eventVersion": "1.08",
            "userIdentity": {"type": "AssumedRole" if ak.startswith("ASIA") else "IAMUser",
                             "accessKeyId": ak, "accountId": self.account},
            "eventTime": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": "kms.amazonaws.com",
            "eventName": info["op"],
            "awsRegion": info.get("region"),
            "sourceIPAddress": source_ip,
            "userAgent": user_agent,
            "requestParameters": params,
            "responseElements": None,
            "requestID": info.get("request_id"),
            "eventID": str(uuid.uuid4()),
            "readOnly": info["op"] in ("Decrypt", "DescribeKey"),
            "resources": [{"accountId": self.account, "type": "AWS::KMS::Key", "ARN": a}
                          for a in (info.get("source_key_arn"), info.get("key_arn")) if a],
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": self.account,
            "eventCategory": "Management",
        }
        if info.get("error"):
            rec["errorCode"] = info["error"]
        with self.lock:
            self.trail.write(json.dumps(rec) + "\n")

    def record(self, **kw):
        if self.log:
            line = json.dumps(kw)
            with self.lock:
                self.log.write(line + "\n")

    # -- keys
    def resolve(self, key_id, member="keyId"):
        if key_id is None:
            raise validation(member, "Member must not be null")
        if not isinstance(key_id, str):
            raise KmsError("SerializationException", "Expected a string for %s" % member)
        if not 1 <= len(key_id) <= 2048:
            raise validation(member, "Member must have length between 1 and 2048", "'%s'" % key_id)
        if key_id.startswith("arn:"):
            parts = key_id.split(":", 5)
            if len(parts) != 6 or parts[1] != "aws" or parts[2] != "kms":
                raise KmsError("NotFoundException", "Invalid arn %s" % key_id)
            region, account, res = parts[3], parts[4], parts[5]
            if res.startswith("alias/"):
                k = self.aliases.get(res) if (region, account) == (self.region, self.account) else None
                if k is None:
                    raise KmsError("NotFoundException", "Alias %s is not found." % key_id)
                return k
            if res.startswith("key/"):
                k = self.keys.get(res[4:]) if (region, account) == (self.region, self.account) else None
                if k is None:
                    raise KmsError("NotFoundException", "Key '%s' does not exist" % key_id)
                return k
            raise KmsError("NotFoundException", "Invalid arn %s" % key_id)
        if key_id.startswith("alias/"):
            k = self.aliases.get(key_id)
            if k is None:
                raise KmsError("NotFoundException", "Alias arn:aws:kms:%s:%s:%s is not found."
                               % (self.region, self.account, key_id))
            return k
        k = self.keys.get(key_id)
        if k is None:
            raise KmsError("NotFoundException", "Key 'arn:aws:kms:%s:%s:key/%s' does not exist"
                           % (self.region, self.account, key_id))
        return k

    def usable(self, k):
        with self.lock:
            st = k.state
        if st == "Disabled":
            raise KmsError("DisabledException", "%s is disabled." % k.arn)
        if st == "PendingDeletion":
            raise KmsError("KMSInvalidStateException", "%s is pending deletion." % k.arn)
        if k.key_spec != "SYMMETRIC_DEFAULT":
            raise KmsError("InvalidKeyUsageException",
                           "You cannot use %s for this operation: its KeySpec is %s." % (k.arn, k.key_spec))

    def seal(self, k, plaintext, ctx):
        with self.lock:
            version = len(k.materials) - 1
        hdr = blob_header(k.id, version)
        nonce = os.urandom(12)
        return hdr + nonce + AESGCM(k.materials[version]).encrypt(nonce, plaintext, hdr + canonical_context(ctx))

    def blob_key(self, blob):
        kid = parse_blob(blob)[0]
        k = self.keys.get(kid)
        if k is None:
            raise KmsError("InvalidCiphertextException")
        return k

    def unseal(self, k, blob, ctx):
        _, version, hdr, nonce, sealed = parse_blob(blob)
        with self.lock:
            material = k.materials[version] if version < len(k.materials) else None
        if material is None:
            raise KmsError("InvalidCiphertextException")
        try:
            return AESGCM(material).decrypt(nonce, sealed, hdr + canonical_context(ctx))
        except InvalidTag:
            raise KmsError("InvalidCiphertextException")

    def check_deny(self, info, op, arn=None):
        """Apply a pending deny/unavailable fault to an authenticated, parsed call."""
        pend = info.get("_pending") or set()
        if "deny" in pend:
            info["fault_applied"].append("deny")
            raise KmsError("AccessDeniedException",
                           "User: arn:aws:iam::%s:role/x is not authorized to perform: kms:%s on resource: %s"
                           % (self.account, op, arn or info.get("key_arn") or "*"))
        if "unavailable" in pend:
            info["fault_applied"].append("unavailable")
            raise KmsError("KeyUnavailableException",
                           "%s is unavailable. You can retry the request." % (arn or info.get("key_arn") or "The key"),
                           500)


# ---------------------------------------------------------------- request members

def get_str(req, name, member, required=False):
    v = req.get(name)
    if v is None:
        if required:
            raise validation(member, "Member must not be null")
        return None
    if not isinstance(v, str):
        raise KmsError("SerializationException", "Expected a string value for %s" % name)
    return v


def get_blob(req, name, member, lo, hi, required=True):
    v = req.get(name)
    if v is None:
        if required:
            raise validation(member, "Member must not be null")
        return None
    if not isinstance(v, str):
        raise KmsError("SerializationException", "Expected a base64 string for %s" % name)
    try:
        b = base64.b64decode(v.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise KmsError("SerializationException", "Could not decode base64 value of %s" % name)
    if len(b) < lo:
        raise validation(member, "Member must have length greater than or equal to %d" % lo,
                         "'java.nio.HeapByteBuffer[pos=0 lim=%d cap=%d]'" % (len(b), len(b)))
    if len(b) > hi:
        raise validation(member, "Member must have length less than or equal to %d" % hi,
                         "'java.nio.HeapByteBuffer[pos=0 lim=%d cap=%d]'" % (len(b), len(b)))
    return b


def get_ctx(req, name):
    v = req.get(name)
    if v is None:
        return {}
    if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
        raise KmsError("SerializationException", "%s must be a map of strings to strings" % name)
    try:
        canonical_context(v)
    except UnicodeEncodeError:
        raise KmsError("SerializationException", "%s holds invalid UTF-16" % name)
    return v


def check_alg(req, name, member):
    v = get_str(req, name, member)
    if v is None or v == "SYMMETRIC_DEFAULT":
        return
    if v in ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE"):
        raise KmsError("InvalidKeyUsageException",
                       "The encryption algorithm %s is not supported for symmetric keys." % v)
    raise validation(member, "Member must satisfy enum value set: "
                     "[SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]", "'%s'" % v)


def b64(b):
    return base64.b64encode(b).decode()


# ---------------------------------------------------------------- operations

def op_encrypt(st, req, info):
    k = st.resolve(req.get("KeyId"))
    info["key_arn"] = k.arn
    ctx = get_ctx(req, "EncryptionContext")
    info["context"] = ctx
    pt = get_blob(req, "Plaintext", "plaintext", 1, 4096)
    check_alg(req, "EncryptionAlgorithm", "encryptionAlgorithm")
    st.check_deny(info, "Encrypt")
    st.usable(k)
    return {"CiphertextBlob": b64(st.seal(k, pt, ctx)), "KeyId": k.arn,
            "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}


def _source(st, req, info, blob_member, ctx_member, key_member, key_json, alg_member, alg_json):
    blob = get_blob(req, blob_member, "ciphertextBlob", 1, 6144)
    ctx = get_ctx(req, ctx_member)
    asked = st.resolve(req[key_member], key_json) if req.get(key_member) is not None else None
    check_alg(req, alg_member, alg_json)
    k = st.blob_key(blob)
    if asked is not None and asked is not k:
        raise KmsError("IncorrectKeyException",
                       "The key ID in the request does not identify a CMK that can perform this operation.")
    return k, blob, ctx


def op_decrypt(st, req, info):
    info["context"] = req.get("EncryptionContext") if isinstance(req.get("EncryptionContext"), dict) else None
    try:
        info["key_arn"] = st.blob_key(base64.b64decode(req.get("CiphertextBlob") or "")).arn
    except Exception:
        pass
    k, blob, ctx = _source(st, req, info, "CiphertextBlob", "EncryptionContext", "KeyId", "keyId",
                           "EncryptionAlgorithm", "encryptionAlgorithm")
    info["key_arn"] = k.arn
    st.check_deny(info, "Decrypt")
    st.usable(k)
    pt = st.unseal(k, blob, ctx)
    return {"KeyId": k.arn, "Plaintext": b64(pt), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}


def _data_key(st, req, info, op):
    k = st.resolve(req.get("KeyId"))
    info["key_arn"] = k.arn
    ctx = get_ctx(req, "EncryptionContext")
    info["context"] = ctx
    spec = get_str(req, "KeySpec", "keySpec")
    nb = req.get("NumberOfBytes")
    if nb is not None and (not isinstance(nb, int) or isinstance(nb, bool)):
        raise KmsError("SerializationException", "NumberOfBytes must be an integer")
    if spec is not None and spec not in ("AES_256", "AES_128"):
        raise validation("keySpec", "Member must satisfy enum value set: [AES_256, AES_128]", "'%s'" % spec)
    if nb is not None and not 1 <= nb <= 1024:
        raise validation("numberOfBytes", "Member must have value %s" %
                         ("greater than or equal to 1" if nb < 1 else "less than or equal to 1024"),
                         "'%d'" % nb)
    if (spec is None) == (nb is None):
        raise KmsError("ValidationException", "Please specify either number of bytes or key spec.")
    n = nb if nb is not None else (32 if spec == "AES_256" else 16)
    st.check_deny(info, op)
    st.usable(k)
    dk = os.urandom(n)
    return {"CiphertextBlob": b64(st.seal(k, dk, ctx)), "Plaintext": b64(dk), "KeyId": k.arn}


def op_generate_data_key(st, req, info):
    return _data_key(st, req, info, "GenerateDataKey")


def op_generate_data_key_without_plaintext(st, req, info):
    r = _data_key(st, req, info, "GenerateDataKeyWithoutPlaintext")
    del r["Plaintext"]
    return r


def op_re_encrypt(st, req, info):
    dst = st.resolve(req.get("DestinationKeyId"), "destinationKeyId")
    info["key_arn"] = dst.arn
    dctx = get_ctx(req, "DestinationEncryptionContext")
    info["context"] = dctx
    src, blob, sctx = _source(st, req, info, "CiphertextBlob", "SourceEncryptionContext",
                              "SourceKeyId", "sourceKeyId",
                              "SourceEncryptionAlgorithm", "sourceEncryptionAlgorithm")
    info["source_key_arn"] = src.arn
    info["source_context"] = sctx
    check_alg(req, "DestinationEncryptionAlgorithm", "destinationEncryptionAlgorithm")
    st.check_deny(info, "ReEncrypt", src.arn)
    st.usable(src)
    st.usable(dst)
    pt = st.unseal(src, blob, sctx)
    return {"CiphertextBlob": b64(st.seal(dst, pt, dctx)), "SourceKeyId": src.arn, "KeyId": dst.arn,
            "SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT"}


def op_describe_key(st, req, info):
    k = st.resolve(req.get("KeyId"))
    info["key_arn"] = k.arn
    st.check_deny(info, "DescribeKey")
    with st.lock:
        return {"KeyMetadata": k.metadata(st.account)}


OPS = {
    "Encrypt": op_encrypt,
    "Decrypt": op_decrypt,
    "GenerateDataKey": op_generate_data_key,
    "GenerateDataKeyWithoutPlaintext": op_generate_data_key_without_plaintext,
    "ReEncrypt": op_re_encrypt,
    "DescribeKey": op_describe_key,
}


# ---------------------------------------------------------------- SigV4

class ExactHeadersSigV4(SigV4Auth):
    """botocore's SigV4 signer restricted to exactly the headers the client signed."""

    def __init__(self, credentials, service, region, signed):
        super().__init__(credentials, service, region)
        self._signed = signed

    def headers_to_sign(self, request):
        return self._signed


def parse_authorization(value):
    if not value.startswith("AWS4-HMAC-SHA256 "):
        raise KmsError("IncompleteSignatureException",
                       "Authorization header requires 'Credential' parameter. Authorization header "
                       "requires 'Signature' parameter. Authorization header requires 'SignedHeaders' "
                       "parameter. Unsupported algorithm or malformed Authorization header: %s"
                       % value.split(" ")[0])
    params = {}
    for part in value[len("AWS4-HMAC-SHA256 "):].split(","):
        name, eq, val = part.strip().partition("=")
        if eq:
            params[name] = val
    missing = [p for p in ("Credential", "Signature", "SignedHeaders") if not params.get(p)]
    if missing:
        raise KmsError("IncompleteSignatureException", " ".join(
            "Authorization header requires '%s' parameter." % p for p in missing))
    cred = params["Credential"].split("/")
    if len(cred) != 5 or cred[4] != "aws4_request" or not cred[0]:
        raise KmsError("IncompleteSignatureException",
                       "Credential should be scoped to a valid region and service: "
                       "'AKID/YYYYMMDD/REGION/SERVICE/aws4_request', got '%s'." % params["Credential"])
    return cred, params["SignedHeaders"].split(";"), params["Signature"]


# ---------------------------------------------------------------- HTTP

class Dropped(Exception):
    pass


# ---------------------------------------------------------------- request quota
QUOTA_OPS = ("Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncrypt")


class Quota:
    """The shared cryptographic-operations quota: a token bucket, RPS per second, burst RPS."""

    def __init__(self, rps):
        self.lock = threading.Lock()
        self.rps = None
        self.served = 0
        self.throttled = 0
        self.set(rps)

    def set(self, rps):
        if rps is not None and (not isinstance(rps, (int, float)) or isinstance(rps, bool) or rps < 0):
            raise ValueError("rps must be a non-negative number or null")
        with self.lock:
            self.rps = rps
            self.tokens = float(rps or 0)
            self.stamp = time.monotonic()

    def take(self, op):
        """Raise ThrottlingException when op is over the quota; else count it served."""
        if op not in QUOTA_OPS:
            return
        with self.lock:
            if self.rps is not None:
                now = time.monotonic()
                self.tokens = min(float(self.rps), self.tokens + (now - self.stamp) * self.rps)
                self.stamp = now
                if self.tokens < 1.0:
                    self.throttled += 1
                    raise KmsError("ThrottlingException", "Rate exceeded")
                self.tokens -= 1.0
            self.served += 1

    def stats(self):
        with self.lock:
            return {"rps": self.rps, "served": self.served, "throttled": self.throttled}


def make_handler(st):
    a = st.args

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = a.idle_timeout

        def version_string(self):
            return "volkey-fake-kms"

        def log_message(self, fmt, *args):  # quiet: the JSON log is the record
            pass

        def setup(self):
            self.conn_ok = True
            self.conn = next(st.conn_ids)
            self.nreq = 0
            self.kms_seen = False
            if isinstance(self.request, ssl.SSLSocket):
                self.request.settimeout(10)
                try:
                    self.request.do_handshake()
                except (ssl.SSLError, OSError):
                    self.conn_ok = False
                    with st.lock:
                        st.tls_failures += 1
                else:
                    with st.lock:
                        st.tls_handshakes += 1
                        if self.request.session_reused:
                            st.tls_resumed += 1
                        else:
                            st.tls_full += 1
            super().setup()

        def handle(self):
            if self.conn_ok:
                try:
                    super().handle()
                except (ConnectionError, ssl.SSLError, socket.timeout):
                    pass

        # -- plumbing
        def read_body(self):
            te = (self.headers.get("Transfer-Encoding") or "").lower()
            if te == "chunked":
                out = bytearray()
                while True:
                    line = self.rfile.readline(1024)
                    try:
                        size = int(line.split(b";")[0].strip(), 16)
                    except ValueError:
                        raise KmsError("SerializationException", "bad chunked encoding")
                    if size == 0:
                        while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                            pass
                        return bytes(out)
                    if len(out) + size > MAX_BODY:
                        self.close_connection = True
                        raise KmsError("RequestEntityTooLargeException", "Request is too large", 413)
                    out += self.rfile.read(size)
                    self.rfile.readline(1024)
            cl = self.headers.get("Content-Length")
            if cl is None:
                return b""
            try:
                n = int(cl)
                if n < 0:
                    raise ValueError
            except ValueError:
                self.close_connection = True
                raise KmsError("SerializationException", "bad Content-Length")
            if n > MAX_BODY:
                self.close_connection = True
                raise KmsError("RequestEntityTooLargeException", "Request is too large", 413)
            body = self.rfile.read(n)
            if len(body) != n:
                self.close_connection = True
                raise Dropped()
            return body

        def send(self, status, body, ctype=JSON_CT, request_id=None, truncate=False):
            self.send_response(status)
            if request_id:
                self.send_header("x-amzn-RequestId", request_id)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            if self.close_connection or truncate:
                self.send_header("Connection", "close")
            self.end_headers()
            if truncate:
                self.wfile.write(body[:len(body) // 2])
                self.wfile.flush()
                self.hangup()
            else:
                self.wfile.write(body)

        def hangup(self):
            self.close_connection = True
            try:
                self.wfile.flush()
            except OSError:
                pass
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        def error_body(self, e):
            name = (ERR_PREFIX + e.name) if a.prefixed_errors else e.name
            d = {"__type": name}
            if e.message is not None:
                d[a.message_key] = e.message
            return json.dumps(d).encode()

        def plain_error(self, status, name, message):
            self.send(status, self.error_body(KmsError(name, message, status)),
                      request_id=str(uuid.uuid4()))

        # -- methods
        def do_GET(self):
            if self.path == "/_volkey/stats":
                with st.lock:
                    d = {"calls": dict(st.calls), "connections": st.connections,
                         "kms_connections": st.kms_connections,
                         "tls_handshakes": st.tls_handshakes, "tls_failures": st.tls_failures,
                         "tls_full": st.tls_full, "tls_resumed": st.tls_resumed,
                         "requests": st.requests}
                d["quota"] = st.quota.stats()
                return self.send(200, json.dumps(d).encode(), "application/json")
            if self.path == "/_volkey/quota":
                return self.send(200, json.dumps(st.quota.stats()).encode(), "application/json")
            if self.path == "/_volkey/fault":
                with st.lock:
                    d = st.fault_state()
                return self.send(200, json.dumps(d).encode(), "application/json")
            self.other_method()

        def other_method(self):
            try:
                self.read_body()
            except (KmsError, Dropped):
                self.close_connection = True
            if self.command == "HEAD":
                self.send_response(405)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.plain_error(405, "UnknownOperationException", "Method %s not allowed" % self.command)

        do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = other_method

        def control(self):
            try:
                body = self.read_body()
                req = json.loads(body or b"{}")
            except (KmsError, Dropped, ValueError) as e:
                self.close_connection = self.close_connection or isinstance(e, Dropped)
                return self.send(400, json.dumps({"error": "bad JSON"}).encode(), "application/json")
            try:
                if self.path == "/_volkey/quota":
                    if not isinstance(req, dict) or set(req) != {"rps"}:
                        raise ValueError('expected {"rps": N}')
                    st.quota.set(req["rps"])
                    return self.send(200, json.dumps(st.quota.stats()).encode(), "application/json")
                if self.path == "/_volkey/fault":
                    d = st.set_faults(req)
                    return self.send(200, json.dumps(d).encode(), "application/json")
                if self.path == "/_volkey/rotate-key":
                    try:
                        k = st.resolve(req.get("key") if isinstance(req, dict) else None)
                    except KmsError as e:
                        return self.send(404, json.dumps({"error": e.message}).encode(), "application/json")
                    with st.lock:
                        v = k.rotate()
                    return self.send(200, json.dumps({"key_arn": k.arn, "version": v}).encode(),
                                     "application/json")
                if self.path == "/_volkey/key-state":
                    if not isinstance(req, dict) or req.get("state") not in STATES:
                        raise ValueError("state must be one of %s" % (STATES,))
                    try:
                        k = st.resolve(req.get("key"))
                    except KmsError as e:
                        return self.send(404, json.dumps({"error": e.message}).encode(), "application/json")
                    with st.lock:
                        k.state = req["state"]
                        k.changed = time.time()
                    return self.send(200, json.dumps({"key_arn": k.arn, "state": k.state}).encode(),
                                     "application/json")
            except ValueError as e:
                return self.send(400, json.dumps({"error": str(e)}).encode(), "application/json")
            self.send(404, json.dumps({"error": "no such control endpoint"}).encode(), "application/json")

        def do_POST(self):
            if self.path.startswith("/_volkey/"):
                return self.control()
            if self.path.split("?")[0] != "/":
                try:
                    self.read_body()
                except (KmsError, Dropped):
                    self.close_connection = True
                return self.plain_error(404, "UnknownOperationException", "No such resource %s" % self.path)
            self.kms_call()

        def kms_call(self):
            if a.rtt_ms:
                time.sleep(a.rtt_ms / 1000.0)
            rid = str(uuid.uuid4())
            target = self.headers.get("X-Amz-Target") or ""
            op = target[len(TARGET_PREFIX):] if target.startswith(TARGET_PREFIX) else (target or "(none)")
            new_conn = self.nreq == 0
            self.nreq += 1
            info = {"op": op, "key_arn": None, "region": st.region, "status": None, "error": None,
                    "request_id": rid, "conn": self.conn, "new_conn": new_conn, "access_key": None,
                    "context": None, "fault": None, "fault_applied": []}
            with st.lock:
                st.calls[op] = st.calls.get(op, 0) + 1
                st.requests += 1
                if not self.kms_seen:
                    st.kms_connections += 1
            self.kms_seen = True
            faults, latency, f_status, f_type = st.take_faults()
            applied = info["fault_applied"]
            body = b""
            try:
                try:
                    body = self.read_body()
                except Dropped:
                    info["status"] = 0  # the client closed before sending the whole body
                    return
                except KmsError as e:
                    info["status"], info["error"] = e.status, e.name
                    return self.send(e.status, self.error_body(e), request_id=rid)
                if latency:
                    applied.append("latency")
                    time.sleep(latency / 1000.0)
                if "drop" in faults:
                    applied.append("drop")
                    info["status"] = 0
                    return self.hangup()
                if "malformed" in faults:
                    applied.append("malformed")
                    info["status"] = 200
                    return self.send(200, b"{not json", request_id=rid)
                if "error5xx" in faults:
                    applied.append("error5xx")
                    e = KmsError(f_type, "We encountered an internal error. Please try again.", f_status)
                    info["status"], info["error"] = e.status, e.name
                    return self.send(e.status, self.error_body(e), request_id=rid)
                if "throttle" in faults:
                    applied.append("throttle")
                    e = KmsError("ThrottlingException", "Rate exceeded")
                    info["status"], info["error"] = 400, e.name
                    return self.send(400, self.error_body(e), request_id=rid)
                info["_pending"] = faults & {"deny", "unavailable"}
                try:
                    status, out = 200, json.dumps(self.process(op, body, info)).encode()
                except KmsError as e:
                    status, out = e.status, self.error_body(e)
                    info["error"] = e.name
                except Exception:
                    traceback.print_exc()
                    e = KmsError("KMSInternalException", "internal error in the fake", 500)
                    status, out = 500, self.error_body(e)
                    info["error"] = e.name
                info["status"] = status
                if "truncate" in faults:
                    applied.append("truncate")
                    return self.send(status, out, request_id=rid, truncate=True)
                if "oversize" in faults:
                    applied.append("oversize")
                    out = pad_json(out, OVERSIZE)
                self.send(status, out, request_id=rid)
            finally:
                info.pop("_pending", None)
                if info["access_key"] is None or info["key_arn"] is None:
                    self.peek(info, body)
                info["fault"] = "+".join(applied) or None
                del info["fault_applied"]
                st.record(**info)
                st.cloudtrail(info, self.headers.get("User-Agent"), self.client_address[0])

        def peek(self, info, body):
            """Best effort: fill access_key and key_arn of calls answered early."""
            if info["access_key"] is None:
                auth = self.headers.get("Authorization") or ""
                cred = auth.partition("Credential=")[2].split("/")[0].split(",")[0].strip()
                info["access_key"] = cred or None
            if info["key_arn"] is None:
                try:
                    req = json.loads(body)
                    kid = req.get("DestinationKeyId") or req.get("KeyId")
                    if kid:
                        info["key_arn"] = st.resolve(kid).arn
                    elif req.get("CiphertextBlob"):
                        info["key_arn"] = st.blob_key(base64.b64decode(req["CiphertextBlob"])).arn
                except Exception:
                    pass

        def process(self, op, body, info):
            hdrs = self.headers
            auth = hdrs.get("Authorization")
            if not auth:
                raise KmsError("MissingAuthenticationTokenException", "Missing Authentication Token")
            cred, signed_names, signature = parse_authorization(auth)
            akid, sdate, sregion, sservice = cred[:4]
            info["access_key"] = akid
            amz_date = hdrs.get("X-Amz-Date")
            if not amz_date:
                raise KmsError("IncompleteSignatureException",
                               "Authorization header requires existence of either a 'X-Amz-Date' or "
                               "a 'Date' header. Authorization=%s" % auth.split(",")[0])
            try:
                when = datetime.datetime.strptime(amz_date, AMZ_FMT).replace(tzinfo=datetime.timezone.utc)
            except ValueError:
                raise KmsError("IncompleteSignatureException",
                               "Date must be in ISO-8601 'basic format'. Got '%s'." % amz_date)
            signed = [n.strip().lower() for n in signed_names]
            if "host" not in signed:
                raise KmsError("IncompleteSignatureException",
                               "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
            if "x-amz-date" not in signed:
                raise KmsError("IncompleteSignatureException",
                               "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
            if a.require_signed_target:
                for h in ("x-amz-target", "content-type"):
                    if h not in signed:
                        raise KmsError("IncompleteSignatureException",
                                       "'%s' must be a 'SignedHeader' in the AWS Authorization "
                                       "(volkey fake, --require-signed-target)." % h)
            if akid not in st.creds:
                raise KmsError("UnrecognizedClientException", BAD_TOKEN)
            secret, token = st.creds[akid]
            sent_token = hdrs.get("X-Amz-Security-Token")
            if token:
                if sent_token != token or "x-amz-security-token" not in signed:
                    raise KmsError("UnrecognizedClientException", BAD_TOKEN)
            elif sent_token is not None:
                raise KmsError("UnrecognizedClientException", BAD_TOKEN)
            if sdate != amz_date[:8]:
                raise KmsError("InvalidSignatureException",
                               "Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
                               "of date from HTTP: '%s' != '%s', from '%s'." % (sdate, amz_date[:8], amz_date))
            if sregion != st.region:
                raise KmsError("InvalidSignatureException",
                               "Credential should be scoped to a valid region, not '%s'. "
                               "This endpoint serves '%s'." % (sregion, st.region))
            if sservice != "kms":
                raise KmsError("InvalidSignatureException",
                               "Credential should be scoped to correct service: 'kms', not '%s'." % sservice)
            now = datetime.datetime.now(datetime.timezone.utc)
            if when < now - SKEW:
                raise KmsError("InvalidSignatureException",
                               "Signature expired: %s is now earlier than %s (%s - 15 min.)"
                               % (amz_date, (now - SKEW).strftime(AMZ_FMT), now.strftime(AMZ_FMT)))
            if when > now + SKEW:
                raise KmsError("InvalidSignatureException",
                               "Signature not yet current: %s is still later than %s (%s + 15 min.)"
                               % (amz_date, (now + SKEW).strftime(AMZ_FMT), now.strftime(AMZ_FMT)))
            sha = hdrs.get("X-Amz-Content-SHA256")
            if sha is not None and sha != hashlib.sha256(body).hexdigest():
                raise KmsError("InvalidSignatureException",
                               "The provided 'x-amz-content-sha256' header does not match what was computed.")
            signed_hdrs = HTTPHeaders()
            for n in signed:
                vals = hdrs.get_all(n)
                if not vals:
                    raise KmsError("InvalidSignatureException", SIG_MISMATCH +
                                   " (signed header '%s' is not in the request)" % n)
                for v in vals:
                    signed_hdrs[n] = v
            scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
            areq = AWSRequest(method=self.command, url="%s://%s%s" % (scheme, hdrs.get("Host"), self.path),
                              data=body, headers=signed_hdrs)
            areq.context["timestamp"] = amz_date
            signer = ExactHeadersSigV4(Credentials(akid, secret, token), sservice, sregion, signed_hdrs)
            creq = signer.canonical_request(areq)
            sts = signer.string_to_sign(areq, creq)
            want = signer.signature(sts, areq)
            if not hmac.compare_digest(want.encode(), signature.encode()):
                raise KmsError("InvalidSignatureException", SIG_MISMATCH +
                               "\n\nThe Canonical String for this request should have been\n'%s'\n\n"
                               "The String-to-Sign should have been\n'%s'\n" % (creq, sts))
            # Authenticated: now the operation.
            if not self.headers.get("X-Amz-Target"):
                raise KmsError("UnknownOperationException", "Missing X-Amz-Target header")
            if op not in OPS or not self.headers["X-Amz-Target"].startswith(TARGET_PREFIX):
                raise KmsError("UnknownOperationException",
                               "Unknown operation %s" % self.headers["X-Amz-Target"])
            ctype = (hdrs.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype != JSON_CT:
                raise KmsError("UnknownOperationException",
                               "Content-Type must be %s, not '%s'" % (JSON_CT, hdrs.get("Content-Type") or ""))
            st.quota.take(op)  # --quota: over it, ThrottlingException
            try:
                req = json.loads(body.decode("utf-8")) if body.strip() else {}
            except (ValueError, UnicodeDecodeError):
                raise KmsError("SerializationException", "Request body is not valid JSON")
            if not isinstance(req, dict):
                raise KmsError("SerializationException",
                               "Start of list found where not expected" if isinstance(req, list)
                               else "Expected a JSON object")
            return OPS[op](st, req, info)

    return Handler


def pad_json(body, size):
    """Return body (a JSON object) grown to exactly `size` bytes by a padding member."""
    try:
        d = json.loads(body)
        if not isinstance(d, dict):
            d = {"Body": d}
    except ValueError:
        d = {}
    d["VolkeyPadding"] = ""
    n = size - len(json.dumps(d).encode())
    d["VolkeyPadding"] = "x" * max(n, 0)
    return json.dumps(d).encode()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog is 5: a sixth simultaneous connect
    # would wait for a SYN retransmit (1 s), which a real endpoint never does.
    request_queue_size = 1024
    tls = None
    st = None

    def get_request(self):
        sock, addr = self.socket.accept()
        with self.st.lock:
            self.st.connections += 1
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, socket.timeout)):
            return
        sys.stderr.write("kms.py: error on a connection: %r\n" % (exc,))


def main():
    ap = argparse.ArgumentParser(description="Fake AWS KMS for volkey tests")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    ap.add_argument("--cloudtrail", help="also one CloudTrail-shaped JSON record per KMS call to this file")
    ap.add_argument("--config", required=True)
    ap.add_argument("--region")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--fault", action="append", default=[])
    ap.add_argument("--require-signed-target", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--prefixed-errors", action="store_true")
    ap.add_argument("--message-key", choices=("message", "Message"), default="message")
    ap.add_argument("--idle-timeout", type=float, default=60.0)
    ap.add_argument("--rtt-ms", type=float, default=0.0)
    ap.add_argument("--quota", type=float, help="cryptographic operations per second (token bucket, burst = RPS)")
    args = ap.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    with open(args.config) as f:
        cfg = json.load(f)
    st = State(args, cfg)
    if args.quota is not None and args.quota < 0:
        ap.error("--quota must be >= 0")
    st.quota = Quota(args.quota)
    for spec in args.fault:
        try:
            st.set_faults(json.loads(spec))
        except ValueError as e:
            ap.error("--fault %s: %s" % (spec, e))
    srv = Server(("127.0.0.1", 0), make_handler(st))
    srv.st = st
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        srv.tls = ctx
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
