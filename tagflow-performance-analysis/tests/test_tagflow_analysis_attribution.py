"""Attribution of real profiles of tagflow: categories from the data, adding up to 100 %."""

from __future__ import annotations

import cProfile
import pstats

import pyinstrument
import pytest
import tagflow
from html_bench import scenarios, tagflow_api
from tagflow_analysis import attribution, flamegraph, profiling


@pytest.fixture(scope="module")
def tagflow_analysis_table_profile() -> pstats.Stats:
    render = tagflow_api.renderers(tagflow)["table100"]
    data = scenarios.get("table100").build()
    render(data)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(3):
        render(data)
    prof.disable()
    return pstats.Stats(prof)


def test_tagflow_analysis_cprofile_shares_sum_to_100(tagflow_analysis_table_profile):
    seconds = attribution.attribute_pstats(tagflow_analysis_table_profile)
    total_tt = sum(
        v[2]
        for k, v in tagflow_analysis_table_profile.stats.items()
        if "_lsprof.Profiler" not in k[2]  # the profiler's own disable()
    )
    assert sum(seconds.values()) == pytest.approx(total_tt, rel=1e-9)
    shares = attribution.shares(seconds)
    assert set(shares) == set(attribution.CATEGORIES)
    assert sum(shares.values()) == pytest.approx(100.0)
    # the machinery tagflow runs per element is found, not guessed
    for cat in ("closure", "events", "ids", "contextvar", "serialize", "tagflow"):
        assert shares[cat] > 1.0, (cat, shares)
    assert shares["attrnames"] == 0.0  # the table page has no attributes at all


def test_tagflow_analysis_sampling_shares_sum_to_100():
    render = tagflow_api.renderers(tagflow)["complex"]
    data = scenarios.get("complex").build()
    profiler = pyinstrument.Profiler(interval=0.0002)
    profiler.start()
    for _ in range(40):
        render(data)
    profiler.stop()
    root = profiling.aggregated_tree(profiler.last_session)
    shares = attribution.shares(attribution.attribute_frames(profiling.attribution_root(root)))
    assert sum(shares.values()) == pytest.approx(100.0)
    assert shares["rest"] < 100.0


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (("~", 0, "<method 'get' of '_contextvars.ContextVar' objects>"), "contextvar"),
        (("~", 0, "<method 'reset' of '_contextvars.ContextVar' objects>"), "contextvar"),
        (
            ("~", 0, "<method 'validate_python' of 'pydantic_core.SchemaValidator' objects>"),
            "events",
        ),
        (("/usr/lib/python3.11/contextlib.py", 132, "__enter__"), "closure"),
        (("/usr/lib/python3.11/functools.py", 35, "update_wrapper"), "closure"),
        (("/usr/lib/python3.11/functools.py", 900, "cache"), None),
        (("/usr/lib/python3.11/xml/etree/ElementTree.py", 918, "_serialize_html"), "serialize"),
        (("~", 0, "<built-in method builtins.getattr>"), None),
        (("/x/site-packages/pydantic/main.py", 270, "__init__"), "events"),
    ],
)
def test_tagflow_analysis_categorize_rules(key, expected):
    assert attribution.categorize(*key) == expected


def test_tagflow_analysis_tagflow_functions_map_by_enclosing_function():
    import inspect

    import tagflow.tagflow as tf

    path = inspect.getfile(tf)
    line = inspect.getsourcelines(tf.Fragment.to_html)[1]
    assert attribution.categorize(path, line, "to_html") == "serialize"
    # the per-tag closure is a nested function of HTMLTagBuilder.__call__
    src, start = inspect.getsourcelines(tf.HTMLTagBuilder.__call__)
    ctx_line = start + next(i for i, s in enumerate(src) if "def context" in s)
    assert attribution.categorize(path, ctx_line, "context") == "closure"
    assert attribution.categorize(path, start, "__call__") == "tagflow"
    assert attribution.categorize(path, 1, "_get_or_create_id") == "ids"


def test_tagflow_analysis_empty_profile_is_an_error():
    with pytest.raises(ValueError, match="empty profile"):
        attribution.shares(dict.fromkeys(attribution.CATEGORIES, 0.0))


def test_tagflow_analysis_profile_scenario_writes_files(tmp_path):
    result = profiling.profile_scenario("simple", tmp_path, loops=5, seconds=0.3)
    for part in ("cprofile", "sampling"):
        assert sum(result[part]["shares"].values()) == pytest.approx(100.0)
        assert (tmp_path / result[part]["file"]).stat().st_size > 0
    names = sorted(result["flamegraphs"])
    assert names == ["simple-flame.png", "simple-flame.svg"]
    assert (tmp_path / names[0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / names[1]).read_text().lstrip().startswith("<?xml")
    assert result["top_functions"] and result["top_functions"][0]["self_pct"] > 0
    pstats.Stats(str(tmp_path / "simple.prof"))  # a valid pstats file


def test_tagflow_analysis_flamegraph_refuses_empty_tree():
    class Empty:
        time = 0.0
        children: list = []  # noqa: RUF012

    with pytest.raises(ValueError, match="empty profile"):
        flamegraph.draw(Empty(), __import__("pathlib").Path("/nonexistent/x"), "t")
