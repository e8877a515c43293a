"""The C++ analysis: callgrind parsing on a real program, and the C-dispatch compat idea."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from html_bench import engines, scenarios
from tagflow_analysis import native

ENGINE_CPP = """
#include <cstring>
#include <string>
std::string build(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += "<td>cell</td>";
  return out;
}
"""
BINDING_CPP = """
#include <string>
std::string build(int n);
int main() {
  unsigned long total = 0;
  for (int i = 0; i < 200; ++i) total += build(50).size();
  return total == 200UL * 50 * 13 ? 0 : 1;
}
"""


def test_tagflow_analysis_callgrind_split_of_a_real_program(tmp_path: Path):
    """Engine lines (and what they call) vs binding lines vs the rest, on a compiled program."""
    eng_dir, bind_dir = tmp_path / "src", tmp_path / "python"
    eng_dir.mkdir()
    bind_dir.mkdir()
    (eng_dir / "engine.cpp").write_text(ENGINE_CPP)
    (bind_dir / "main.cpp").write_text(BINDING_CPP)
    exe = tmp_path / "prog"
    subprocess.run(
        ["g++", "-O2", "-g", str(eng_dir / "engine.cpp"), str(bind_dir / "main.cpp"), "-o", exe],
        check=True,
    )
    out = tmp_path / "callgrind.out"
    subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-instr=no", exe],
        check=True,
        capture_output=True,
    )
    split = native.parse_callgrind(out, [eng_dir], [bind_dir / "main.cpp"])
    assert split.total > 0
    assert split.engine_self > 0 and split.binding > 0
    assert split.engine_calls > 0  # std::string growth: operator new / memcpy called by build()
    # most of this program's own work is the engine's; start-up (ld.so, libc init) is the rest
    assert split.engine > 5 * split.binding
    assert split.engine + split.binding + split.interpreter == split.total
    assert split.interpreter > 0


def test_tagflow_analysis_callgrind_parser_rejects_empty_file(tmp_path: Path):
    empty = tmp_path / "callgrind.out"
    empty.write_text("version: 1\ncreator: test\nevents: Ir\n")
    with pytest.raises(RuntimeError, match="no instructions"):
        native.parse_callgrind(empty, [tmp_path], [])


def test_tagflow_analysis_python_dispatch_compat_renders_what_compat_renders():
    from tagflow_analysis import compat_variants

    before = compat_variants.renderers()
    shipped = engines.resolve("tagflow_cpp.compat").renderers()
    for name, sc in scenarios.SCENARIOS.items():
        data = sc.build()
        assert before[name](data) == shipped[name](data), name
    mod = compat_variants.python_dispatch()
    with pytest.raises(LookupError, match="no document"):
        mod.text("x")
    with pytest.raises(LookupError, match="no document"):
        mod.tag.div()
    with mod.document() as doc, mod.tag("p", "c", data_x="1"):
        mod.text("a<b")
    assert doc.to_html() == '<p data-x="1" class="c">a&lt;b</p>'
