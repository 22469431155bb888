"""Override files and ``include:``: what compose merges into a project besides the file the
migration edits, on copies of the v36 corpus tree (plan --offline through the CLI)."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

from odoo_router.migrate import cli
from odoo_router.migrate import exitcodes as X

from .corpus_data import CORPUS

TREE = CORPUS / "v36-compose-env-longsyntax-override"


def _plan(root: Path) -> tuple[int, str]:
    out = io.StringIO()
    argv = ["plan", "--offline", "--stacks", str(root / "srv/stacks")]
    argv += ["--inputs", str(root / "inputs.yaml"), "--stage", str(root / "out")]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cli.run(argv)
    return code, out.getvalue()


def _tree(tmp_path: Path, include: str, included: str) -> Path:
    root = tmp_path / "tree"
    shutil.copytree(TREE, root)
    odoo = root / "srv/stacks/shop-odoo"
    main = odoo / "compose.yaml"
    text = main.read_text().replace("name: shop-erp\n", f"name: shop-erp\n{include}", 1)
    main.write_text(text)
    (odoo / "extra").mkdir()
    (odoo / "extra/compose.extra.yaml").write_text(included)
    return root


def test_included_services_stay_when_nothing_there_needs_the_split(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        "include:\n  - extra/compose.extra.yaml\n",
        "services:\n  mailpit:\n    image: axllent/mailpit\n",
    )
    code, report = _plan(root)
    assert code == X.OK, report
    assert "shop-odoo/compose.yaml:4: include: the services of " in report
    assert (root / "out/shop-odoo/extra/compose.extra.yaml").read_bytes() == (
        root / "srv/stacks/shop-odoo/extra/compose.extra.yaml"
    ).read_bytes()


def test_an_included_service_depending_on_odoo_is_refused_with_its_line(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        "include:\n  - path: [extra/compose.extra.yaml]\n",
        "services:\n  mailpit:\n    image: axllent/mailpit\n"
        "  worker:\n    image: odoo:18.0\n    depends_on: [web]\n",
    )
    code, report = _plan(root)
    assert code == X.REFUSED, report
    assert (
        "shop-odoo/extra/compose.extra.yaml:4: service worker depends on web, which the "
        "migration renames to odoo-tenant" in report
    )
    assert not (root / "out").exists()


def test_a_router_in_an_included_file_is_named_as_where_it_may_be(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    shutil.copytree(TREE, root)
    stacks = root / "srv/stacks"
    (stacks / "shop-odoo/router").mkdir()
    for name in ("nginx.conf", "router.env"):
        shutil.move(stacks / "dbrouter" / name, stacks / "shop-odoo/router" / name)
    shutil.move(
        stacks / "dbrouter/docker-compose.yaml", stacks / "shop-odoo/router/compose.router.yaml"
    )
    shutil.rmtree(stacks / "dbrouter")
    main = stacks / "shop-odoo/compose.yaml"
    main.write_text(
        main.read_text().replace(
            "name: shop-erp\n", "name: shop-erp\ninclude: [router/compose.router.yaml]\n"
        )
    )
    code, report = _plan(root)
    assert code == X.REFUSED, report
    assert (
        "shop-odoo/compose.yaml:3: include: compose merges shop-odoo/router/compose.router.yaml "
        "(router) into shop-odoo/compose.yaml; the migration does not read included files"
    ) in report


def test_an_override_naming_other_services_stays(tmp_path: Path) -> None:
    code, report = _plan(shutil.copytree(TREE, tmp_path / "tree"))
    assert code == X.OK, report
    assert "compose.override.yml: compose merges this override file; it names none" in report
