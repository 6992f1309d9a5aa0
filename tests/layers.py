#!/usr/bin/python3
"""Checks volkey's layering (docs/layout.md, "Layers").

Each source folder is a layer; the Layers table of docs/layout.md says which
other folders it may use. A file may include headers of its own folder and of
those, and its object file may call (reference symbols defined) only into
objects of those folders. Object files are read with nm, so a call made
through a header another folder shares, or declared by hand, is seen all the
same. Also refused: a project include that does not name its folder, a file
in no layer, an include cycle between files, a call cycle between object files
(within a folder too), a called function defined by two objects, and rules
that are themselves circular.

usage: tests/layers.py [--src DIR] [--build DIR] [--rules FILE]
Exit 0 when the tree keeps its layers, 1 with one line per violation, 2 on a
usage error (no rules, no object files to read).
"""
import argparse
import os
import re
import subprocess
import sys
from collections import defaultdict


def die(msg):
    """A usage error (no rules, nothing built): exit 2, not a violation."""
    print(f"layers: {msg}", file=sys.stderr)
    sys.exit(2)

INCLUDE_ROOTS = ("agent", "tools")  # the Makefile's -I directories
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)
UNDEFINED_TYPES = {"U", "w", "v"}


def parse_rules(path):
    """{folder: set(folders it may use)} from the Layers table."""
    text = open(path, encoding="utf-8").read()
    m = re.search(r"^## Layers\b.*?$(.*?)(?=^## |\Z)", text, re.M | re.S)
    if not m:
        die(f"{path}: no '## Layers' section")
    rows = [line for line in m.group(1).splitlines() if line.startswith("| `")]
    folders, uses = [], {}
    for row in rows:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        folder = cells[0].strip("`")
        if not folder.endswith("/"):
            die(f"{path}: Layers row {folder!r}: a folder ends in '/'")
        folders.append(folder.rstrip("/"))
        uses[folders[-1]] = cells[-1]
    if not folders:
        die(f"{path}: the Layers table has no rows")
    short = {f.rsplit("/", 1)[-1]: f for f in folders}
    if len(short) != len(folders):
        die(f"{path}: two layers share a last path component")
    rules = {}
    for f in folders:
        names = re.findall(r"[a-z0-9_-]+", uses[f])
        bad = [n for n in names if n not in short and n not in ("nothing", "none")]
        if bad:
            die(f"{path}: layer {f}/ may use unknown layer(s): {' '.join(bad)}")
        rules[f] = {short[n] for n in names if n in short}
    return rules


def sccs(nodes, edges):
    """Tarjan: strongly connected components with more than one node, or a self loop."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in edges.get(v, ()):
                out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def cycle_path(comp, edges):
    """The shortest loop from the component's first node back to it: [a, b, ..., a]."""
    members, start = set(comp), comp[0]
    prev, frontier = {}, [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(edges.get(v, ())):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return [start] + path[::-1][1:] + [start] if v != start else [start, start]
                if w in members and w not in prev:
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    return comp + [start]


class Tree:
    def __init__(self, src, rules):
        self.src, self.rules = src, rules
        self.problems = []

    def layer_of(self, rel):
        best = None
        for f in self.rules:
            if rel.startswith(f + "/") and (best is None or len(f) > len(best)):
                best = f
        return best

    def may_use(self, a, b):
        return a == b or b in self.rules[a]

    def sources(self):
        out = []
        for root in INCLUDE_ROOTS:
            for d, _, files in os.walk(os.path.join(self.src, root)):
                for name in files:
                    if name.endswith((".c", ".h")):
                        out.append(os.path.relpath(os.path.join(d, name), self.src))
        return sorted(out)

    def resolve(self, rel, inc):
        here = os.path.dirname(rel)
        for base in (here,) + INCLUDE_ROOTS:
            cand = os.path.normpath(os.path.join(base, inc))
            if os.path.isfile(os.path.join(self.src, cand)):
                return cand, base != here
        return None, False

    def check_includes(self):
        graph, files = defaultdict(set), self.sources()
        n = 0
        for rel in files:
            layer = self.layer_of(rel)
            if layer is None:
                self.problems.append(f"{rel}: in no layer (add its folder to the Layers table of docs/layout.md)")
                continue
            text = open(os.path.join(self.src, rel), encoding="utf-8", errors="replace").read()
            for inc in INCLUDE_RE.findall(text):
                n += 1
                target, via_root = self.resolve(rel, inc)
                if target is None:
                    self.problems.append(f'{rel}: #include "{inc}" is no file of the tree')
                    continue
                graph[rel].add(target)
                tl = self.layer_of(target)
                if tl is None:
                    self.problems.append(f'{rel}: #include "{inc}" reaches {target}, which is in no layer')
                elif not via_root:
                    self.problems.append(f'{rel}: #include "{inc}" must name its folder ("{tl.split("/", 1)[1]}/...")')
                elif not self.may_use(layer, tl):
                    self.problems.append(f'{rel}: #include "{inc}": layer {layer}/ may not use {tl}/ (upward or sideways)')
        for comp in sccs(set(files), graph):
            self.problems.append("include cycle: " + " -> ".join(cycle_path(comp, graph)))
        return len(files), n

    def check_objects(self, build):
        objs = []
        for f in self.rules:
            d = os.path.join(build, f)
            if os.path.isdir(d):
                # an object whose source is gone is a stale build leftover, not the tree
                objs += sorted(os.path.join(f, x) for x in os.listdir(d)
                               if x.endswith(".o") and os.path.isfile(os.path.join(self.src, f, x[:-2] + ".c")))
        if not objs:
            die(f"no object files under {build}/ for any layer: build first")
        defs, undefs = defaultdict(set), {o: set() for o in objs}
        # one nm for all: "path/to/x.o: symbol TYPE [value size]"
        out = subprocess.run(["nm", "-P", "-g", "-A"] + [os.path.join(build, o) for o in objs],
                             capture_output=True, text=True, check=True).stdout
        prefix = len(os.path.join(build, ""))
        for line in out.splitlines():
            path, _, rest = line.partition(": ")
            p = rest.split()
            if len(p) < 2:
                continue
            o = path[prefix:]
            if p[1] in UNDEFINED_TYPES:
                undefs[o].add(p[0])
            else:
                defs[p[0]].add(o)
        edges, why = defaultdict(set), defaultdict(set)
        twice = set()
        for o in objs:
            for s in undefs[o]:
                if len(defs.get(s, ())) > 1:
                    twice.add(s)  # which one a call reaches depends on link order: say so
                for t in defs.get(s, ()):
                    if t != o:
                        edges[o].add(t)
                        why[(o, t)].add(s)
        for s in sorted(twice):
            self.problems.append(f"{s} is defined in {' and '.join(src_name(o) for o in sorted(defs[s]))}, and called")
        nedges = 0
        for o in objs:
            for t in sorted(edges[o]):
                nedges += 1
                a, b = self.layer_of(o), self.layer_of(t)
                if not self.may_use(a, b):
                    syms = " ".join(sorted(why[(o, t)])[:4])
                    self.problems.append(f"{src_name(o)} calls {src_name(t)} ({syms}): layer {a}/ may not use {b}/")
        for comp in sccs(set(objs), edges):
            loop = cycle_path(comp, edges)
            steps = [f"{src_name(x)} -({sorted(why[(x, y)])[0]})-> " for x, y in zip(loop, loop[1:])]
            self.problems.append("call cycle: " + "".join(steps) + src_name(loop[-1]))
        return len(objs), nedges


def src_name(obj):
    return obj[:-2] + ".c"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="volkey's layering check")
    ap.add_argument("--src", default=os.path.dirname(here))
    ap.add_argument("--build", default=None, help="build directory (default SRC/build)")
    ap.add_argument("--rules", default=None, help="default SRC/docs/layout.md")
    a = ap.parse_args()
    build = a.build or os.path.join(a.src, "build")
    rules = parse_rules(a.rules or os.path.join(a.src, "docs", "layout.md"))
    t = Tree(a.src, rules)
    for comp in sccs(set(rules), {k: v - {k} for k, v in rules.items()}):
        t.problems.append("the Layers table is circular: " + " -> ".join(comp + [comp[0]]))
    nfiles, nincs = t.check_includes()
    nobjs, nedges = t.check_objects(build)
    for p in t.problems:
        print(p)
    if t.problems:
        print(f"layers: {len(t.problems)} violation(s)")
        return 1
    print(f"layers: {len(rules)} layers, {nfiles} files, {nincs} includes, {nobjs} objects, "
          f"{nedges} call edges: no upward or sideways use, no cycle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
