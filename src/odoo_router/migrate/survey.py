"""Everything the operator's tree says, with sources: discovery, the Traefik side, the merged
facts, the Traefik version and the hazards. It reads files only (every one recorded with its
sha256), so the live ``plan`` and ``plan --offline`` start from the same survey; what only a
running server can tell (containers, databases, the Traefik API) is inventory.py's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .discover import Reader, Tree, discover
from .edge import Edge, read_edge
from .exitcodes import REFUSED, MigrateError
from .facts import Fact, Routing
from .hazards import Filestore, find_filestore, find_hazards
from .inputs import Inputs
from .layout import Layout
from .merge import Overrides, merge_routing, merge_version


@dataclass
class Survey:
    layout: Layout
    inputs: Inputs
    tree: Tree
    edge: Edge | None
    routing: Routing
    version: Fact[str] | None
    filestore: Filestore | None
    hazards: list[str]
    reads: dict[str, str | None]  # every file read to decide: rel path -> sha256
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    reader: Reader | None = None

    @property
    def watched(self) -> list[Path]:
        """Directories whose listing matters: Traefik's file provider directory."""
        if self.edge is not None and self.edge.dynamic_dir is not None:
            return [self.edge.dynamic_dir]
        return []

    def text(self, path: Path) -> str:
        """A file as discovery read it (the bytes whose sha256 the plan records)."""
        assert self.reader is not None
        return self.reader.text(path) or ""

    def show(self, path: Path) -> str:
        assert self.reader is not None
        return self.reader.show(path)

    def facts_lines(self) -> list[str]:
        t, out = self.tree, []
        for role in (t.odoo, t.router, t.traefik):
            if role is not None:
                out.append(f"{_role_name(t, role.svc.name, role.cf.rel)}: {role.source}")
        if t.odoo_conf is not None:
            out.append(f"Odoo configuration: {self.show(t.odoo_conf)} (at {t.odoo_conf_target})")
        if t.nginx_files:
            out.append(f"nginx configuration: {', '.join(t.nginx_files)}")
        e = self.edge
        if e is not None and e.static is not None:
            out.append(f"Traefik static configuration: {e.static.source}")
            if e.static.docker:
                ebd = e.static.exposed_by_default
                out.append(f"Traefik exposedByDefault {str(ebd.value).lower()}: {ebd.source}")
        if e is not None and e.dynamic_dir is not None:
            names = ", ".join(str(p.relative_to(e.dynamic_dir)) for p in e.dynamic_files)
            out.append(
                f"Traefik dynamic directory {self.show(e.dynamic_dir)}: {names or '(empty)'}"
            )
        elif e is not None and e.dynamic_files:
            out.append(
                f"Traefik dynamic file (providers.file.filename): {self.show(e.dynamic_files[0])}"
            )
        if self.version is not None:
            out.append(f"Traefik version {self.version.value}: {self.version.source}")
        if self.filestore is not None:
            out.append(f"filestore: {self.filestore.describe()}")
        out += self.routing.lines()
        if e is not None:
            out += [
                f"Traefik middleware {m.name} sets X-Odoo-dbfilter {m.value!r}: {m.where}"
                for m in e.dbfilter_middlewares
            ]
        return out


def _role_name(t: Tree, service: str, rel: str) -> str:
    if t.odoo is not None and t.odoo.svc.name == service and t.odoo.cf.rel == rel:
        return "Odoo service"
    if t.router is not None and t.router.svc.name == service and t.router.cf.rel == rel:
        return "nginx router service"
    return "Traefik service"


def survey(
    layout: Layout,
    inputs: Inputs,
    over: Overrides,
    running: Fact[str] | None = None,
    network_subnets: dict[str, list[str]] | None = None,
) -> Survey:
    """``running``: the version from the API or a snapshot; ``network_subnets``: the docker
    networks' real subnets (live)."""
    reader = Reader(layout)
    if not layout.stacks.is_dir():
        under = "" if layout.root == Path("/") else f" under --root {layout.root} ({layout.stacks})"
        raise MigrateError(
            f"{layout.rel(layout.stacks)}{under} is not a directory: --root names the directory"
            f" that holds srv/stacks (/ on the host), --stacks the stacks directory under it",
            REFUSED,
        )
    tree = discover(layout, inputs, reader)
    edge = read_edge(tree.traefik, tree.composes, reader) if tree.traefik is not None else None
    subnets = dict(edge.networks) if edge is not None else {}
    for name, nets in (network_subnets or {}).items():
        if name in subnets:
            subnets[name] = sorted(set(subnets[name]) | set(nets))
    merged = merge_routing(tree.nginx, inputs, over, subnets)
    version, vproblems = merge_version(
        inputs,
        over,
        running,
        edge.version if edge is not None else None,
        edge.version_unknown if edge is not None else "",
    )
    s = Survey(
        layout=layout,
        inputs=inputs,
        tree=tree,
        edge=edge,
        routing=merged.routing,
        version=version,
        filestore=find_filestore(tree, reader.show),
        hazards=find_hazards(layout, tree, edge, reader),
        reads={},
        reader=reader,
    )
    s.problems = tree.problems + (edge.problems if edge else []) + merged.problems + vproblems
    s.warnings = tree.warnings + (edge.warnings if edge else []) + merged.warnings
    for d in s.watched:
        for what, where in (("backup", layout.backups), ("state", layout.state)):
            if where.resolve().is_relative_to(d.resolve()):
                s.problems.append(
                    f"backup folder inside the watched directory: the tool's {what} folder "
                    f"{layout.rel(where)} is inside Traefik's {reader.show(d)}: Traefik would "
                    f"load what the tool writes there (--{what}-dir)"
                )
    if version is not None and version.value.split(".")[0] not in ("2", "3"):
        s.problems.append(
            f"Traefik {version.value} ({version.source}): only v2 and v3 can be rendered"
        )
    s.reads = dict(sorted(reader.inputs.items()))
    return s
