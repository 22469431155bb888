"""A valid router.yaml with a slot in each section, for the validator's unit tests: a test
fills one slot with the line(s) it needs and reads back the problems, each pinned to the
line it must name."""

from __future__ import annotations

from odoo_router.configuration.model import Config, ConfigError
from odoo_router.configuration.validate import build_config

FILENAME = "router.yaml"

# Each {slot} sits on its own line, at the indentation its lines get; an empty slot's line
# goes. A slot left alone holds its DEFAULTS: a test that fills it restates what it keeps.
TEMPLATE = """\
server:
  {server}
metrics:
  {metrics}
logging:
  {logging}
pools:
  tenant:
    {pool}
  tenant_lp:
    servers: ["127.0.0.1:8072"]
route_sets:
  common:
    - name: health
      exact: /health
      respond: {{status: 200, body: OK}}
hosts:
  - routes:
      - proxy:
          pool: tenant
          {proxy}
        {route}
      - name: away
        prefix: /away
        redirect:
          {redirect}
      - name: private
        prefix: /private
        auth:
          {auth}
        respond:
          {respond}
      - use: common
    {host}
  - name: default
    default: true
    routes:
      {item}
      - {{name: d, prefix: /, respond: {{status: 421}}}}
"""

# What a slot holds when a test leaves it alone: the keys its section needs.
DEFAULTS = {
    "pool": 'servers: ["127.0.0.1:8069"]',
    "host": "name: main\nexact: [a.test]",
    "route": "name: r\nprefix: /",
    "redirect": "location: /elsewhere",
    "auth": 'users: {ops: "pbkdf2_sha256$1000$00ff$%s"}' % ("ab" * 32),
    "respond": "status: 200",
}

SLOTS = (
    "server",
    "metrics",
    "logging",
    "pool",
    "host",
    "route",
    "proxy",
    "redirect",
    "auth",
    "respond",
    "item",
)


def render(**slots: str) -> str:
    """The template with ``slots`` filled; a slot's value may hold several lines."""
    values = {name: DEFAULTS.get(name, "") for name in SLOTS}
    values.update(slots)
    out = []
    for line in TEMPLATE.splitlines():
        stripped = line.strip()
        if stripped.startswith("{") and stripped.endswith("}") and stripped[1:-1] in SLOTS:
            fill = values[stripped[1:-1]]
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + part for part in fill.splitlines())
        else:
            out.append(line.replace("{{", "{").replace("}}", "}"))
    return "\n".join(out) + "\n"


def line_of(text: str, marker: str) -> int:
    """The 1-based line where ``marker`` starts (it must be unique in ``text``)."""
    assert text.count(marker) == 1, f"{marker!r} is not unique"
    return text.count("\n", 0, text.index(marker)) + 1


def problems(text: str) -> list[str]:
    """Every problem line build_config reports for ``text``; [] when it is valid."""
    try:
        build_config(text, f"/etc/odoo-router/{FILENAME}")
    except ConfigError as exc:
        return [str(p) for p in exc.problems]
    return []


def config(**slots: str) -> Config:
    return build_config(render(**slots), FILENAME)
