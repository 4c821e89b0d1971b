#!/usr/bin/env python3
"""Include rules that need a graph: the per-file levels of src/server (scripts/server-layers.txt)
and no include circle anywhere in src (module x = src/*/x.c + include/*/x.h).
Prints each violation and exits 1 when there is one.
  scripts/check_deps.py                 check
  scripts/check_deps.py --graph server  print one folder's include graph (docs/architecture.md)"""
import os
import re
import sys

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.chdir(top)
INCLUDE = re.compile(r'#include "(?:([a-z]+)/)?([a-z0-9_]+)\.h"')


def module_files():
    """(layer, module) -> list of files."""
    mods = {}
    for root in ("src", "include"):
        for layer in sorted(os.listdir(root)):
            d = os.path.join(root, layer)
            if not os.path.isdir(d):
                continue
            for f in sorted(os.listdir(d)):
                if f.endswith((".c", ".h")):
                    name = f[:-2]
                    mods.setdefault((layer, name), []).append(os.path.join(d, f))
    return mods


def edges(mods):
    """(layer, module) -> {(layer, module): first file and line that includes it}."""
    out = {}
    for key, files in mods.items():
        e = out.setdefault(key, {})
        for path in files:
            with open(path) as fh:
                for n, line in enumerate(fh, 1):
                    m = INCLUDE.match(line.strip())
                    if not m:
                        continue
                    layer = m.group(1) or key[0]  # "x.h" beside the file: its own folder
                    dep = (layer, m.group(2))
                    if dep != key:
                        e.setdefault(dep, "%s:%d" % (path, n))
    return out


def read_layers():
    level, same = {}, {}
    order = []
    with open("scripts/server-layers.txt") as fh:
        for line in fh:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            head, _, rest = line.partition(":")
            if head.startswith("same-level "):
                same[head.split()[1]] = set(rest.split())
            else:
                order.append(head)
                for mod in rest.split():
                    level[mod] = len(order) - 1
    return order, level, same


def check_server(graph, mods):
    order, level, same = read_layers()
    bad = []
    for (layer, mod) in mods:
        if layer == "server" and mod not in level:
            bad.append("check-deps: src/server module '%s' has no level in scripts/server-layers.txt" % mod)
    for (layer, mod), deps in graph.items():
        if layer != "server" or mod not in level:
            continue
        for (dl, dm), where in deps.items():
            if dl != "server" or dm not in level:
                continue
            if level[dm] < level[mod] or dm in same.get(mod, ()):
                continue
            bad.append("check-deps: %s: %s (%s) may not include %s (%s)" %
                       (where, mod, order[level[mod]], dm, order[level[dm]]))
    return bad


def find_cycle(graph):
    """Returns one include circle as a list of modules, or None."""
    state = {}
    stack = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if not state.get(nxt):
                cyc = visit(nxt)
                if cyc:
                    return cyc
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if not state.get(node):
            cyc = visit(node)
            if cyc:
                return cyc
    return None


def print_graph(graph, layer):
    """The include graph of one folder, a line per module: "module -> its includes there"."""
    order, level, _ = read_layers()
    names = sorted((m for (l, m) in graph if l == layer),
                   key=lambda m: (level.get(m, -1), m) if layer == "server" else m)
    for m in names:
        deps = sorted(d for (l, d) in graph[(layer, m)] if l == layer)
        tag = " [%s]" % order[level[m]] if layer == "server" and m in level else ""
        print("%-16s%s -> %s" % (m, tag, " ".join(deps) if deps else "(none)"))


def main():
    mods = module_files()
    graph = edges(mods)
    if len(sys.argv) == 3 and sys.argv[1] == "--graph":
        print_graph(graph, sys.argv[2])
        return 0
    bad = check_server(graph, mods)
    cyc = find_cycle(graph)
    if cyc:
        bad.append("check-deps: include circle: " + " -> ".join("%s/%s" % m for m in cyc))
    for line in bad:
        print(line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
