"""Scenarios, reference output, equivalence and names (fast, no timing)."""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from html_bench import equivalence, reference, scenarios
from html_bench.engines import all_engines, resolve
from html_bench.scenarios import SPECIALS, UnknownNameError

ENGINES = all_engines()

# The original study's definitions (seed-facts): elements / text nodes.
ORIGINAL_COUNTS = {"simple": (12, 5), "complex": (65, 34), "table100": (614, 507)}


@pytest.mark.parametrize("name", list(scenarios.SCENARIOS))
def test_html_bench_reference_counts_match_scenario(name: str) -> None:
    s = scenarios.get(name)
    html = reference.render(name, s.build())
    assert equivalence.count_nodes(html) == (s.elements, s.text_nodes)


@pytest.mark.parametrize("name", list(ORIGINAL_COUNTS))
def test_html_bench_counts_are_the_originals(name: str) -> None:
    s = scenarios.get(name)
    assert (s.elements, s.text_nodes) == ORIGINAL_COUNTS[name]


def test_html_bench_table1000_is_ten_times_table100() -> None:
    rows100 = scenarios.get("table100").build()["rows"]
    rows1000 = scenarios.get("table1000").build()["rows"]
    assert len(rows100) == 100 and len(rows1000) == 1000
    assert rows1000[:100] == rows100
    assert scenarios.get("table1000").elements == 14 + 6 * 1000


def test_html_bench_table_row_format() -> None:
    row = scenarios.get("table100").build()["rows"][0]
    html = reference.render("table100", scenarios.get("table100").build())
    assert "<td>1</td><td>Employee 0</td><td>emp0@company.com</td><td>Dept 0</td>" in html
    assert f"<td>${row['salary']:,}</td>" in html
    assert re.search(r"<td>\$\d{2,3},\d{3}</td>", html)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.attrs: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.attrs.extend(v for _, v in attrs if v is not None)

    def handle_data(self, data):
        self.texts.append(data)


def test_html_bench_escaping_page_holds_every_special_character() -> None:
    data = scenarios.get("escaping").build()
    p = _Collector()
    p.feed(reference.render("escaping", data))
    text, attrs = "".join(p.texts), "".join(p.attrs)
    for ch in SPECIALS:
        assert ch in text, f"{ch!r} missing from the text of the escaping page"
        assert ch in attrs, f"{ch!r} missing from the attribute values of the escaping page"
    assert any(ord(c) > 127 for c in text)
    hrefs = [v for v in p.attrs if v.startswith("https://")]
    assert hrefs and all("&" in h for h in hrefs)
    # Strings that look like entities must survive as literal text.
    assert "&amp;" in text and "&lt;b&gt;" in text and "&amp;" in attrs


def test_html_bench_bad_scenario_name_lists_valid_ones() -> None:
    with pytest.raises(UnknownNameError, match="valid scenarios: simple, complex"):
        scenarios.get("tabel100")


def test_html_bench_bad_engine_name_lists_valid_ones() -> None:
    with pytest.raises(UnknownNameError, match="valid engines: tagflow, jinja2"):
        resolve("jinga2")


def test_html_bench_engine_spec_must_have_a_factory() -> None:
    with pytest.raises(ValueError, match="package.module:factory"):
        resolve("html_bench.reference:")
    with pytest.raises(ValueError, match="has no attribute"):
        resolve("html_bench.reference:nothing_here")


def test_html_bench_engine_spec_resolves_a_renderers_dict() -> None:
    engine = resolve("html_bench.engines._builders:fstring")
    assert set(engine.renderers()) == set(scenarios.SCENARIOS)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "nope", "--engine", "jinja2"], "valid scenarios"),
        (["--scenario", "simple", "--engine", "nope"], "valid engines"),
        (["--scenario", "simple"], "required"),
    ],
)
def test_html_bench_cli_bad_names_exit_2(args: list[str], message: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "html_bench", *args], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert message in proc.stderr


def test_html_bench_cli_renders_and_checks() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "html_bench", "-s", "simple", "-e", "jinja2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        equivalence.first_difference(
            reference.render("simple", scenarios.get("simple").build()), proc.stdout
        )
        is None
    )


def test_html_bench_every_engine_covers_every_scenario() -> None:
    for engine in ENGINES.values():
        if engine.available() is None:
            assert set(engine.renderers()) == set(scenarios.SCENARIOS), engine.name


def test_html_bench_cli_time_prints_a_measured_row() -> None:
    import json

    proc = subprocess.run(
        [sys.executable, "-m", "html_bench", "-s", "simple", "-e", "fstring", "--time"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)
    assert row["status"] == "ok" and row["median_s"] > 0 and row["engine"] == "fstring"
