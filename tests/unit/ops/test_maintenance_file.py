"""The maintenance state file (ops/maintenance.py): its format, every problem with file,
line and key, times and durations, atomic writes, and what is in force when."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from odoo_router.ops.maintenance import (
    Entry,
    StateError,
    active,
    parse_state,
    parse_time,
    read_state,
    render_state,
    switch_off,
    switch_on,
    write_state,
)
from runtime.support import mounted_tmpfs

NOW = datetime(2026, 12, 6, 13, 0, tzinfo=UTC)


def test_render_and_parse_round_trip() -> None:
    entries = {
        "ten_b": Entry(NOW, None, None),
        "ten_a": Entry(NOW, NOW + timedelta(minutes=30), 'root@host "x"'),
    }
    text = render_state(entries)
    assert text.index("ten_a:") < text.index("ten_b:"), "sorted, for people"
    assert parse_state(text, "m.yaml") == entries
    assert parse_state(render_state({}), "m.yaml") == {}


def test_json_is_read_too() -> None:
    text = '{"ten_a": {"since": "2026-12-06T13:00:00Z", "until": "2026-12-06T14:00:00+01:00"}}'
    assert parse_state(text, "m.json") == {"ten_a": Entry(NOW, NOW, None)}


def test_unquoted_yaml_timestamps_are_times() -> None:
    assert parse_state("ten_a: {since: 2026-12-06 13:00:00}\n", "m") == {"ten_a": Entry(NOW)}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ten_a: [\n", "m.yaml:2: not valid YAML"),
        ("- ten_a\n", "m.yaml:1: <top>: expected a mapping of database -> entry"),
        ("'bad name': {since: '2026-12-06T13:00:00Z'}\n", "m.yaml:1: bad name: not a database"),
        ("ten_a: on\n", "m.yaml:1: ten_a: expected a mapping with since, until, by"),
        ("ten_a: {until: '2026-12-06T13:00:00Z'}\n", "m.yaml:1: ten_a: missing since"),
        (
            "ten_a:\n  since: '2026-12-06T13:00:00Z'\n  untill: x\n",
            "m.yaml:3: ten_a.untill: unknown key",
        ),
        ("ten_a:\n  since: tomorrow\n", "m.yaml:2: ten_a.since: 'tomorrow' is not an ISO 8601"),
        ("ten_a:\n  since: '2026-12-06T13:00:00'\n", "m.yaml:2: ten_a.since: '2026-12-06T13"),
        ("ten_a:\n  since: 5\n", "m.yaml:2: ten_a.since: expected an ISO 8601 time, got int"),
        (
            "ten_a:\n  since: '2026-12-06T13:00:00Z'\n  by: [x]\n",
            "m.yaml:3: ten_a.by: expected text",
        ),
        (
            "ten_a: {since: '2026-12-06T13:00:00Z'}\nten_a: {since: '2026-12-06T13:00:00Z'}\n",
            "m.yaml:2: ten_a: duplicate key",
        ),
    ],
)
def test_bad_files_name_line_and_key(text: str, message: str) -> None:
    with pytest.raises(StateError) as err:
        parse_state(text, "m.yaml")
    assert str(err.value).startswith(message), str(err.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", NOW + timedelta(minutes=30)),
        ("2h", NOW + timedelta(hours=2)),
        ("1h30m", NOW + timedelta(minutes=90)),
        ("1d", NOW + timedelta(days=1)),
        ("90s", NOW + timedelta(seconds=90)),
        ("2026-12-06T15:00:00+09:00", datetime(2026, 12, 6, 6, 0, tzinfo=UTC)),
        ("2026-12-06T15:00:00Z", datetime(2026, 12, 6, 15, 0, tzinfo=UTC)),
    ],
)
def test_times_and_durations(text: str, expected: datetime) -> None:
    assert parse_time(text, NOW) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is neither an ISO 8601 time"),
        ("soon", "is neither an ISO 8601 time"),
        ("30 min", "is neither an ISO 8601 time"),
        ("2026-12-06T15:00:00", r"has no offset: add Z or \+HH:MM"),
    ],
)
def test_bad_times(text: str, message: str) -> None:
    with pytest.raises(StateError, match=message):
        parse_time(text, NOW)


def test_active_ends_with_until() -> None:
    entries = {
        "ten_open": Entry(NOW),
        "ten_soon": Entry(NOW, NOW + timedelta(seconds=5)),
        "ten_over": Entry(NOW - timedelta(hours=1), NOW),
    }
    assert active(entries, NOW) == {
        "ten_open": 0.0,
        "ten_soon": (NOW + timedelta(seconds=5)).timestamp(),
    }
    assert active(entries, NOW + timedelta(seconds=5)) == {"ten_open": 0.0}


def test_missing_file_is_empty(tmp_path: Path) -> None:
    assert read_state(str(tmp_path / "none.yaml")) == {}


def test_write_is_atomic_and_readable_by_all(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("old\n")
    inode = path.stat().st_ino
    write_state(str(path), {"ten_a": Entry(NOW)})
    assert path.stat().st_ino != inode, "replaced by a rename, never rewritten in place"
    assert path.stat().st_mode & 0o777 == 0o644
    assert read_state(str(path)) == {"ten_a": Entry(NOW)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.yaml"], "no temporary file left"


def test_an_unwritable_directory_changes_nothing(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        path = tmp_path / "m.yaml"
        write_state(str(path), {"ten_a": Entry(NOW)})
        tmp_path.chmod(0o500)
        try:
            with pytest.raises(OSError):
                write_state(str(path), {})
        finally:
            tmp_path.chmod(0o700)
        assert read_state(str(path)) == {"ten_a": Entry(NOW)}
        return
    # root writes through modes: a file system made read-only under the file then
    with mounted_tmpfs(tmp_path / "fs", "size=1m") as fs:
        path = fs / "m.yaml"
        write_state(str(path), {"ten_a": Entry(NOW)})
        subprocess.run(["mount", "-o", "remount,ro", str(fs)], check=True)
        with pytest.raises(OSError, match="Read-only file system"):
            write_state(str(path), {})
        assert read_state(str(path)) == {"ten_a": Entry(NOW)}


def test_on_keeps_since_and_drops_what_is_over(tmp_path: Path) -> None:
    path = str(tmp_path / "m.yaml")
    write_state(path, {"ten_old": Entry(NOW - timedelta(hours=2), NOW - timedelta(hours=1))})
    switch_on(path, ["ten_a"], None, "ops@h", NOW)
    later = NOW + timedelta(minutes=5)
    switch_on(path, ["ten_a", "ten_b"], later + timedelta(hours=1), "ops@h", later)
    assert read_state(path) == {
        "ten_a": Entry(NOW, later + timedelta(hours=1), "ops@h"),
        "ten_b": Entry(later, later + timedelta(hours=1), "ops@h"),
    }
    entries, missing = switch_off(path, ["ten_a", "ten_x"], later)
    assert missing == ["ten_x"]
    assert list(entries) == ["ten_b"] == list(read_state(path))
    assert switch_off(path, None, later) == ({}, [])
    assert read_state(path) == {}
