"""``plan --offline``: the review workflow on a copy of the tree. No server is contacted; OUT
is the whole tree as after ``apply`` or nothing; bad inputs get one message with the file
and line (or the inputs key) and exit 3. That the live plan renders exactly the same files
is checked on the real engine, in test_cycle.py (cycle.assert_live_renders_offline)."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from odoo_router.migrate import cli
from odoo_router.migrate import exitcodes as X
from odoo_router.migrate.fsops import tree_digest

from .fake_traefik import fake_traefik

INPUTS = "admin:\n  allow: [198.51.100.0/24]   # the office\nmaster_password: generate\n"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.run(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline means offline: no command (docker, psql) and no HTTP request."""

    def refuse(*a: object, **k: object) -> object:
        raise AssertionError(f"offline plan contacted a server: {a[:2]}")

    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def offline(
    tree: Path, tmp: Path, inputs: str | None = INPUTS, *more: str
) -> tuple[int, str, Path]:
    argv = ["plan", "--offline", "--stacks", str(tree / "srv/stacks"), "--stage", str(tmp / "out")]
    if inputs is not None:
        (tmp / "inputs.yaml").write_text(inputs)
        argv += ["--inputs", str(tmp / "inputs.yaml")]
    code, out, err = run(*argv, *more)
    return code, out + err, tmp / "out"


def test_offline_render_writes_the_whole_tree_after_apply(
    tree: Path, tmp_path: Path, no_server: None
) -> None:
    before = tree_digest(tree)
    code, out, stage = offline(tree, tmp_path)
    assert code == X.OK, out
    assert tree_digest(tree) == before  # the tree itself is untouched
    assert "offline render: no Docker engine, PostgreSQL or Traefik API was contacted" in out
    assert "Traefik 3.1, image tag traefik:v3.1 in edge-traefik/docker-compose.yml:3" in out
    assert "admin allowlist 198.51.100.0/24: inputs.yaml:2 (admin.allow)" in out
    assert "HAZARD default master password" in out and "not checked offline" in out
    src = tree / "srv/stacks"
    changed = {
        "odoo18-prod/docker-compose.yml",
        "seisei-odoo/docker-compose.yml",
        "edge-traefik/dynamic/middlewares.yml",
        "edge-traefik/dynamic/services.yml",
    }
    new = {
        "odoo18-prod/config/odoo-tenant.conf",
        "odoo18-prod/config/odoo-admin.conf",
        "seisei-odoo/odoo-router/router.yaml",
    }
    originals = {str(p.relative_to(src)) for p in src.rglob("*") if p.is_file()}
    staged = {str(p.relative_to(stage)) for p in stage.rglob("*") if p.is_file()}
    assert staged == originals | new
    for rel in originals - changed:  # unchanged files copied byte for byte, same mode
        assert (stage / rel).read_bytes() == (src / rel).read_bytes(), rel
        assert (stage / rel).stat().st_mode == (src / rel).stat().st_mode
    for rel in changed:
        assert (stage / rel).read_bytes() != (src / rel).read_bytes(), rel
    assert "admin-ip-allowlist" in (stage / "edge-traefik/dynamic/middlewares.yml").read_text()


def test_the_same_inputs_render_the_same_bytes(tree: Path, tmp_path: Path, no_server: None) -> None:
    """Byte for byte, but for the master password's salt: offline writes no secret, so each
    render hashes the password file anew (the live plan keeps its hash in the state dir)."""
    pw = tmp_path / "pw"
    pw.write_text("a-long-chosen-master-password\n")
    inputs = INPUTS.replace("generate", f"{{file: {pw}}}")
    stages = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        code, out, stage = offline(tree, tmp_path / name, inputs)
        assert code == X.OK, out
        stages.append(_contents(stage))
    a, b = stages
    assert a.keys() == b.keys()
    for rel in a:
        if rel.endswith(("odoo-tenant.conf", "odoo-admin.conf")):
            strip = [x for x in a[rel].splitlines() if not x.startswith(b"admin_passwd")]
            assert strip == [x for x in b[rel].splitlines() if not x.startswith(b"admin_passwd")]
        else:
            assert a[rel] == b[rel], rel


def _contents(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in d.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("inputs", "edit", "message"),
    [
        ("master_password: generate\n", None, "inputs.yaml:1: admin.allow: missing"),
        (
            "admin:\n  allow: [0.0.0.0/0]\n",
            None,
            "inputs.yaml:2 (admin.allow[0]): 0.0.0.0/0 allows every address",
        ),
        (  # each range named by its own line
            "admin:\n  allow:\n    - 198.51.100.0/24\n    - ::/0\n",
            None,
            "inputs.yaml:4 (admin.allow[1]): ::/0 allows every address",
        ),
        (
            "admin:\n  allow: [172.17.0.0/16]\n",
            None,
            "inputs.yaml:2 (admin.allow[0]): 172.17.0.0/16 overlaps 172.16.0.0/12",
        ),
        (
            INPUTS + "tenants:\n  hosts: {testodoo.seisei.tokyo: ten_other}\n",
            None,
            "tenants.hosts.testodoo.seisei.tokyo: the inputs say ten_other "
            "(inputs.yaml:5 (tenants.hosts.testodoo.seisei.tokyo)), the files say ten_testodoo "
            "(seisei-odoo/nginx/default.conf:14",
        ),
        (
            INPUTS,
            (
                "odoo18-prod/docker-compose.yml",
                "    restart: unless-stopped\n",
                "    restart: [unless\n",
            ),
            "odoo18-prod/docker-compose.yml:",
        ),
        (
            INPUTS,
            (
                "edge-traefik/dynamic/services.yml",
                "    www:\n",
                "    www:\n      ipWhiteList: {}\n",
            ),
            "edge-traefik/dynamic/services.yml:15: unknown key 'http.routers.www.ipWhiteList'",
        ),
        (
            INPUTS,
            ("edge-traefik/docker-compose.yml", "traefik:v3.1", "traefik:latest"),
            "Traefik version unknown ('latest' does not give major.minor; "
            "image tag traefik:latest in edge-traefik/docker-compose.yml:3)",
        ),
    ],
)
def test_bad_inputs_exit_3_and_write_nothing(
    tree: Path,
    tmp_path: Path,
    inputs: str,
    edit: tuple[str, str, str] | None,
    message: str,
    no_server: None,
) -> None:
    if edit is not None:
        path = tree / "srv/stacks" / edit[0]
        text = path.read_text()
        assert edit[1] in text
        path.write_text(text.replace(edit[1], edit[2], 1))
    code, out, stage = offline(tree, tmp_path, inputs)
    assert code == X.REFUSED, out
    assert message in out, out
    assert not stage.exists()


def test_a_latest_tag_takes_the_version_from_the_inputs(
    tree: Path, tmp_path: Path, no_server: None
) -> None:
    compose = tree / "srv/stacks/edge-traefik/docker-compose.yml"
    compose.write_text(compose.read_text().replace("traefik:v3.1", "traefik:latest"))
    code, out, _ = offline(tree, tmp_path, INPUTS + 'traefik_version: "3.7"\n')
    assert code == X.OK, out
    assert "Traefik version 3.7: inputs.yaml:4 (traefik_version)" in out
    assert "+      ipAllowList:" in out


def test_out_must_be_new(tree: Path, tmp_path: Path, no_server: None) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep").write_text("x")
    code, out, _ = offline(tree, tmp_path)
    assert code == X.USAGE and "is not an empty folder" in " ".join(out.split())
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep"]


def test_a_snapshot_gives_the_running_version_and_routers(tree: Path, tmp_path: Path) -> None:
    dynamic = tree / "srv/stacks/edge-traefik/dynamic"
    snap = tmp_path / "snap"
    with fake_traefik(dynamic, "3.1.2") as url:
        code, out, _ = run(
            "inventory",
            "--root",
            str(tree),
            "--traefik-api",
            url,
            "--snapshot",
            str(snap),
            "--docker",
            "/bin/false",
            "--pg-exec",
            "local",
            "--pg-bindir",
            "/nonexistent",
        )
    assert code == X.OK, out
    assert sorted(p.name for p in snap.iterdir()) == [
        "http-middlewares.json",
        "http-routers.json",
        "version.json",
    ]
    assert json.loads((snap / "version.json").read_text())["Version"] == "3.1.2"
    code, out, _ = offline(tree, tmp_path, INPUTS, "--traefik-snapshot", str(snap))
    assert code == X.OK, out
    assert f"Traefik version 3.1.2: snapshot {snap}" in out
    broken = tmp_path / "broken"
    broken.mkdir()
    (tmp_path / "out").rename(tmp_path / "out1")
    code, out, _ = offline(tree, tmp_path, INPUTS, "--traefik-snapshot", str(broken))
    assert code == X.REFUSED and "version.json: cannot read" in " ".join(out.split())


def test_a_config_file_flag_alone_is_not_reported_as_flags_ignored(
    tmp_path: Path, no_server: None
) -> None:
    """``--configFile`` names the static file Traefik reads: no other flag to ignore."""
    src = Path(__file__).parent / "corpus/v33-windows-crlf-bom-single-file"
    inputs = (src / "inputs.yaml").read_text()
    code, out, _ = offline(src, tmp_path, inputs)
    assert code == X.OK, out
    assert "are ignored by Traefik" not in out
    assert "Traefik dynamic file (providers.file.filename): edge/dynamic.yml" in out
    root = tmp_path / "tree"
    shutil.copytree(src, root)
    compose = root / "srv/stacks/edge/docker-compose.yml"
    compose.write_bytes(
        compose.read_bytes().replace(
            b"--configFile=/etc/traefik/traefik.yml",
            b"--configFile=/etc/traefik/traefik.yml\r\n      - --log.level=DEBUG",
        )
    )
    (tmp_path / "again").mkdir()
    code, out, _ = offline(root, tmp_path / "again", inputs)
    assert "the command flags in edge/docker-compose.yml:2 are ignored by Traefik" in out


@pytest.mark.parametrize("where", ["--stacks", "--root"])
def test_no_stacks_directory_is_refused_with_what_to_give(
    tmp_path: Path, where: str, no_server: None
) -> None:
    (tmp_path / "inputs.yaml").write_text(INPUTS)
    missing = str(tmp_path / "nothing-here")
    code, out, err = run(
        "plan", "--offline", where, missing, "--inputs", str(tmp_path / "inputs.yaml")
    )
    assert code == X.REFUSED, out + err
    assert "is not a directory: --root names the directory that holds srv/stacks" in err
    assert "Traceback" not in out + err
