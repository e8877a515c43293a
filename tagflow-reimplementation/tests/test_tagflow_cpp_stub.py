"""One element table (include/tagflow/tags.def): the committed type stub is generated from it
(tools/gen_stub.py), and the table, the module's methods and exports and the engine agree."""

from __future__ import annotations

import difflib
import importlib.util
import re
import sys
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from tagflow_cpp import ELEMENTS, VOID_ELEMENTS, Document

PROJECT = Path(__file__).resolve().parent.parent  # the sources, also under the ASan run
COMMITTED_STUB = PROJECT / "python" / "tagflow_cpp" / "_core.pyi"


def load_gen_stub() -> ModuleType:
    path = PROJECT / "tools" / "gen_stub.py"
    spec = importlib.util.spec_from_file_location("tagflow_cpp_gen_stub", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses looks its module up
    spec.loader.exec_module(module)
    return module


gen_stub = load_gen_stub()
TABLE = gen_stub.read_table()


def test_tagflow_cpp_stub_is_generated_from_the_element_table(tmp_path: Path) -> None:
    fresh = tmp_path / "_core.pyi"
    assert gen_stub.main(["--output", str(fresh)]) == 0
    expected, committed = fresh.read_text(), COMMITTED_STUB.read_text()
    if committed != expected:
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                expected.splitlines(keepends=True),
                "python/tagflow_cpp/_core.pyi (committed)",
                "python/tagflow_cpp/_core.pyi (generated)",
            )
        )
        pytest.fail(
            "the committed stub is not what tools/gen_stub.py makes of tags.def and "
            "tools/_core.pyi.in: edit those, then run `python tagflow-reimplementation/tools/"
            f"gen_stub.py`\n{diff}",
            pytrace=False,
        )
    assert (COMMITTED_STUB.parent / "py.typed").exists()


def test_tagflow_cpp_table_parse_is_what_the_module_was_compiled_from() -> None:
    assert len(TABLE) > 100
    assert [e.name for e in TABLE] == list(ELEMENTS)
    assert {e.name for e in TABLE if e.void} == VOID_ELEMENTS


def test_tagflow_cpp_every_table_element_is_a_method_of_the_module() -> None:
    import tagflow_cpp._core as core

    doc = Document()
    for e in TABLE:
        assert callable(getattr(core.Document, e.method)), e.method
        assert callable(getattr(doc, e.method)), e.method


def stub_methods() -> dict[str, list[str]]:
    """Method name -> return types of its definitions, for every method of the committed stub's
    Document class."""
    body = COMMITTED_STUB.read_text().split("\nclass Document:\n", 1)[1]
    found: dict[str, list[str]] = {}
    for name, returns in re.findall(r"^    def (\w+)\(.*\) -> (\w+): \.\.\.$", body, re.M):
        found.setdefault(name, []).append(returns)
    return found


def test_tagflow_cpp_stub_void_ness_matches_the_table() -> None:
    methods = stub_methods()
    for e in TABLE:
        # A void element only writes itself; any other opens a `with` block or writes a leaf.
        assert methods.get(e.method) == (["Written"] if e.void else ["Element", "Written"]), e


@pytest.mark.parametrize("element", TABLE, ids=lambda e: e.name)
def test_tagflow_cpp_engine_behaviour_matches_the_table(element: Any) -> None:
    """Each element written twice: through its method (the kind compiled from the table) and
    through doc.tag(name) (the engine's element_kind() lookup, document.cpp). Both must do what
    the table says: void = no end tag and no content, raw text = not escaped, else escaped."""
    name = element.name
    for via_tag in (False, True):
        doc = Document()
        write = partial(doc.tag, name) if via_tag else getattr(doc, element.method)
        if element.void:
            write()
            assert doc.render() == f"<{name}>", (name, via_tag)
            with pytest.raises(TypeError, match="void element"):
                write("text")
        else:
            write("a<b")
            with write():
                pass
            text = "a<b" if element.kind == "R" else "a&lt;b"
            assert doc.render() == f"<{name}>{text}</{name}><{name}></{name}>", (name, via_tag)
