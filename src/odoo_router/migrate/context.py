"""Everything a subcommand needs, built once from the command line (cli.py) or by tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from .docker_api import Docker
from .layout import Layout
from .merge import Overrides
from .pg import Pg
from .render import Settings
from .runner import Runner
from .traefik import TraefikAPI


@dataclass
class Context:
    layout: Layout
    runner: Runner
    docker: Docker
    pg: Pg
    traefik: TraefikAPI | None
    settings: Settings = field(default_factory=Settings)
    overrides: Overrides = field(default_factory=Overrides)
    inputs_file: str | None = None  # --inputs
    helper_image: str | None = None  # image with tar/du for the data volume (default: Odoo's)
    router_url: str | None = None  # default: the router container's address
    health_timeout: float = 120.0
    verify_timeout: float = 180.0  # Odoo boots and Traefik reloads: verify retries this long
    verify_restore: bool = False
    yes: bool = False
    crash_at: str | None = None  # tests: "step-id:phase" kills the process there

    @property
    def traefik_version(self) -> str | None:
        return self.overrides.traefik_version
