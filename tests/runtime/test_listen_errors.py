"""A `listen` or `metrics.listen` address the router cannot have: one line naming the key,
the address and the reason, exit 2, no traceback, and nothing left listening or running."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.processes import free_port
from integration.router import compat_config, router_command
from integration.upstreams import Farm

# 192.0.2.0/24 is TEST-NET-1: never an address of this host. Binding to it fails at once
# (EADDRNOTAVAIL) and sends nothing.
NOT_HERE = "192.0.2.1"
# glibc refuses a name with a '!' without asking DNS (res_hnok), so the lookup fails the way
# an unknown name does while the test stays on loopback.
UNRESOLVABLE = "no-such-host!.test"


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        yield int(s.getsockname()[1])


def _serve(
    farm: Farm,
    tmp_path: Path,
    change: Callable[[dict[str, Any]], None],
    prefix: list[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    config = compat_config(free_port(), farm.ports)
    change(config)
    path = tmp_path / "router.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    command = [*(prefix or []), *router_command(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=30, cwd=tmp_path)


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def _listen(address: str) -> Callable[[dict[str, Any]], None]:
    return lambda c: c["server"].update(listen=[address])


def _metrics(address: str) -> Callable[[dict[str, Any]], None]:
    return lambda c: c.update(metrics={"listen": address})


def test_listen_address_in_use(farm: Farm, tmp_path: Path, busy_port: int) -> None:
    line = _one_line(_serve(farm, tmp_path, _listen(f"127.0.0.1:{busy_port}")))
    assert line == (
        f"odoo-router: server.listen: cannot listen on 127.0.0.1:{busy_port}: "
        "the address is already in use (EADDRINUSE)"
    )


def test_second_listen_address_in_use_releases_the_first(
    farm: Farm, tmp_path: Path, busy_port: int
) -> None:
    first = free_port()
    change = lambda c: c["server"].update(  # noqa: E731
        listen=[f"127.0.0.1:{first}", f"127.0.0.1:{busy_port}"]
    )
    line = _one_line(_serve(farm, tmp_path, change))
    assert f"127.0.0.1:{busy_port}: the address is already in use" in line
    with socket.socket() as s:  # the first address was closed again
        s.bind(("127.0.0.1", first))


def test_listen_address_not_on_this_host(farm: Farm, tmp_path: Path) -> None:
    if Path("/proc/sys/net/ipv4/ip_nonlocal_bind").read_text().strip() != "0":
        pytest.skip("net.ipv4.ip_nonlocal_bind is set: any address can be bound")
    line = _one_line(_serve(farm, tmp_path, _listen(f"{NOT_HERE}:8080")))
    assert line == (
        f"odoo-router: server.listen: cannot listen on {NOT_HERE}:8080: "
        "the address is not available on this host (EADDRNOTAVAIL)"
    )


def test_listen_ipv6_address_not_on_this_host(farm: Farm, tmp_path: Path) -> None:
    if not socket.has_ipv6 or not Path("/proc/net/if_inet6").exists():
        pytest.skip("no IPv6 on this host")
    line = _one_line(_serve(farm, tmp_path, _listen("[2001:db8::1]:8080")))
    assert line.startswith("odoo-router: server.listen: cannot listen on [2001:db8::1]:8080: ")
    assert "EADDRNOTAVAIL" in line


def test_listen_name_that_does_not_resolve(farm: Farm, tmp_path: Path) -> None:
    line = _one_line(_serve(farm, tmp_path, _listen(f"{UNRESOLVABLE}:8080")))
    assert line.startswith(
        f"odoo-router: server.listen: cannot listen on {UNRESOLVABLE}:8080: "
        "the name does not resolve ("
    )


def test_metrics_name_that_is_not_a_host_name(farm: Farm, tmp_path: Path) -> None:
    """An empty label: Python's IDNA codec refuses it before any lookup (UnicodeError)."""
    line = _one_line(_serve(farm, tmp_path, _metrics("no..such:9145")))
    assert line == (
        "odoo-router: metrics.listen: cannot listen on no..such:9145: not a valid host name"
    )


def test_metrics_address_in_use(farm: Farm, tmp_path: Path, busy_port: int) -> None:
    port = free_port()

    def change(c: dict[str, Any]) -> None:
        c["server"]["listen"] = [f"127.0.0.1:{port}"]
        c["metrics"] = {"listen": f"127.0.0.1:{busy_port}"}

    line = _one_line(_serve(farm, tmp_path, change))
    assert line == (
        f"odoo-router: metrics.listen: cannot listen on 127.0.0.1:{busy_port}: "
        "the address is already in use (EADDRINUSE)"
    )
    with socket.socket() as s:  # the main listener was closed again, no worker holds it
        s.bind(("127.0.0.1", port))


def test_metrics_address_not_on_this_host(farm: Farm, tmp_path: Path) -> None:
    if Path("/proc/sys/net/ipv4/ip_nonlocal_bind").read_text().strip() != "0":
        pytest.skip("net.ipv4.ip_nonlocal_bind is set: any address can be bound")
    line = _one_line(_serve(farm, tmp_path, _metrics(f"{NOT_HERE}:9145")))
    assert line == (
        f"odoo-router: metrics.listen: cannot listen on {NOT_HERE}:9145: "
        "the address is not available on this host (EADDRNOTAVAIL)"
    )


def test_metrics_name_that_does_not_resolve(farm: Farm, tmp_path: Path) -> None:
    line = _one_line(_serve(farm, tmp_path, _metrics(f"{UNRESOLVABLE}:9145")))
    assert line.startswith(
        f"odoo-router: metrics.listen: cannot listen on {UNRESOLVABLE}:9145: "
        "the name does not resolve ("
    )


def _free_privileged_port() -> int:
    for port in range(900, 1000):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip("no free port below 1024")


def test_privileged_port_without_the_capability(farm: Farm, tmp_path: Path) -> None:
    """What a non-root user gets on a port below 1024: the router runs as root with
    CAP_NET_BIND_SERVICE dropped from its bounding set (setpriv), which is what a non-root
    user lacks (the venv here may not be readable by another user)."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is not installed")
    if os.geteuid() != 0:
        pytest.skip("runs as root with the capability dropped; not root here")
    start = int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    port = _free_privileged_port()
    if port >= start:
        pytest.skip(f"net.ipv4.ip_unprivileged_port_start is {start}: port {port} is open to all")
    prefix = [setpriv, "--bounding-set=-net_bind_service", "--"]
    line = _one_line(_serve(farm, tmp_path, _listen(f"127.0.0.1:{port}"), prefix=prefix))
    assert line == (
        f"odoo-router: server.listen: cannot listen on 127.0.0.1:{port}: permission denied "
        "(EACCES): ports below 1024 need root or CAP_NET_BIND_SERVICE"
    )
