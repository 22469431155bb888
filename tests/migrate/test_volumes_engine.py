"""Docker.volume_empty against a real (private) dockerd: rollback removes a volume the run
created only when this says it is empty (containers.py), so it must never say so of one
that holds a file, nor of one whose content it cannot see."""

from __future__ import annotations

from odoo_router.migrate.docker_api import Docker
from odoo_router.migrate.runner import SubprocessRunner

from .servers import TEST_IMAGE, DockerEngine


def test_volume_empty_only_when_nothing_is_in_it(docker_engine: DockerEngine) -> None:
    e = docker_engine
    names = ["orm-vol-empty", "orm-vol-data", "orm-vol-dir", "orm-vol-tmpfs"]
    try:
        for name in names[:3]:
            e.docker("volume", "create", name)
        e.docker("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", names[3])
        for name, cmd in (("orm-vol-data", "echo x > /data/f"), ("orm-vol-dir", "mkdir /data/d")):
            e.docker("run", "--rm", "-v", f"{name}:/data", "--entrypoint", "sh", TEST_IMAGE,
                     "-c", cmd)  # fmt: skip
        docker = Docker(SubprocessRunner(e.env()))
        assert docker.volume_empty("orm-vol-empty") is True
        assert docker.volume_empty("orm-vol-data") is False
        assert docker.volume_empty("orm-vol-dir") is False  # an empty directory is content
        assert docker.volume_empty("orm-vol-tmpfs") is None  # driver options: not seen here
        assert docker.volume_empty("orm-vol-missing") is None
    finally:
        e.docker("volume", "rm", "-f", *names, check=False)
