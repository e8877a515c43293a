"""What is checked on a built extension before it ships: read from the file, not assumed.

* it exports ``PyInit_<leaf>`` for the name it is shipped under (else ``import`` fails with
  "dynamic module does not define module export function");
* it does not need libpython (``DT_NEEDED``): an extension gets the interpreter's symbols from
  the process, and a libpython dependency breaks on statically linked Pythons (most of them:
  manylinux, python-build-standalone, uv's) or loads a second interpreter;
* its machine matches the wheel's platform tag;
* no package directory or ``.py`` module in the wheel has its import name (one of the two
  would never be imported).

The ELF file is read with pyelftools (the dynamic section and the dynamic symbol table).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hatchling_native.core import NativeBuildError

#: e_machine of each wheel platform architecture (the part after ``linux_``/``musllinux_1_2_``).
MACHINES = {
    "x86_64": "EM_X86_64",
    "i686": "EM_386",
    "aarch64": "EM_AARCH64",
    "armv7l": "EM_ARM",
    "ppc64le": "EM_PPC64",
    "s390x": "EM_S390",
    "riscv64": "EM_RISCV",
}

_LIBPYTHON = re.compile(r"libpython\d+(\.\d+)?[a-z]*\.so(\.[\d.]+)?")
_MODULE_FILE = re.compile(r"([A-Za-z_]\w*)(\.(?:cpython|pypy|graalpy)[^./]*|\.abi3)?\.so")


@dataclass(frozen=True)
class ElfInfo:
    machine: str  # e.g. EM_X86_64
    needed: tuple[str, ...]  # DT_NEEDED entries
    pyinit: tuple[str, ...]  # names of the exported, defined PyInit_* functions (without prefix)


def module_leaf(filename: str) -> tuple[str, bool] | None:
    """``_core.cpython-311-x86_64-linux-gnu.so`` -> ("_core", True); ``m.so`` -> ("m", False).

    None for a file Python would not import as a module (``libfoo.so.1``, ``.dylib``).
    The flag says whether the name carries an interpreter tag (then it must be an extension).
    """
    m = _MODULE_FILE.fullmatch(filename)
    if not m:
        return None
    return m.group(1), m.group(2) is not None


def read_elf(path: Path) -> ElfInfo | None:
    """The facts the checks need, or None when the file is not ELF (e.g. a Mach-O on macOS)."""
    with path.open("rb") as f:
        if f.read(4) != b"\x7fELF":
            return None
    try:
        from elftools.common.exceptions import ELFError
        from elftools.elf.dynamic import DynamicSection
        from elftools.elf.elffile import ELFFile
        from elftools.elf.sections import SymbolTableSection
    except ImportError:
        raise NativeBuildError(
            'pyelftools is missing from the build environment: add "pyelftools==0.33" to'
            " [build-system] requires (hatchling-native depends on it; a hook loaded through"
            " Hatch's `custom` hook does not bring its dependencies)"
        ) from None
    needed: list[str] = []
    pyinit: list[str] = []
    try:
        with path.open("rb") as f:
            elf: Any = ELFFile(f)
            machine = str(elf["e_machine"])
            for section in elf.iter_sections():
                if isinstance(section, DynamicSection):
                    tags: list[Any] = list(section.iter_tags())  # .needed is set at run time
                    needed += [t.needed for t in tags if t.entry.d_tag == "DT_NEEDED"]
                if isinstance(section, SymbolTableSection) and section.name == ".dynsym":
                    for sym in section.iter_symbols():
                        if (
                            sym.name.startswith("PyInit_")
                            and sym["st_shndx"] != "SHN_UNDEF"
                            and sym["st_info"]["bind"] in ("STB_GLOBAL", "STB_WEAK")
                            and sym["st_other"]["visibility"] in ("STV_DEFAULT", "STV_PROTECTED")
                        ):
                            pyinit.append(sym.name[len("PyInit_") :])
    except ELFError as exc:
        raise NativeBuildError(f"{path.name} is not a readable ELF library: {exc}") from None
    return ElfInfo(machine, tuple(needed), tuple(sorted(set(pyinit))))


def platform_arch(platform_tag: str) -> str:
    """``linux_x86_64`` / ``musllinux_1_2_aarch64`` / ``manylinux_2_17_x86_64`` -> the arch."""
    m = re.fullmatch(r"(?:linux|(?:many|musl)linux_\d+_\d+)_(\w+)", platform_tag)
    return m.group(1) if m else ""


def libpython(info: ElfInfo) -> str | None:
    return next((n for n in info.needed if _LIBPYTHON.fullmatch(n)), None)


def package_collisions(wheel_path: str, shipped: Iterable[str]) -> list[str]:
    """Files in the wheel that take the import name of the extension at ``wheel_path``.

    A package directory (``<name>/__init__.py``) wins over an extension module in the same
    folder, and an extension wins over ``<name>.py``: either way one of them is dead code.
    """
    folder, _, filename = wheel_path.rpartition("/")
    leaf = module_leaf(filename)
    if leaf is None:
        return []
    prefix = f"{folder}/" if folder else ""
    name = leaf[0]
    clashes = {f"{prefix}{name}/__init__.py", f"{prefix}{name}/__init__.pyc", f"{prefix}{name}.py"}
    return sorted(p for p in set(shipped) if p in clashes)
