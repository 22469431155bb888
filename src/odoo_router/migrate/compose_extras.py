"""What compose merges into a project besides its own file: override files
(``compose.override.yml`` and the like) and ``include:``. The migration edits the main file
only, so each is checked against what it would leave broken after the split:

- an override that names the Odoo service or the nginx router's service would, after the
  rename, define a service of that name holding only its keys (``compose up`` fails during
  the downtime): refused, with its line and what to do; one naming other services stays;
- an included file is not read by discovery: when the Odoo service or the nginx router is
  not found, the include is named as where it may be; a service there that depends on the
  Odoo service would be left depending on a name that is gone: refused; otherwise the
  included services stay as they are (a warning lists them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..configuration.yamlmarks import load_marked, syntax_error
from .composefile import ComposeError, ComposeFile, load_compose
from .yamltext.tabs import SafeLoader


@dataclass
class Merged:
    """What discovery found that the checks need, and what they report."""

    composes: list[ComposeFile]
    overrides: list[Path]
    migrated: dict[tuple[Path, str], str]  # (project directory, service) -> its role
    odoo: tuple[ComposeFile, str] | None  # the Odoo service's file and name
    roles_found: bool  # both the Odoo service and the nginx router
    text: Callable[[Path], str | None]
    show: Callable[[Path], str]
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def check_merged(m: Merged) -> None:
    _overrides(m)
    for cf in m.composes:
        if cf.data.get("include"):
            _includes(m, cf)


def _overrides(m: Merged) -> None:
    for o in m.overrides:
        shown = m.show(o)
        try:
            marked = load_marked(m.text(o) or "", shown, SafeLoader)
        except yaml.YAMLError as exc:
            m.problems.append(syntax_error(exc, shown))
            continue
        data = marked.data if isinstance(marked.data, dict) else {}
        named = [
            (str(name), m.migrated[(o.parent, str(name))])
            for name in data.get("services") or {}
            if (o.parent, str(name)) in m.migrated
        ]
        for name, role in named:
            line = marked.lines.get(f"services.{name}", 1)
            m.problems.append(
                f"{shown}:{line}: compose merges this override into the {role} service "
                f"{name}, which the migration splits or replaces: move its settings for {name} "
                "into the main compose file (or delete them), then plan again"
            )
        if not named:
            m.warnings.append(
                f"{shown}: compose merges this override file; it names none of the services "
                "the migration changes and stays as it is"
            )


def _paths(entry: Any) -> list[str]:
    """The files of one ``include:`` entry: a string, or ``{path: str | [str]}``."""
    if isinstance(entry, dict):
        value = entry.get("path")
        return [str(v) for v in value] if isinstance(value, list) else [str(value or "")]
    return [str(entry)]


def _includes(m: Merged, cf: ComposeFile) -> None:
    entries = cf.data["include"]
    entries = entries if isinstance(entries, list) else [entries]
    odoo = m.odoo[1] if m.odoo is not None and m.odoo[0] is cf else None
    for i, entry in enumerate(entries):
        where = f"{cf.rel}:{cf.line(f'include[{i}]')}"
        for rel in _paths(entry):
            path = (cf.dir / rel).resolve() if not rel.startswith("/") else Path(rel)
            text = m.text(path)
            if text is None:
                m.problems.append(f"{where}: include: {rel} not found")
                continue
            try:
                inc = load_compose(path, m.show(path), text, m.text(cf.dir / ".env"))
            except ComposeError as exc:
                m.problems.append(str(exc))
                continue
            if not m.roles_found:
                m.problems.append(
                    f"{where}: include: compose merges {inc.rel} ({', '.join(inc.services)}) "
                    f"into {cf.rel}; the migration does not read included files: if the Odoo "
                    f"service or the nginx router is there, move it into {cf.rel}"
                )
                continue
            broken = [n for n, raw in inc.data["services"].items() if _depends(raw, odoo)]
            for name in broken:
                m.problems.append(
                    f"{inc.rel}:{inc.line(f'services.{name}')}: service {name} depends on "
                    f"{odoo}, which the migration renames to odoo-tenant, and an included file "
                    f"is not edited: move {name} into {cf.rel}, then plan again"
                )
            if not broken:
                m.warnings.append(
                    f"{where}: include: the services of {inc.rel} "
                    f"({', '.join(inc.services)}) stay as they are"
                )


def _depends(raw: Any, service: str | None) -> bool:
    if service is None or not isinstance(raw, dict):
        return False
    deps = raw.get("depends_on")
    names = deps if isinstance(deps, list) else list(deps) if isinstance(deps, dict) else []
    return service in [str(n) for n in names]
