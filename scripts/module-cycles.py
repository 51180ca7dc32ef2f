#!/usr/bin/env python3
"""Fails if modules of one crate depend on each other in a cycle.

A module depends on another when its source names it (`use crate::a::b`,
`super::x::Y`, `crate::x::f()`). An edge is judged between the two
siblings it crosses: for `crate::a::b` naming `crate::c::d`, between `a`
and `c`. A module naming one of its ancestors (the type a parent defines
and its children implement, `crate::Error`) or its own descendants is not
a cycle. Every crate under `crates/` is checked; tests (`tests.rs`,
`*_tests.rs`, `tests/`) are left out, as are `#[cfg(test)]` blocks at the
end of a file.

Usage: scripts/module-cycles.py [crates-dir]
"""
import os
import re
import sys
from collections import defaultdict

REF = re.compile(r"\b(crate|super|self)((?:::[a-z_][a-z0-9_]*)+)")
USE_GROUP = re.compile(r"\buse\s+(crate|super|self)((?:::[a-z_][a-z0-9_]*)*)::\{([^;]*)\}", re.S)


def modules(src):
    """Module path (tuple) -> file, for one crate's src dir."""
    found = {}
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(root, f), src)
            parts = rel[:-3].split(os.sep)
            if parts[-1] in ("lib", "main", "mod"):
                parts = parts[:-1]
            if parts and (parts[-1] == "tests" or parts[-1].endswith("_tests")):
                continue
            if "bin" in parts[:1]:
                continue
            found[tuple(parts)] = os.path.join(root, f)
    return found


def strip_tests(text):
    """The file without its trailing test module and its comments."""
    i = text.find("#[cfg(test)]\nmod tests")
    text = text if i < 0 else text[:i]
    return re.sub(r"//[^\n]*", "", text)


def resolve(module, base, path, known):
    """The longest known module a reference names."""
    if base == "crate":
        target = ()
    elif base == "super":
        target = module[:-1]
    else:
        target = module
    segs = [s for s in path.split("::") if s]
    while segs and segs[0] == "super":
        target = target[:-1]
        segs = segs[1:]
    best = target
    cur = target
    for s in segs:
        cur = cur + (s,)
        if cur in known:
            best = cur
        else:
            break
    return best


def edges_of(module, text, known):
    refs = [(m.group(1), m.group(2)) for m in REF.finditer(text)]
    for m in USE_GROUP.finditer(text):
        for item in re.split(r",", m.group(3)):
            item = item.strip().split(" as ")[0].strip()
            head = item.split("::")[0]
            if re.fullmatch(r"[a-z_][a-z0-9_]*", head or ""):
                refs.append((m.group(1), m.group(2) + "::" + item.replace("{", "")))
    for base, path in refs:
        yield resolve(module, base, path, known)


def sibling_edge(a, b):
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    if n == len(a) or n == len(b):
        return None  # one is the other's ancestor
    return a[: n + 1], b[: n + 1]


def cycles(graph):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def main():
    crates = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "crates")
    failed = False
    for crate in sorted(os.listdir(crates)):
        src = os.path.join(crates, crate, "src")
        if not os.path.isdir(src):
            continue
        known = modules(src)
        graph = defaultdict(set)
        why = {}
        for module, path in known.items():
            text = strip_tests(open(path, encoding="utf-8").read())
            for target in edges_of(module, text, known):
                e = sibling_edge(module, target)
                if e:
                    graph[e[0]].add(e[1])
                    why.setdefault(e, (module, target))
        for comp in cycles(graph):
            failed = True
            names = ["::".join(c) for c in comp]
            print(f"{crate}: modules in a cycle: {', '.join(names)}")
            for a in comp:
                for b in comp:
                    if b in graph.get(a, ()):
                        m, t = why[(a, b)]
                        print(f"    {'::'.join(m)} uses {'::'.join(t) or 'crate'}")
    if failed:
        sys.exit(1)
    print("no module cycles")


if __name__ == "__main__":
    main()
