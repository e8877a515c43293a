"""`make mutants`: hand-made bugs that the test suite must catch.

Each mutant is one textual change to one file. It must match exactly once (a stale mutant is
an error, never a silent pass). The mutants are applied one at a time to a scratch copy of the
checkout (tracked and new files as they are in the work tree), and the tests that should catch
each one run there, first without the mutant (they must pass: otherwise a failure proves
nothing) and then with it (they must fail). A mutant that survives is a hole in the suite:
`make mutants` names it and exits 1.

Python tests run with the checkout's own venv, the scratch copy first on the import path; C++
tests build their target in the scratch copy (sanitizer build where the bug is a memory error).

    uv run --frozen python tests/mutants.py            # every mutant
    uv run --frozen python tests/mutants.py --list     # what they are
    uv run --frozen python tests/mutants.py geomean    # those whose name contains "geomean"
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    old: str
    new: str
    #: ("pytest", args...) or ("ctest", preset, target, regex)
    check: tuple[str, ...]


MUTANTS = [
    Mutant(
        "col-not-void",
        "tagflow-reimplementation/include/tagflow/tags.def",
        'TAGFLOW_TAG(col, "col", V)',
        'TAGFLOW_TAG(col, "col", N)',
        ("ctest", "release", "tagflow_tests", r"^TagflowDocument\."),
    ),
    Mutant(
        "tagflow-foreign-script-stays-raw",
        "tagflow-reimplementation/src/document.cpp",
        "if (kind == ElementKind::kRawText) kind = ElementKind::kNormal;",
        "",
        ("ctest", "release", "tagflow_tests", r"^TagflowContexts\."),
    ),
    Mutant(
        "tagflow-script-allows-comment-open",
        "tagflow-reimplementation/src/document.cpp",
        'std::memcmp(d + i, "<!--", 4) == 0',
        'std::memcmp(d + i, "<!--", 4) == 0 && false',
        ("ctest", "release", "tagflow_tests", r"^TagflowContexts\."),
    ),
    Mutant(
        "tagflow-pre-newline-not-doubled",
        "tagflow-reimplementation/src/document.cpp",
        "if ((top.flags & kLfFresh) != 0 && s[0] == '\\n') buf_.push_back('\\n');",
        "",
        ("ctest", "release", "tagflow_tests", r"^TagflowContexts\."),
    ),
    Mutant(
        "echoload-skips-last-byte",
        "uvloop-updated-benchmark/cpp/src/loadgen.cpp",
        "std::memcmp(p + done, want, static_cast<std::size_t>(len))",
        "std::memcmp(p + done, want, static_cast<std::size_t>(len) - 1)",
        ("ctest", "release", "echo_tests", r"^Loadgen\."),
    ),
    Mutant(
        "echoload-uring-recv-not-rearmed",
        "uvloop-updated-benchmark/cpp/src/loadgen.cpp",
        "if (!(cqe.flags & IORING_CQE_F_MORE)) arm_recv(c);",
        "",
        ("ctest", "release", "echo_tests", r"^Loadgen\.MoreData"),
    ),
    Mutant(
        "echoload-stall-timeout-ignored",
        "uvloop-updated-benchmark/cpp/src/loadgen.cpp",
        "now - c->busy_since > stall_ns_",
        "now - c->busy_since > 10 * stall_ns_",
        ("ctest", "release", "echo_tests", r"^Failures\.(Silent|ServerPaused)"),
    ),
    Mutant(
        "echoload-zero-requests-pass",
        "uvloop-updated-benchmark/cpp/src/loadgen.cpp",
        "  if (r.requests == 0) {",
        "  if (false) {",
        ("ctest", "release", "echo_tests", r"^Failures\.SilentServerInAShortWindow"),
    ),
    Mutant(
        "echoload-no-trailing-gap",
        "uvloop-updated-benchmark/cpp/src/loadgen.cpp",
        "if (outstanding_ > 0) record_gap(end);",
        "",
        ("ctest", "release", "echo_tests", r"^Failures\.SilenceUntil"),
    ),
    Mutant(
        "echoload-unfinished-not-counted",
        "uvloop-updated-benchmark/cpp/src/loadgen.cpp",
        "for (std::uint64_t k = c->completed; due(*c, k) < end; ++k)",
        "for (std::uint64_t k = c->completed; false; ++k)",
        ("ctest", "release", "echo_tests", r"^Failures\.OpenLoop"),
    ),
    Mutant(
        "echoload-thread-cpu-whole-run",
        "uvloop-updated-benchmark/cpp/src/loadgen.cpp",
        "stats.cpu_s = clock1.cpu_s - clock0_.cpu_s;",
        "stats.cpu_s = clock1.cpu_s;",
        ("ctest", "release", "echo_tests", r"^Loadgen\.Threads"),
    ),
    Mutant(
        "echoload-window-includes-warmup",
        "uvloop-updated-benchmark/cpp/src/loadgen.cpp",
        "  r.window_from_ns = from;",
        "  r.window_from_ns = t0;",
        ("ctest", "release", "echo_tests", r"^Loadgen\.TimedRun"),
    ),
    Mutant(
        "usercpu-kernel-samples-as-user",
        "uvloop-updated-benchmark/uvloop_bench/usercpu.py",
        "kernel = sum(1 for ip in inside if ip >= KERNEL_START)",
        "kernel = sum(1 for ip in inside if ip < KERNEL_START)",
        (
            "pytest",
            "uvloop-updated-benchmark/tests/test_uvloop_usercpu.py",
            "-k",
            "not floor and not no_perf",
        ),
    ),
    Mutant(
        "usercpu-samples-outside-the-window",
        "uvloop-updated-benchmark/uvloop_bench/usercpu.py",
        "inside = [ip for t, ip in taken if start <= t < end]",
        "inside = [ip for t, ip in taken if start <= t]",
        (
            "pytest",
            "uvloop-updated-benchmark/tests/test_uvloop_usercpu.py",
            "-k",
            "not floor and not no_perf",
        ),
    ),
    Mutant(
        "echoload-http-body-skips-last-byte",
        "uvloop-updated-benchmark/cpp/src/http.cpp",
        "std::memcmp(p, expected_ + body_off_, take) != 0",
        "std::memcmp(p, expected_ + body_off_, take - 1) != 0",
        ("ctest", "release", "echo_tests", r"^Http\.WrongBody"),
    ),
    Mutant(
        "echoload-connect-deadline-10x",
        "uvloop-updated-benchmark/cpp/src/net.cpp",
        "start + static_cast<std::int64_t>(timeout_s * 1e9)",
        "start + static_cast<std::int64_t>(timeout_s * 1e10)",
        ("ctest", "release", "echo_tests", r"^Failures\.ServerThatNeverAccepts"),
    ),
    Mutant(
        "echoload-ipv4-only",
        "uvloop-updated-benchmark/cpp/src/net.cpp",
        "hints.ai_family = AF_UNSPEC;",
        "hints.ai_family = AF_INET;",
        ("ctest", "release", "echo_tests", r"^Loadgen\.Host"),
    ),
    Mutant(
        "escape-buffer-n5",
        "tagflow-reimplementation/src/escape.cpp",
        "out.prepare(n * 6 + 8)",
        "out.prepare(n * 5 + 8)",
        ("ctest", "asan", "tagflow_tests", r"^TagflowEscape\."),
    ),
    Mutant(
        "geomean-is-arithmetic",
        "lab/stats.py",
        "return statistics.geometric_mean(vals)",
        "return statistics.fmean(vals)",
        ("pytest", "tests/test_lab_toolkit.py"),
    ),
    Mutant(
        "fix-ignores-cause-and-context",
        "dramatiq-memory-leak/fix/src/dramatiq_async_exc_fix/__init__.py",
        "        stack.append(exc.__cause__)\n        stack.append(exc.__context__)\n",
        "",
        ("pytest", "dramatiq-memory-leak/fix/tests/test_in_envs.py", "-k", "suite_in_env"),
    ),
    Mutant(
        "abi3-minimum-3.8",
        "hatchling-pyo3-plugin/src/hatchling_native/core.py",
        "int(m.group(1)) < 7",
        "int(m.group(1)) < 8",
        ("pytest", "hatchling-pyo3-plugin/tests/test_hatchling_native.py", "-k", "tags_names"),
    ),
    Mutant(
        "atomic-write-in-place",
        "lab/results.py",
        'fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")',
        "fd, tmp = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), str(path)",
        ("pytest", "tests/test_lab_toolkit.py", "-k", "atomic"),
    ),
    Mutant(
        "no-pdeathsig",
        "lab/procs.py",
        "_libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)",
        "_libc.prctl(_PR_SET_PDEATHSIG, 0)",
        ("pytest", "tests/test_lab_toolkit.py", "-k", "dies_with_its_parent"),
    ),
]


def copy_checkout(dest: Path) -> None:
    """Tracked and new (not ignored) files of the work tree, as they are now."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in filter(None, listed):
        rel = raw.decode()
        src = ROOT / rel
        if not src.exists() and not src.is_symlink():
            continue  # deleted in the work tree
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel, follow_symlinks=False)


def python_path(scratch: Path) -> str:
    """The scratch copies of the packages the venv has installed in editable mode."""
    roots = [scratch]
    site = Path(sys.prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    for pth in (site / "site-packages").glob("*.pth"):
        for line in pth.read_text().splitlines():
            path = Path(line.strip())
            if path.is_absolute() and path.is_relative_to(ROOT):
                roots.append(scratch / path.relative_to(ROOT))
    return os.pathsep.join(str(r) for r in roots)


class Scratch:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.configured: set[str] = set()

    def run(self, args: list[str], env: dict[str, str] | None = None) -> tuple[bool, str]:
        proc = subprocess.run(
            args, cwd=self.folder, env=env, capture_output=True, text=True, timeout=1800
        )
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-12:])
        return proc.returncode == 0, tail

    def check(self, check: tuple[str, ...]) -> tuple[bool, str]:
        """Run one mutant's tests; True when they pass."""
        if check[0] == "pytest":
            env = dict(os.environ, PYTHONPATH=python_path(self.folder))
            env.pop("LAB_ROOT", None)
            args = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"]
            return self.run([*args, *check[1:]], env)
        _, preset, target, regex = check
        if preset not in self.configured:
            ok, out = self.run(["cmake", "--preset", preset])
            if not ok:
                raise RuntimeError(f"cmake --preset {preset} failed in the scratch copy:\n{out}")
            self.configured.add(preset)
        ok, out = self.run(["cmake", "--build", "--preset", preset, "--target", target])
        if not ok:
            return False, "build failed:\n" + out
        return self.run(["ctest", "--preset", preset, "-R", regex])


def apply(folder: Path, m: Mutant) -> str:
    path = folder / m.path
    text = path.read_text()
    if text.count(m.old) != 1:
        raise RuntimeError(
            f"mutant {m.name}: {m.path} contains its text {text.count(m.old)} times, not once "
            "(the code moved on: update the mutant)"
        )
    path.write_text(text.replace(m.old, m.new))
    return text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", help="only mutants whose name contains one of these")
    p.add_argument("--list", action="store_true", help="list the mutants and exit")
    p.add_argument("--keep", action="store_true", help="keep the scratch copy (prints where)")
    args = p.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.names or any(n in m.name for n in args.names)]
    if args.list or not chosen:
        for m in MUTANTS:
            print(f"{m.name:32} {m.path}")
        return 0 if chosen else 2
    folder = Path(tempfile.mkdtemp(prefix="mutants-"))
    survived, broken = [], []
    try:
        copy_checkout(folder)
        scratch = Scratch(folder)
        for i, m in enumerate(chosen, 1):
            t0 = time.monotonic()
            print(f"[{i}/{len(chosen)}] {m.name}: ", end="", flush=True)
            ok, out = scratch.check(m.check)
            if not ok:
                print("its tests fail WITHOUT the mutant")
                print("    " + out.replace("\n", "\n    "))
                broken.append(m.name)
                continue
            original = apply(folder, m)
            try:
                ok, out = scratch.check(m.check)
            finally:
                (folder / m.path).write_text(original)
            if ok:
                print(f"SURVIVED ({time.monotonic() - t0:.0f} s)")
                survived.append(m.name)
            else:
                print(f"caught ({time.monotonic() - t0:.0f} s)")
    finally:
        if args.keep:
            print(f"scratch copy kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    caught = len(chosen) - len(survived) - len(broken)
    print(f"{caught} of {len(chosen)} mutants caught")
    if survived:
        print("survived (the suite misses these bugs): " + ", ".join(survived))
    if broken:
        print("not evidence (tests fail without the mutant): " + ", ".join(broken))
    return 1 if survived or broken else 0


if __name__ == "__main__":
    sys.exit(main())
