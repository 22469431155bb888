"""The Prometheus text the master writes (metrics_text.py) is what prometheus_client, the
reference client, writes for the same families, and parses back to the same samples with
label values and help text escaped."""

from __future__ import annotations

import math
from collections.abc import Iterable

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families

from odoo_router.ops.metrics import Stats
from odoo_router.ops.metrics_merge import Merged
from odoo_router.ops.metrics_text import Family, families, number, render


def _merged(*workers: Stats) -> Merged:
    merged = Merged.empty()
    for stats in workers:
        assert merged.add(stats.snapshot())
        merged.workers += 1
    return merged


def _busy() -> Merged:
    one, two, master = Stats(), Stats(), Stats()
    one.connection_opened()
    one.websocket_opened()
    for status, total, up in ((200, 0.004, 0.003), (502, 0.2, None), (404, 7.5, 7.0)):
        one.request_done("named_tenant", "default", "tenant", status, total, up, 300, 5000)
    one.request_done("tenant_subdomain", "database", "", 403, 0.0004, None, 80, 120)
    two.request_done("named_tenant", "default", "tenant", 499, 0.02, None, 10, 0)
    two.upstream_error("tenant", "connect")
    two.upstream_error("tenant_lp", "bad_answer")
    two.fault("request_spill")
    two.set_pool("tenant", 2, 1)
    master.reload("ok")
    master.reload("invalid")
    one.tenants.apply(500, frozenset({"ten_acme"}))
    one.tenants.request_done("ten_acme", 200, 200, 0.004, 300, 5000)
    one.tenants.request_done("_admin", 404, 404, 0.2, 10, 20)
    one.tenants.websocket("ten_acme", 1)
    merged = _merged(one, two, master)
    merged.fold_tenants({"ten_acme"})
    merged.tenant_labels_max, merged.tenant_folded = 500, 3
    return merged


class _Reference:
    """Our families handed to prometheus_client as its own Metric objects."""

    def __init__(self, found: list[Family]) -> None:
        self.found = found

    def collect(self) -> Iterable[Metric]:
        for family in self.found:
            name = family.name.removesuffix("_total") if family.type == "counter" else family.name
            metric = Metric(name, family.help, family.type)
            for sample_name, labels, value in family.samples:
                metric.add_sample(sample_name, dict(labels), value)
            yield metric

    def describe(self) -> Iterable[Metric]:
        return []


def _reference(found: list[Family]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Reference(found))
    return bytes(generate_latest(registry))


def test_the_text_is_the_reference_clients() -> None:
    found = families(_busy())
    assert render(found) == _reference(found)


def test_an_empty_view_is_the_reference_clients() -> None:
    found = families(Merged.empty())
    assert render(found) == _reference(found)
    assert b"odoo_router_workers 0.0\n" in render(found)


def test_odd_label_values_and_help_are_escaped() -> None:
    stats = Stats()
    odd = 'we"ird\\host\nline two'
    stats.request_done(odd, "r", "p", 200, 0.1, None, 1, 2)
    found = families(_merged(stats))
    found.append(Family("odoo_router_test", "gauge", "a help\\text\nover two lines"))
    found[-1].add((("x", odd),), 1)
    text = render(found)
    assert render(found) == _reference(found)
    parsed = {f.name: f for f in text_string_to_metric_families(text.decode())}
    assert parsed["odoo_router_test"].documentation == "a help\\text\nover two lines"
    (sample,) = parsed["odoo_router_test"].samples
    assert sample.labels == {"x": odd}
    requests = parsed["odoo_router_requests"].samples
    assert [s.labels["host_rule"] for s in requests] == [odd]


def test_every_family_parses_back_to_its_samples() -> None:
    found = families(_busy())
    parsed = list(text_string_to_metric_families(render(found).decode()))
    ours = {(n, tuple(sorted(lb))): v for f in found for n, lb, v in f.samples}
    theirs = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in parsed for s in f.samples}
    assert theirs == ours
    assert len(parsed) == len(found) == 20


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0.0"),
        (4, "4.0"),
        (0.0004, "0.0004"),
        (1234567.5, "1234567.5"),
        (1e22, "1e+22"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (math.nan, "NaN"),
    ],
)
def test_numbers(value: float, text: str) -> None:
    assert number(value) == text
    parsed = next(text_string_to_metric_families(f"# TYPE x gauge\nx {text}\n"))
    got = parsed.samples[0].value
    assert (math.isnan(got) and math.isnan(value)) or got == value
