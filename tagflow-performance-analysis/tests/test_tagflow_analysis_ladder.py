"""Every ladder rung renders what tagflow 0.12.0 renders, and none leaks into tagflow."""

from __future__ import annotations

import itertools

import pytest
import tagflow
import tagflow.tagflow as tf
from html_bench import engines as hb_engines
from html_bench import equivalence, scenarios, tagflow_api
from tagflow_analysis import engines, ladder

ALL_SPECS = [
    "+".join(c) for n in range(1, 6) for c in itertools.combinations("abcds", n)
]  # all 31 combinations of the rungs a, b, c, d, s


@pytest.fixture(scope="module")
def tagflow_analysis_reference() -> dict[str, tuple[object, str]]:
    """Each scenario's data and tagflow 0.12.0's own output for it."""
    base = tagflow_api.renderers(tagflow)
    out = {}
    for name, sc in scenarios.SCENARIOS.items():
        data = sc.build()
        out[name] = (data, base[name](data))
    return out


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_tagflow_analysis_rung_output_is_byte_identical(spec, tagflow_analysis_reference):
    rends = tagflow_api.renderers(ladder.variant(spec))
    for name, (data, expected) in tagflow_analysis_reference.items():
        assert rends[name](data) == expected, f"rung {spec} differs on {name}"


def test_tagflow_analysis_pybuilder_equivalent_on_every_scenario(tagflow_analysis_reference):
    rends = hb_engines.resolve("pybuilder").renderers()
    for name, (data, expected) in tagflow_analysis_reference.items():
        diff = equivalence.first_difference(expected, rends[name](data))
        assert diff is None, f"pybuilder differs from tagflow on {name}: {diff}"


def test_tagflow_analysis_check_rungs_reports_every_available_rung_equivalent():
    result = engines.check_rungs(["a", "a+b+c+d", "e", "f"])
    assert set(result) == {"a", "a+b+c+d", "e", "f"}
    for rung, res in result.items():
        if res["available"] is not None:
            assert rung == "f" and "tagflow_cpp" in res["available"]
            continue
        assert {k: v for k, v in res.items() if k != "available"} == dict.fromkeys(
            scenarios.SCENARIOS
        )


def test_tagflow_analysis_variants_do_not_touch_installed_tagflow(tagflow_analysis_reference):
    before = (type(tagflow.tag), tagflow.text, tagflow.attr, tf.attr_name_to_xml, tf.document)
    for spec in ALL_SPECS:
        ladder.variant(spec)
    assert before == (
        type(tagflow.tag),
        tagflow.text,
        tagflow.attr,
        tf.attr_name_to_xml,
        tf.document,
    )
    data, expected = tagflow_analysis_reference["complex"]
    assert tagflow_api.renderers(tagflow)["complex"](data) == expected


def _events(module) -> list[dict]:
    """Mutation events recorded while rendering a small page inside a transaction."""
    transaction = tf.Transaction(mutations=[])
    token = tf.tx.set(transaction)
    try:
        with module.document(), module.tag.div("c", data_x="1"):
            module.text("hi")
            module.attr("title", "t")
            module.classes("more")
            with module.tag.span():
                module.text("x")
    finally:
        tf.tx.reset(token)
    return [e.model_dump() for e in transaction.mutations]


@pytest.mark.parametrize("spec", ["a", "b", "c", "a+b+c"])
def test_tagflow_analysis_live_rungs_still_record_events_in_a_transaction(spec):
    """Rung a skips events only when nothing can receive them: inside a transaction, the same."""
    expected = _events(tagflow)
    assert expected  # tagflow records open/text/attr/close events
    assert _events(ladder.variant(spec)) == expected


def test_tagflow_analysis_fast_serializer_falls_back_for_comments_and_namespaces():
    """Rung s serializes plain trees itself and leaves anything else to ElementTree."""
    import xml.etree.ElementTree as ET

    def page(mod):
        with mod.document() as doc, mod.tag.div(title='a"b>c&'):
            mod.text("x<y")
            with mod.tag.script():
                mod.text("a<b&&c")
            with mod.tag.br():
                pass
        return doc

    doc = page(ladder.variant("s"))
    assert doc.to_html() == page(tagflow).to_html()
    doc.element[0].append(ET.Comment("note"))
    doc.element[0].append(ET.Element("{urn:x}y"))
    assert doc.to_html() == tf.Fragment.to_html(doc)


@pytest.mark.parametrize("spec", ["", "x", "a+z", "++"])
def test_tagflow_analysis_bad_rung_spec_is_a_clear_error(spec):
    with pytest.raises(ValueError, match="unknown ladder rung spec"):
        ladder.variant(spec)


def test_tagflow_analysis_engine_specs_resolve_through_html_bench():
    eng = hb_engines.resolve("tagflow_analysis.engines:rung_abc")
    data = scenarios.get("simple").build()
    assert eng.renderers()["simple"](data) == tagflow_api.renderers(tagflow)["simple"](data)
    with pytest.raises(ValueError, match="unknown ladder rung spec"):
        hb_engines.resolve("tagflow_analysis.engines:rung_xyz")
    keys = [r.key for r in engines.ladder_rungs()]
    assert keys == [
        *"abcds", "a+b", "a+b+c", "a+b+c+d", "a+b+c+d+s", "e", "f-", "f", "g"
    ]  # fmt: skip
