"""Writes tagflow_cpp's type stub (python/tagflow_cpp/_core.pyi) from the element table.

The element table is include/tagflow/tags.def, the X-macro list the C++ compiles into the engine
(elements.hpp) and into the extension's per-element methods (python/_core.cpp). The stub is the
hand-written part, tools/_core.pyi.in, with the line ``@ELEMENT_METHODS@`` replaced by one
method per element: a normal or raw-text element opens a ``with`` block, or writes a leaf when
given text; a void element takes attributes only.

    python tagflow-reimplementation/tools/gen_stub.py            # rewrite the committed stub
    python tagflow-reimplementation/tools/gen_stub.py --output F  # write it elsewhere

tests/test_tagflow_cpp_stub.py regenerates it and fails with a diff if the committed one differs.
"""

from __future__ import annotations

import argparse
import keyword
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "include" / "tagflow" / "tags.def"
TEMPLATE = ROOT / "tools" / "_core.pyi.in"
STUB = ROOT / "python" / "tagflow_cpp" / "_core.pyi"
MARKER = "@ELEMENT_METHODS@"

# One entry of tags.def: TAGFLOW_TAG(identifier, "name", kind), kind N, V or R.
_ENTRY = re.compile(r'TAGFLOW_TAG\(\s*(\w+)\s*,\s*"([^"\\]+)"\s*,\s*([NVR])\s*\)')
_ATTRS = "**attrs: AttrValue | dict[str, AttrValue]"


@dataclass(frozen=True)
class Element:
    ident: str  # C++ identifier ("template_")
    name: str  # HTML name ("template")
    kind: str  # "N" normal, "V" void, "R" raw text (script, style)

    @property
    def void(self) -> bool:
        return self.kind == "V"

    @property
    def method(self) -> str:
        """The Python method name, as python/_core.cpp's python_method_name() makes it: the C++
        identifier without its keyword underscore, plus one for a Python keyword ("del_")."""
        name = self.ident.removesuffix("_")
        return name + "_" if keyword.iskeyword(name) else name


def read_table(path: Path = TABLE) -> list[Element]:
    """The entries of tags.def, in order. Any line that is neither a comment nor one entry is an
    error: a format this parser does not understand must not silently drop elements."""
    elements = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("//"):
            continue
        match = _ENTRY.fullmatch(text)
        if match is None:
            raise ValueError(
                f'{path}:{number}: not a TAGFLOW_TAG(identifier, "name", N|V|R) entry: {line!r}'
            )
        elements.append(Element(*match.groups()))
    if not elements:
        raise ValueError(f"{path}: no TAGFLOW_TAG entries")
    return elements


def element_methods(elements: list[Element]) -> list[str]:
    lines = []
    for e in elements:
        if e.void:
            lines.append(f"    def {e.method}(self, {_ATTRS}) -> Written: ...")
        else:
            lines += [
                "    @overload",
                f"    def {e.method}(self, {_ATTRS}) -> Element: ...",
                "    @overload",
                f"    def {e.method}(self, text: Text, /, {_ATTRS}) -> Written: ...",
            ]
    return lines


def render_stub(table: Path = TABLE, template: Path = TEMPLATE) -> str:
    lines = template.read_text().splitlines()
    if lines.count(MARKER) != 1:
        raise ValueError(f"{template}: needs the line {MARKER} exactly once")
    at = lines.index(MARKER)
    return "\n".join(lines[:at] + element_methods(read_table(table)) + lines[at + 1 :]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=STUB, help=f"default: {STUB}")
    args = parser.parse_args(argv)
    args.output.write_text(render_stub())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
