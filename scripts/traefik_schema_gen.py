#!/usr/bin/env python3
"""Regenerate src/odoo_router/migrate/traefik_schema_data.json from a Traefik git checkout.

    python3 scripts/traefik_schema_gen.py /path/to/traefik v2.10.7 v2.11.53 v3.0.4 v3.1.7 \
        v3.2.5 v3.3.7 v3.4.5 v3.5.6 v3.6.24 v3.7.9 \
        > src/odoo_router/migrate/traefik_schema_data.json

Reads, at each release tag, the Go structs of the dynamic configuration (field names, field
types, the ``file:"-"`` and ``file:"allowEmpty"`` tags) and writes, per struct, every field
with a bit mask of the tags that have it. One tag per minor version is enough: the file
provider's keys change with minor releases.
"""

import json
import re
import subprocess
import sys

REPO = sys.argv[1]
DIRS = [
    "pkg/config/dynamic",
    "pkg/config/dynamic/ext",
    "pkg/tls",
    "pkg/types",
    "pkg/observability/types",
    "pkg/ip",
]
SCALARS = {
    "string": "str",
    "bool": "bool",
    "int": "int",
    "int64": "int",
    "int32": "int",
    "uint": "int",
    "uint64": "int",
    "uint32": "int",
    "uint16": "int",
    "int16": "int",
    "float64": "float",
    "float32": "float",
    "byte": "int",
}
EXTERNAL = {
    "ptypes.Duration": "dur",
    "time.Duration": "int",
    "codes.Code": "int",
    "otypes.Duration": "dur",
}


def git(*a):
    return subprocess.run(
        ["git", "-C", REPO, *a], capture_output=True, text=True, check=True
    ).stdout


def files(tag):
    out = []
    for d in DIRS:
        try:
            names = git("ls-tree", "--name-only", f"{tag}:{d}").split()
        except subprocess.CalledProcessError:
            continue
        for n in names:
            if n.endswith(".go") and not n.endswith("_test.go") and "zz_generated" not in n:
                out.append((d, git("show", f"{tag}:{d}/{n}")))
    return out


def parse(tag):
    structs = {}  # (dir, Type) -> list of (name|None, typeexpr, tag, imports)
    named = {}  # (dir, Type) -> underlying expr
    for d, src in files(tag):
        imports = {}
        for m in re.finditer(r'^(?:import\s+|\t)(?:(\w+)\s+)?"([^"]+)"[ \t]*$', src, re.M):
            alias, path = m.group(1), m.group(2)
            alias = alias or path.rsplit("/", 1)[-1]
            imports[alias] = path
        lines = src.splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            m = re.match(r"^type (\w+) struct \{\s*$", line)
            if re.match(r"^type (\w+) struct ?\{\}", line):
                structs[(d, line.split()[1])] = []
            elif m:
                name = m.group(1)
                fields = []
                i += 1
                depth = 0
                while not (depth == 0 and lines[i].startswith("}")):
                    l = lines[i].strip()
                    if l.endswith("struct {"):
                        fm = re.match(r"^(\w+)\s+(\*?)struct \{", l)
                        depth += 1
                        fields.append((fm.group(1), "RAWINLINE", "", imports))
                    elif l.startswith("}") and depth:
                        depth -= 1
                    elif depth == 0 and l and not l.startswith("//"):
                        tagm = re.search(r"`([^`]*)`", l)
                        tagv = tagm.group(1) if tagm else ""
                        body = re.sub(r"`[^`]*`", "", l).split("//")[0].strip()
                        parts = body.split()
                        if len(parts) == 1:
                            fields.append((None, parts[0], tagv, imports))
                        elif len(parts) >= 2:
                            for n in " ".join(parts[:-1]).replace(",", " ").split():
                                fields.append((n, parts[-1], tagv, imports))
                    i += 1
                structs[(d, name)] = fields
            else:
                m = re.match(r"^type (\w+) (\S.*)$", line)
                if m and not m.group(2).startswith(("interface", "func", "struct")):
                    named[(d, m.group(1))] = (m.group(2).strip(), imports)
            i += 1
    return structs, named


def dir_of(path):
    for d in DIRS:
        if path.endswith("/" + d):
            return d
    return None


def resolve(expr, d, imports, structs, named, out, seen_depth=0):
    if expr.startswith("*"):
        return resolve(expr[1:], d, imports, structs, named, out)
    if expr.startswith("[]"):
        return "l:" + resolve(expr[2:], d, imports, structs, named, out)
    m = re.match(r"^map\[string\](.*)$", expr)
    if m:
        inner = m.group(1)
        if inner in ("interface{}", "any"):
            return "raw"
        return "m:" + resolve(inner, d, imports, structs, named, out)
    if expr in ("interface{}", "any"):
        return "raw"
    if expr in SCALARS:
        return SCALARS[expr]
    if expr in EXTERNAL:
        return EXTERNAL[expr]
    if "." in expr:
        q, t = expr.split(".", 1)
        path = imports.get(q, "")
        dd = dir_of(path)
        if dd is None:
            if q == "ptypes" and t == "Duration":
                return "dur"
            return "ext:" + expr
        return resolve(t, dd, {}, structs, named, out)
    key = (d, expr)
    if key in structs:
        tname = expr if d == "pkg/config/dynamic" else f"{d.rsplit('/', 1)[-1]}.{expr}"
        if tname not in out:
            out[tname] = None
            out[tname] = build(key, structs, named, out)
        return "s:" + tname
    if key in named:
        under, imps = named[key]
        return resolve(under, d, imps or imports, structs, named, out)
    return "unknown:" + d + ":" + expr


def build(key, structs, named, out):
    d = key[0]
    fields = {}
    for name, expr, tag, imports in structs[key]:
        if name is None:  # embedded
            r = resolve(expr, d, imports, structs, named, out)
            if r.startswith("s:"):
                fields.update({k: v for k, v in out[r[2:]].items()})
            continue
        if not name[0].isupper():
            continue
        if expr == "RAWINLINE":
            kind = "raw"
        else:
            kind = resolve(expr, d, imports, structs, named, out)
        ftag = re.search(r'file:"([^"]*)"', tag)
        flags = ""
        if ftag and ftag.group(1) == "-":
            flags = "-"
        elif ftag and "allowEmpty" in ftag.group(1):
            flags = "e"
        fields[name.lower()] = [name, kind + (("|" + flags) if flags else "")]
    return fields


def main():
    result = {}
    for tag in sys.argv[2:]:
        structs, named = parse(tag)
        out = {}
        root = resolve("Configuration", "pkg/config/dynamic", {}, structs, named, out)
        result[tag] = out
    compress(result)


def compress(d):
    tags = list(d.keys())
    vers = [t.lstrip("v") for t in tags]
    types = {}
    for i, t in enumerate(tags):
        for ty, fs in d[t].items():
            for f, (name, kind) in fs.items():
                variants = types.setdefault(ty, {}).setdefault(f, [])
                for v in variants:
                    if v[0] == name and v[1] == kind:
                        v[2] |= 1 << i
                        break
                else:
                    variants.append([name, kind, 1 << i])
    out = [
        "{",
        ' "source": "field names of Traefik\'s Go structs (pkg/config/dynamic, pkg/tls, pkg/types, pkg/ip, pkg/observability/types) at the tags below; bit i of a mask = present in versions[i]; kind: str|int|float|bool|dur|raw|s:Type|m:kind|l:kind, suffix |e allowEmpty, |- ignored by the file provider",',
        ' "versions": ' + json.dumps(vers) + ",",
        ' "types": {',
    ]
    items = sorted(types.items())
    for n, (ty, fs) in enumerate(items):
        body = json.dumps(
            {f: (v if len(v) > 1 else v[0]) for f, v in sorted(fs.items())}, separators=(",", ":")
        )
        out.append(f"  {json.dumps(ty)}: {body}" + ("," if n < len(items) - 1 else ""))
    out += [" }", "}"]
    print("\n".join(out))


main()
