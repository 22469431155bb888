"""A narrow interface over the docker CLI.

Why the CLI and not the Docker SDK: compose exists only as a CLI (``docker compose`` or the
``docker-compose`` binary), the operator's runbook speaks CLI so every command we run can be
replayed by hand from the journal, and it adds no dependency. Everything goes through a
``Runner`` so tests can record commands or aim at a private dockerd (DOCKER_HOST).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .runner import CommandError, Runner


@dataclass(frozen=True)
class Container:
    id: str
    name: str
    service: str  # com.docker.compose.service
    state: str  # created, running, exited, ...


@dataclass
class Docker:
    runner: Runner
    docker: str = "docker"
    compose_cmd: list[str] = field(default_factory=lambda: ["docker", "compose"])
    stop_timeout: int = 30

    # --- containers
    def ps_all(self) -> list[dict[str, Any]]:
        out = self.runner.run(
            [self.docker, "ps", "-a", "--no-trunc", "--format", "{{json .}}"]
        ).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def inspect(self, name: str) -> dict[str, Any] | None:
        res = self.runner.run([self.docker, "inspect", "--type", "container", name], check=False)
        if res.returncode != 0:
            return None
        data = json.loads(res.stdout or "[]")
        return data[0] if data else None

    def inspect_raw(self, names: Sequence[str]) -> str:
        """docker inspect output for the backup (missing names are skipped, not fatal)."""
        res = self.runner.run([self.docker, "inspect", *names], check=False)
        return res.stdout

    def state(self, name: str) -> tuple[str, str | None] | None:
        """(status, health) of a container, None when it does not exist."""
        info = self.inspect(name)
        if info is None:
            return None
        st = info.get("State", {})
        health = (st.get("Health") or {}).get("Status")
        return str(st.get("Status", "")), health

    def logs(self, name: str, since: str | None = None) -> str:
        argv = [self.docker, "logs"]
        if since:
            argv += ["--since", since]
        res = self.runner.run([*argv, name], check=False)
        return res.stdout + res.stderr

    def exec_argv(self, container: str, argv: Sequence[str]) -> list[str]:
        # -i keeps stdin open for restores; never -t (a TTY mangles binary output).
        return [self.docker, "exec", "-i", container, *argv]

    def network_subnets(self, name: str) -> list[str] | None:
        """The subnets of a docker network, None when it does not exist."""
        res = self.runner.run(
            [self.docker, "network", "inspect", "-f",
             "{{range .IPAM.Config}}{{.Subnet}} {{end}}", name],
            check=False,
        )  # fmt: skip
        return res.stdout.split() if res.returncode == 0 else None

    # --- volumes and images
    def volumes(self) -> list[str]:
        out = self.runner.run([self.docker, "volume", "ls", "--format", "{{.Name}}"]).stdout
        return sorted(v for v in out.split() if v)

    def volume_tar(self, volume: str, out: Path, image: str) -> None:
        self.runner.run_to_file(
            [
                self.docker,
                "run",
                "--rm",
                "--network",
                "none",
                "-v",
                f"{volume}:/data:ro",
                "--entrypoint",
                "tar",
                image,
                "-c",
                "-C",
                "/data",
                ".",
            ],
            out,
        )

    def volume_empty(self, volume: str) -> bool | None:
        """True when the volume holds nothing (a ``local`` volume without options, its
        directory on this host listed empty); None when that cannot be known here (another
        driver, a bind-type volume, a remote engine, no permission): never guessed empty."""
        res = self.runner.run(
            [self.docker, "volume", "inspect", "--format",
             "{{.Driver}}\t{{len .Options}}\t{{.Mountpoint}}", volume],
            check=False,
        )  # fmt: skip
        parts = res.stdout.strip().split("\t")
        if res.returncode != 0 or len(parts) != 3 or parts[:2] != ["local", "0"]:
            return None
        try:
            with os.scandir(parts[2]) as entries:
                return next(entries, None) is None
        except OSError:
            return None

    def image_exists(self, image: str) -> bool:
        res = self.runner.run(
            [self.docker, "image", "inspect", "--format", "{{.Id}}", image], check=False
        )
        return res.returncode == 0

    def volume_kib(self, volume: str, image: str) -> int:
        res = self.runner.run(
            [
                self.docker,
                "run",
                "--rm",
                "--network",
                "none",
                "-v",
                f"{volume}:/data:ro",
                "--entrypoint",
                "du",
                image,
                "-sk",
                "/data",
            ]
        )
        return int(res.stdout.split()[0])

    def image_has_file(self, image: str, paths: Sequence[str]) -> bool:
        """True when any of ``paths`` exists inside ``image``."""
        test = " || ".join(f"test -e '{p}'" for p in paths)
        res = self.runner.run(
            [
                self.docker,
                "run",
                "--rm",
                "--network",
                "none",
                "--entrypoint",
                "sh",
                image,
                "-c",
                test,
            ],
            check=False,
        )
        return res.returncode == 0

    # --- compose
    def _compose(self, project_dir: Path, compose_file: Path, project: str | None) -> list[str]:
        return [
            *self.compose_cmd,
            "--project-directory",
            str(project_dir),
            "-p",
            project or project_dir.name,
            "-f",
            str(compose_file),
        ]

    def compose_up(
        self,
        project_dir: Path,
        compose_file: Path,
        project: str | None = None,
        services: Sequence[str] = (),
        *,
        no_deps: bool = False,
        pull: str | None = None,
    ) -> None:
        """``up -d`` of ``services`` (all when empty). No --remove-orphans: a container of
        the project that the file does not name is the operator's, not ours to remove."""
        argv = [*self._compose(project_dir, compose_file, project), "up", "-d"]
        if pull:
            argv += ["--pull", pull]
        if no_deps:
            argv.append("--no-deps")
        self.runner.run([*argv, *services])

    def compose_down(
        self, project_dir: Path, compose_file: Path, project: str | None = None
    ) -> None:
        """Stop and remove the containers of the services the file names (orphans stay)."""
        self.runner.run(
            [
                *self._compose(project_dir, compose_file, project),
                "down",
                "--timeout",
                str(self.stop_timeout),
            ]
        )

    def containers(self, project: str) -> list[Container]:
        """Every container of a compose project, running or not."""
        fmt = '{{.ID}}\t{{.Names}}\t{{.Label "com.docker.compose.service"}}\t{{.State}}'
        res = self.runner.run(
            [
                self.docker,
                "ps",
                "-a",
                "--no-trunc",
                "--filter",
                f"label=com.docker.compose.project={project}",
                "--format",
                fmt,
            ]
        )
        out = []
        for line in res.stdout.splitlines():
            parts = line.split("\t")
            if len(parts) == 4:
                out.append(Container(*parts))
        return sorted(out, key=lambda c: c.name)

    def project_resources(self, kind: str, project: str) -> list[str]:
        """The networks or volumes (``kind``) compose created for a project, by name."""
        res = self.runner.run(
            [self.docker, kind, "ls", "--filter", f"label=com.docker.compose.project={project}",
             "--format", "{{.Name}}"]
        )  # fmt: skip
        return sorted(n for n in res.stdout.split() if n)

    def remove_resources(self, kind: str, names: Sequence[str]) -> list[str]:
        """``docker network|volume rm`` of each name; the errors (one in use stays)."""
        errors = []
        for name in names:
            res = self.runner.run([self.docker, kind, "rm", name], check=False)
            if res.returncode != 0:
                errors.append(f"{kind} {name}: {(res.stderr or res.stdout).strip()}")
        return errors

    def remove(self, ids: Sequence[str]) -> None:
        """Stop (with the stop timeout, as compose would) and remove containers by id."""
        if not ids:
            return
        self.runner.run([self.docker, "stop", "--time", str(self.stop_timeout), *ids], check=False)
        self.runner.run([self.docker, "rm", "--force", *ids])


def detect_compose(runner: Runner, docker: str = "docker") -> list[str]:
    """``docker compose`` when the plugin exists, else a ``docker-compose`` v2 binary."""
    try:
        runner.run([docker, "compose", "version"])
        return [docker, "compose"]
    except (CommandError, OSError):
        pass
    import shutil
    import sys

    here = Path(sys.executable).parent / "docker-compose"
    found = shutil.which("docker-compose") or (str(here) if here.exists() else None)
    if found is None:
        raise CommandError(
            [docker, "compose"], 127, "no docker compose plugin nor docker-compose binary"
        )
    return [found]
