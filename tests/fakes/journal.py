#!/usr/bin/python3
"""A stand-in for journald's native socket, for tests that check what volkey
sends to the journal (sd_journal_send). Binds a Unix datagram socket, decodes
each datagram in the native protocol and appends it to a log as one JSON
object per line.

Usage: journal.py --socket PATH --log FILE

Native protocol (systemd's journal-native): a datagram is a list of fields,
each either "NAME=value\\n", or "NAME\\n" + 64-bit little-endian length +
value + "\\n" (values that contain a newline). NAME is upper case, digits and
'_', not starting with a digit. Malformed datagrams are logged as
{"_malformed": reason} so that a test sees them. Entries too large for a
datagram arrive as a memfd (SCM_RIGHTS); volkey's are small, so that is
logged as malformed too.
"""
import argparse
import json
import os
import re
import socket
import struct

NAME = re.compile(rb"^[A-Z_][A-Z0-9_]*$")


def decode(data):
    out, i = {}, 0
    while i < len(data):
        nl = data.find(b"\n", i)
        if nl < 0:
            raise ValueError("field without newline")
        line = data[i:nl]
        if b"=" in line:
            name, value = line.split(b"=", 1)
            i = nl + 1
        else:
            name = line
            if nl + 9 > len(data):
                raise ValueError("binary field without length")
            (n,) = struct.unpack("<Q", data[nl + 1:nl + 9])
            value = data[nl + 9:nl + 9 + n]
            if len(value) != n or data[nl + 9 + n:nl + 10 + n] != b"\n":
                raise ValueError("binary field of wrong length")
            i = nl + 10 + n
        if not NAME.match(name):
            raise ValueError("bad field name %r" % name)
        out[name.decode()] = value.decode("utf-8", "replace")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        os.unlink(a.socket)
    except FileNotFoundError:
        pass
    s.bind(a.socket + ".tmp")
    os.rename(a.socket + ".tmp", a.socket)
    with open(a.log, "a", buffering=1) as log:
        while True:
            data, anc, _, _ = s.recvmsg(1 << 20, socket.CMSG_SPACE(16))
            if anc:
                log.write(json.dumps({"_malformed": "file descriptor passed"}) + "\n")
                continue
            try:
                log.write(json.dumps(decode(data)) + "\n")
            except ValueError as e:
                log.write(json.dumps({"_malformed": str(e)}) + "\n")


if __name__ == "__main__":
    main()
