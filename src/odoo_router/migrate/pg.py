"""PostgreSQL tools behind one interface.

Production reaches the database container with ``docker exec -i seisei-db <tool> -U odoo``;
tests run the same tools directly against a local server (``prefix=[]``, ``-h/-p`` in
``conn``). Dumps leave through stdout into a file and come back through stdin, so the same
commands work in both places and no file is copied into the container.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .runner import Runner

# Exact row counts of every user table in one round trip (query_to_xml runs a count per table).
_ROW_COUNTS = """
SELECT format('%I.%I', table_schema, table_name),
       (xpath('/row/c/text()', query_to_xml(
            format('SELECT count(*) AS c FROM %I.%I', table_schema, table_name),
            false, true, '')))[1]::text
FROM information_schema.tables
WHERE table_type = 'BASE TABLE'
  AND table_schema NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1
"""


@dataclass
class Pg:
    runner: Runner
    prefix: list[str] = field(default_factory=list)
    conn: list[str] = field(default_factory=lambda: ["-U", "odoo"])
    bindir: str = ""  # e.g. /usr/lib/postgresql/15/bin/ ; "" means the tools on PATH

    def tool(self, name: str, *args: str) -> list[str]:
        return [*self.prefix, f"{self.bindir}{name}", *self.conn, *args]

    def psql(self, sql: str, db: str = "postgres") -> list[list[str]]:
        out = self.runner.run(
            self.tool(
                "psql", "-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql
            )
        ).stdout
        return [line.split("\t") for line in out.splitlines() if line]

    def databases(self) -> list[str]:
        rows = self.psql(
            "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres' "
            "ORDER BY 1"
        )
        return [r[0] for r in rows]

    def sizes(self, dbs: Sequence[str]) -> dict[str, int]:
        if not dbs:
            return {}
        names = ",".join("'" + d.replace("'", "''") + "'" for d in dbs)
        rows = self.psql(
            f"SELECT datname, pg_database_size(datname) FROM pg_database WHERE datname IN ({names})"
        )
        return {r[0]: int(r[1]) for r in rows}

    def row_counts(self, db: str) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in self.psql(_ROW_COUNTS, db)}

    def dump(self, db: str, out: Path) -> None:
        self.runner.run_to_file(self.tool("pg_dump", "-Fc", "-d", db), out)

    def dump_globals(self, out: Path, no_passwords: bool = False) -> None:
        extra = ("--no-role-passwords",) if no_passwords else ()
        self.runner.run_to_file(self.tool("pg_dumpall", "--globals-only", *extra), out)

    def restore_list(self, dump: Path) -> int:
        """Entries in a custom-format dump (pg_restore --list); raises when unreadable."""
        out = self.runner.run_from_file(self.tool("pg_restore", "--list"), dump).stdout
        return sum(1 for line in out.splitlines() if line and not line.startswith(";"))

    def create_db(self, name: str) -> None:
        self.runner.run(self.tool("createdb", name))

    def drop_db(self, name: str) -> None:
        self.runner.run(self.tool("dropdb", "--if-exists", name))

    def restore_into(self, dump: Path, db: str, *, clean: bool = False) -> None:
        args = ["--exit-on-error", "--no-owner", "-d", db]
        if clean:
            args = ["--clean", "--if-exists", "--single-transaction", *args]
        self.runner.run_from_file(self.tool("pg_restore", *args), dump)
