"""Discovery on small trees: compose files as compose reads them, the three roles found
whatever their names (and settled by the inputs where ambiguous), the files each reads,
Traefik's static configuration from a file, flags or the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from odoo_router.migrate.composefile import ComposeError, interpolate, load_compose, read_env
from odoo_router.migrate.discover import Reader, Tree, discover
from odoo_router.migrate.edge import Edge, read_edge, rule_matches_host
from odoo_router.migrate.inputs import Inputs, parse_inputs
from odoo_router.migrate.layout import Layout

NGINX = """
map $host $d { default ""; ops.example.com ""; ~^(?<t>[a-z]+)\\.erp\\.example\\.com$ t_$t; }
upstream u { server UPSTREAM:8069; }
server {
    proxy_set_header X-Odoo-dbfilter $d;
    location ^~ /web/database/ { proxy_pass http://u; }
    location / { proxy_pass http://u; }
}
"""
ODOO_CONF = "[options]\naddons_path = /mnt/a\nadmin_passwd = changeme\n"


def odoo(name: str = "web", extra: str = "") -> str:
    return f"""services:
  {name}:
    image: odoo:18
    volumes:
      - data:/var/lib/odoo
      - ./odoo.conf:/etc/odoo/odoo.conf:ro
{extra}volumes:
  data:
"""


ROUTER = """services:
  nginx:
    image: nginx:alpine
    volumes:
      - ./default.conf:/etc/nginx/conf.d/default.conf:ro
"""
TRAEFIK = """services:
  traefik:
    image: traefik:v3.4
    command: ["--providers.docker=true", "--providers.file.directory=/dyn"]
    volumes:
      - ./dyn:/dyn:ro
"""


def make(tmp: Path, files: dict[str, str]) -> Path:
    root = tmp / "root"
    for rel, text in files.items():
        p = root / "srv/stacks" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def base(upstream: str = "web") -> dict[str, str]:
    return {
        "erp/docker-compose.yml": odoo(),
        "erp/odoo.conf": ODOO_CONF,
        "router/compose.yaml": ROUTER,
        "router/default.conf": NGINX.replace("UPSTREAM", upstream),
        "edge/docker-compose.yml": TRAEFIK,
        "edge/dyn/routes.yml": "http:\n  routers: {}\n",
    }


def run(root: Path, inputs: Inputs | None = None) -> tuple[Tree, Reader]:
    layout = Layout.make(root)
    reader = Reader(layout)
    return discover(layout, inputs or Inputs(), reader), reader


def test_the_three_roles_whatever_their_names(tmp_path: Path) -> None:
    tree, reader = run(make(tmp_path, base()))
    assert tree.problems == [] and tree.warnings == []
    assert tree.odoo is not None and tree.router is not None and tree.traefik is not None
    assert (
        tree.odoo.source
        == "erp/docker-compose.yml:2 (service web: mounts erp/odoo.conf at /etc/odoo/odoo.conf)"
    )
    assert tree.router.source.startswith(
        "router/compose.yaml:2 (service nginx: nginx config router/default.conf"
    )
    assert tree.traefik.svc.name == "traefik"
    assert tree.odoo_options["admin_passwd"] == "changeme"
    assert tree.nginx is not None and tree.nginx.admin_hosts[0].value == "ops.example.com"
    # every file read is recorded with its sha256
    assert "/srv/stacks/erp/odoo.conf" in reader.inputs and "/srv/stacks/erp/.env" in reader.inputs
    assert reader.inputs["/srv/stacks/erp/.env"] is None  # read, absent


def test_two_odoo_services_the_router_decides(tmp_path: Path) -> None:
    files = base(upstream="erp-web-1")
    files["staging/docker-compose.yml"] = odoo("web")
    files["staging/odoo.conf"] = ODOO_CONF
    tree, _ = run(make(tmp_path, files))
    assert tree.problems == []
    assert tree.odoo is not None and tree.odoo.cf.rel == "erp/docker-compose.yml"
    files = base(upstream="nobody")
    files["staging/docker-compose.yml"] = odoo("web")
    files["staging/odoo.conf"] = ODOO_CONF
    root = make(tmp_path / "b", files)
    tree, _ = run(root)
    (p,) = tree.problems
    assert p.startswith("2 services could be the Odoo service") and "stacks.odoo" in p
    settled, _ = run(
        root, parse_inputs("admin: {allow: [192.0.2.0/24]}\nstacks: {odoo: staging}\n", "i.yaml")
    )
    assert (
        settled.problems == []
        and settled.odoo is not None
        and settled.odoo.cf.rel == "staging/docker-compose.yml"
    )
    wrong, _ = run(
        root, parse_inputs("admin: {allow: [192.0.2.0/24]}\nstacks: {odoo: prod}\n", "i.yaml")
    )
    assert (
        wrong.problems[0]
        == "i.yaml:2 (stacks.odoo): no compose project in 'prod' under /srv/stacks"
    )


def test_no_router_is_a_problem_with_a_hint(tmp_path: Path) -> None:
    files = base()
    files["router/default.conf"] = "server { location / { proxy_pass http://web:8069; } }"
    tree, _ = run(make(tmp_path, files))
    assert tree.router is None
    assert "no nginx database router" in tree.problems[0] and "stacks.router" in tree.problems[0]


def test_router_in_odoos_project_and_a_whole_nginx_conf(tmp_path: Path) -> None:
    files = base()
    del files["router/compose.yaml"], files["router/default.conf"]
    files["erp/docker-compose.yml"] = odoo(
        extra="""  nginx:
    image: nginx:1.27
    volumes:
      - ./nginx.conf:/etc/nginx/nginx.conf:ro
"""
    )
    files["erp/nginx.conf"] = "events {}\nhttp {\n" + NGINX.replace("UPSTREAM", "web") + "}\n"
    tree, _ = run(make(tmp_path, files))
    assert tree.problems == []
    assert tree.router is not None and tree.odoo is not None
    assert tree.router.cf.path == tree.odoo.cf.path and tree.nginx_files == ["erp/nginx.conf"]


@pytest.mark.parametrize(
    ("command", "env", "target"),
    [
        ('["odoo", "-c", "/etc/odoo/custom.conf"]', "", "/etc/odoo/custom.conf"),
        ('["odoo", "--config=/etc/odoo/custom.conf"]', "", "/etc/odoo/custom.conf"),
        (
            "odoo",
            "    environment:\n      ODOO_RC: /etc/odoo/custom.conf\n",
            "/etc/odoo/custom.conf",
        ),
    ],
)
def test_the_conf_odoo_reads_through_a_mounted_directory(
    tmp_path: Path, command: str, env: str, target: str
) -> None:
    files = base()
    files["erp/docker-compose.yml"] = f"""services:
  web:
    image: odoo:18
    command: {command}
{env}    volumes:
      - ./etc:/etc/odoo:ro
"""
    files["erp/etc/custom.conf"] = ODOO_CONF
    tree, reader = run(make(tmp_path, files))
    assert tree.problems == []
    assert tree.odoo_conf is not None and reader.show(tree.odoo_conf) == "erp/etc/custom.conf"
    assert tree.odoo_conf_target == target


def _edge(tmp_path: Path, files: dict[str, str]) -> tuple[Edge, Reader]:
    tree, reader = run(make(tmp_path, files))
    assert tree.traefik is not None
    return read_edge(tree.traefik, tree.composes, reader), reader


def test_traefik_flags_default_exposed_and_a_backup_folder(tmp_path: Path) -> None:
    files = base()
    files["edge/dyn/backup-2025/routes.yml"] = "http: {}\n"
    files["edge/dyn/routes.yml.bak"] = "x\n"
    edge, reader = _edge(tmp_path, files)
    assert (
        edge.static is not None
        and edge.static.source == "command flags in edge/docker-compose.yml:2"
    )
    assert edge.static.exposed_by_default.value is True  # Traefik's default
    assert "not set" in edge.static.exposed_by_default.source
    assert [reader.show(p) for p in edge.dynamic_files] == [
        "edge/dyn/backup-2025/routes.yml",
        "edge/dyn/routes.yml",
    ]
    assert [reader.show(p) for p in edge.dynamic_subdirs] == ["edge/dyn/backup-2025"]
    assert edge.version is not None and edge.version.value == "3.4"


def test_a_static_file_wins_over_flags(tmp_path: Path) -> None:
    files = base()
    files["edge/docker-compose.yml"] = TRAEFIK.replace(
        "      - ./dyn:/dyn:ro\n",
        "      - ./dyn:/dyn:ro\n      - ./traefik.yml:/etc/traefik/traefik.yml:ro\n",
    )
    files["edge/traefik.yml"] = (
        "providers:\n  docker:\n    exposedByDefault: false\n  file:\n    directory: /dyn\n"
    )
    edge, _ = _edge(tmp_path, files)
    assert edge.static is not None and edge.static.source == "edge/traefik.yml"
    assert edge.static.exposed_by_default.value is False
    assert edge.static.exposed_by_default.source == "edge/traefik.yml:3"
    assert (
        edge.warnings
        and "the command flags in edge/docker-compose.yml:2 are ignored" in edge.warnings[0]
    )


def test_traefik_from_the_environment_and_a_missing_directory(tmp_path: Path) -> None:
    files = base()
    files["edge/docker-compose.yml"] = """services:
  traefik:
    image: traefik:${TAG:-v2.11.3}
    environment:
      TRAEFIK_PROVIDERS_FILE_DIRECTORY: /nowhere
      TRAEFIK_PROVIDERS_DOCKER: "true"
"""
    edge, _ = _edge(tmp_path, files)
    assert edge.static is not None and edge.static.source.startswith("TRAEFIK_* environment")
    assert edge.version is not None and edge.version.value == "2.11.3"
    assert edge.problems and "/nowhere is not mounted from a host directory" in edge.problems[0]


def test_labels_and_dynamic_files_give_routers_and_dbfilter_middlewares(tmp_path: Path) -> None:
    files = base()
    files["erp/docker-compose.yml"] = odoo(
        extra="""    labels:
      traefik.enable: "true"
      traefik.http.routers.direct.rule: "HostRegexp(`{t:[a-z]+}.erp.example.com`)"
      traefik.http.routers.direct.middlewares: "db@docker"
      traefik.http.middlewares.db.headers.customrequestheaders.X-Odoo-dbfilter: "^t_$${x}"
"""
    ).replace("  web:\n", "  web:\n")
    files["edge/dyn/routes.yml"] = """http:
  routers:
    tenants:
      rule: "HostRegexp(`^[a-z]+\\\\.erp\\\\.example\\\\.com$`)"
      service: r
  middlewares:
    hdr:
      headers:
        customRequestHeaders: {x-odoo-DBFILTER: "^t_"}
"""
    edge, _ = _edge(tmp_path, files)
    assert sorted(r.full for r in edge.routers) == ["direct@docker", "tenants@file"]
    assert sorted((m.name, m.value) for m in edge.dbfilter_middlewares) == [
        ("db@docker", "^t_${x}"),
        ("hdr@file", "^t_"),
    ]
    assert all(rule_matches_host(r.rule, "acme.erp.example.com") for r in edge.routers)


def test_a_broken_compose_file_elsewhere_is_a_warning(tmp_path: Path) -> None:
    files = base()
    files["wiki/docker-compose.yml"] = "services:\n  wiki:\n    image: [\n"
    tree, _ = run(make(tmp_path, files))
    assert tree.problems == [] and tree.warnings[0].startswith(
        "wiki/docker-compose.yml:4: not valid YAML"
    )


def test_an_override_file_is_named(tmp_path: Path) -> None:
    files = base()
    files["erp/docker-compose.override.yml"] = "services:\n  cache:\n    image: redis:7\n"
    tree, _ = run(make(tmp_path, files))
    assert tree.warnings and tree.warnings[0].startswith(
        "erp/docker-compose.override.yml: compose merges this override file; it names none"
    )


def test_an_override_file_naming_the_odoo_service_is_refused(tmp_path: Path) -> None:
    """After the split a service ``web`` would hold only the override's keys."""
    files = base()
    files["erp/docker-compose.override.yml"] = "services:\n  web:\n    ports: ['8069:8069']\n"
    tree, _ = run(make(tmp_path, files))
    assert tree.problems == [
        "erp/docker-compose.override.yml:2: compose merges this override into the Odoo "
        "service web, which the migration splits or replaces: move its settings for web into "
        "the main compose file (or delete them), then plan again"
    ]


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("${A}", "a"),
        ("${A:-d}", "a"),
        ("${E:-d}", "d"),
        ("${E-d}", ""),
        ("${U-d}", "d"),
        ("${A:+alt}", "alt"),
        ("${U:+alt}", ""),
        ("$A.$$B", "a.$B"),
        ("${U:-${A}x}", "ax"),
        ("$U", ""),
    ],
)
def test_interpolation(text: str, want: str) -> None:
    assert interpolate(text, {"A": "a", "E": ""}) == want


def test_interpolation_errors_and_env_files() -> None:
    with pytest.raises(ValueError, match="required variable U is missing: say it"):
        interpolate("${U:?say it}", {})
    assert read_env("# c\nexport A=1\nB='x y'\nC=z # note\nD=\"q#r\"\n") == {
        "A": "1",
        "B": "x y",
        "C": "z",
        "D": "q#r",
    }


def test_project_and_volume_names(tmp_path: Path) -> None:
    text = (
        "services:\n  web:\n    image: x\n"
        "volumes:\n  a:\n  b:\n    name: ${N}\n  c:\n    external: true\n"
    )
    p = tmp_path / "My_Stack.1" / "compose.yaml"
    cf = load_compose(p, "s/compose.yaml", text, "N=real-b\n")
    assert (cf.project, cf.project_source) == ("my_stack1", "directory name")
    assert [cf.volume_name(k) for k in "abc"] == ["my_stack1_a", "real-b", "c"]
    assert cf.container("web") == "my_stack1-web-1"
    assert load_compose(p, "c", text, "COMPOSE_PROJECT_NAME=Hanbai\n").project == "hanbai"
    assert (
        load_compose(p, "c", "name: erp-jp\n" + text, "COMPOSE_PROJECT_NAME=x\n").project
        == "erp-jp"
    )
    with pytest.raises(ComposeError, match=r"c:4: duplicate key services\.web\.image"):
        load_compose(p, "c", "services:\n  web:\n    image: x\n    image: y\n", None)
