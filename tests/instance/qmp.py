#!/usr/bin/python3
"""A small QMP client (stdlib only) for the instance tier.

Usage: qmp.py SOCKET COMMAND [ARGS-JSON] [--wait-event NAME [--match KEY=VALUE]] [--timeout S]

Sends one command, prints its "return" as JSON and exits 0; on a QMP error
prints it to stderr and exits 1. With --wait-event it then waits (up to
--timeout seconds, default 60) for an event of that name whose data has
KEY=VALUE (e.g. --match device=hot1) and prints the event; exit 2 if none came.
"""
import json
import socket
import sys
import time


def main():
    a = sys.argv[1:]
    opts = {"--wait-event": None, "--match": None, "--timeout": "60"}
    pos = []
    while a:
        x = a.pop(0)
        if x in opts:
            opts[x] = a.pop(0)
        else:
            pos.append(x)
    if len(pos) not in (2, 3):
        sys.exit(__doc__)
    path, cmd = pos[0], pos[1]
    args = json.loads(pos[2]) if len(pos) == 3 else None
    deadline = time.monotonic() + float(opts["--timeout"])
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(float(opts["--timeout"]))
    s.connect(path)
    f = s.makefile("rwb", buffering=0)
    events = []

    def read():
        line = f.readline()
        if not line:
            sys.exit("qmp: connection closed")
        return json.loads(line)

    def send(c, arguments=None):
        msg = {"execute": c}
        if arguments is not None:
            msg["arguments"] = arguments
        f.write(json.dumps(msg).encode() + b"\n")
        while True:
            r = read()
            if "event" in r:
                events.append(r)
                continue
            return r

    read()  # greeting
    send("qmp_capabilities")
    r = send(cmd, args)
    if "error" in r:
        print("qmp: %s: %s" % (cmd, r["error"].get("desc", r["error"])), file=sys.stderr)
        sys.exit(1)
    print(json.dumps(r["return"]))
    want = opts["--wait-event"]
    if not want:
        return
    k, _, v = (opts["--match"] or "").partition("=")

    def matches(e):
        return e["event"] == want and (not k or str(e.get("data", {}).get(k)) == v)

    while True:
        for e in events:
            if matches(e):
                print(json.dumps(e))
                return
        events.clear()
        left = deadline - time.monotonic()
        if left <= 0:
            print("qmp: no %s event within %s s" % (want, opts["--timeout"]), file=sys.stderr)
            sys.exit(2)
        s.settimeout(left)
        try:
            events.append(read())
        except socket.timeout:
            continue


if __name__ == "__main__":
    main()
