"""Password hashes and the basic-auth check for admin routes."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator

import pytest

from odoo_router.security import passwords
from odoo_router.security.passwords import (
    cached_basic_auth,
    check_basic_auth,
    clear_auth_cache,
    hash_password,
    verify_password,
)

# The pattern configuration/validate.py accepts under a route's auth.users.
CONFIG_HASH_RE = re.compile(r"pbkdf2_sha256\$\d+\$[0-9a-f]+\$[0-9a-f]{64}")
FAST = 1000  # iterations for tests that do not care about the cost


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    clear_auth_cache()
    yield
    clear_auth_cache()


def basic(credentials: str | bytes) -> str:
    raw = credentials.encode() if isinstance(credentials, str) else credentials
    return "Basic " + base64.b64encode(raw).decode()


def test_default_hash_has_the_config_format() -> None:
    hashed = hash_password("s3cret")
    assert CONFIG_HASH_RE.fullmatch(hashed)
    scheme, iterations, salt, digest = hashed.split("$")
    assert (scheme, iterations, len(salt), len(digest)) == ("pbkdf2_sha256", "600000", 32, 64)
    assert verify_password("s3cret", hashed)


def test_hashes_are_salted() -> None:
    assert hash_password("same", FAST) != hash_password("same", FAST)


@pytest.mark.parametrize(
    "password", ["", "a", "pässwörd", "密码", "with:colon", " spaced ", "x" * 1000]
)
def test_verify_accepts_the_password_it_hashed(password: str) -> None:
    assert verify_password(password, hash_password(password, FAST))


@pytest.mark.parametrize("attempt", ["S3cret", "s3cret ", "s3cre", "", "s3cret\x00"])
def test_verify_refuses_other_passwords(attempt: str) -> None:
    assert not verify_password(attempt, hash_password("s3cret", FAST))


GOOD = hash_password("pw", FAST)
MALFORMED_HASHES = [
    "",
    "pw",
    GOOD.replace("pbkdf2_sha256", "pbkdf2_sha1"),
    GOOD.upper(),
    GOOD + "$",
    GOOD[:-1],
    GOOD.replace(f"${FAST}$", "$0$"),
    GOOD.replace(f"${FAST}$", "$-5$"),
    GOOD.replace(f"${FAST}$", "$99999999999$"),
    GOOD.replace(f"${FAST}$", "$ 1000$"),
    "pbkdf2_sha256$1000$abc$" + "0" * 64,  # odd-length salt
    "pbkdf2_sha256$1000$$" + "0" * 64,
]


@pytest.mark.parametrize("hashed", MALFORMED_HASHES)
def test_malformed_hashes_never_verify(hashed: str) -> None:
    assert not verify_password("pw", hashed)


def test_hash_password_refuses_nul() -> None:
    with pytest.raises(ValueError):
        hash_password("pw\x00", FAST)


@pytest.mark.parametrize("iterations", [0, -1, passwords.MAX_ITERATIONS + 1])
def test_hash_password_refuses_silly_iteration_counts(iterations: int) -> None:
    with pytest.raises(ValueError):
        hash_password("pw", iterations)


USERS = (("admin", hash_password("s3cret", FAST)), ("ops", hash_password("p:ss wörd", FAST)))

BASIC_CASES = [
    ("admin", basic("admin:s3cret"), "admin"),
    ("second user, colon in password, UTF-8", basic("ops:p:ss wörd"), "ops"),
    ("second user, Latin-1 credentials", basic("ops:p:ss wörd".encode("latin-1")), "ops"),
    ("scheme in lower case", "basic " + basic("admin:s3cret")[6:], "admin"),
    ("scheme in upper case", "BASIC " + basic("admin:s3cret")[6:], "admin"),
    ("extra spaces", "  Basic    " + basic("admin:s3cret")[6:] + "  ", "admin"),
    ("wrong password", basic("admin:S3cret"), None),
    ("empty password", basic("admin:"), None),
    ("unknown user", basic("root:s3cret"), None),
    ("user in another case", basic("Admin:s3cret"), None),
    ("other user's password", basic("ops:s3cret"), None),
    ("no colon", basic("admins3cret"), None),
    ("empty credentials", basic(""), None),
    ("None", None, None),
    ("empty header", "", None),
    ("scheme only", "Basic", None),
    ("scheme and spaces", "Basic   ", None),
    ("Bearer", "Bearer " + basic("admin:s3cret")[6:], None),
    ("Digest", 'Digest username="admin"', None),
    ("no scheme", basic("admin:s3cret")[6:], None),
    ("bad base64", "Basic !!!notbase64", None),
    ("base64 without padding", basic("ops:p:ss wörd").rstrip("="), None),
    ("base64 with inner space", "Basic YWRt aW46czNjcmV0", None),
    ("non-ASCII token", "Basic YWRtaW46czNjcmV0é", None),
    ("token with trailing garbage", basic("admin:s3cret") + "x", None),
    ("huge header", "Basic " + "A" * 10_000, None),
    ("NUL in the user", basic("admin\x00:s3cret"), None),
]


@pytest.mark.parametrize(
    ("desc", "header", "expected"), BASIC_CASES, ids=[c[0] for c in BASIC_CASES]
)
def test_check_basic_auth(desc: str, header: str | None, expected: str | None) -> None:
    assert check_basic_auth(header, USERS) == expected


def test_no_users_means_nobody() -> None:
    assert check_basic_auth(basic("admin:s3cret"), ()) is None


class CountingVerify:
    def __init__(self) -> None:
        self.calls = 0
        self.real = passwords.verify_password

    def __call__(self, password: str, hashed: str) -> bool:
        self.calls += 1
        return self.real(password, hashed)


@pytest.fixture
def counter(monkeypatch: pytest.MonkeyPatch) -> CountingVerify:
    counting = CountingVerify()
    monkeypatch.setattr(passwords, "verify_password", counting)
    return counting


def test_success_is_cached(counter: CountingVerify) -> None:
    header = basic("admin:s3cret")
    assert [check_basic_auth(header, USERS) for _ in range(5)] == ["admin"] * 5
    assert counter.calls == 1


def test_failures_are_not_cached(counter: CountingVerify) -> None:
    header = basic("admin:wrong")
    assert [check_basic_auth(header, USERS) for _ in range(3)] == [None] * 3
    assert counter.calls == 3


def test_unknown_users_cost_a_verification_too(counter: CountingVerify) -> None:
    assert check_basic_auth(basic("nobody:x"), USERS) is None
    assert counter.calls == 1


def test_changed_hash_drops_the_cached_success() -> None:
    header = basic("admin:s3cret")
    assert check_basic_auth(header, USERS) == "admin"
    rotated = (("admin", hash_password("n3w", FAST)),)
    assert check_basic_auth(header, rotated) is None
    assert check_basic_auth(basic("admin:n3w"), rotated) == "admin"


def test_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "_CACHE_SIZE", 3)
    users = tuple((f"u{i}", hash_password(f"p{i}", FAST)) for i in range(5))
    for i in range(5):
        assert check_basic_auth(basic(f"u{i}:p{i}"), users) == f"u{i}"
    assert len(passwords._cache) == 3


def test_cache_does_not_hold_the_password_in_clear() -> None:
    check_basic_auth(basic("admin:s3cret"), USERS)
    (key,) = passwords._cache
    assert all(b"s3cret" not in part for part in key if isinstance(part, bytes))
    assert all("s3cret" not in part for part in key if isinstance(part, str))


def test_cache_probe_never_verifies(counter: CountingVerify) -> None:
    header = basic("admin:s3cret")
    assert cached_basic_auth(header, USERS) is None
    assert counter.calls == 0
    assert check_basic_auth(header, USERS) == "admin"
    assert cached_basic_auth(header, USERS) == "admin"
    assert cached_basic_auth(basic("admin:wrong"), USERS) is None
    assert cached_basic_auth(basic("nobody:s3cret"), USERS) is None
    assert cached_basic_auth(header, (("admin", hash_password("s3cret", FAST)),)) is None
    assert counter.calls == 1
