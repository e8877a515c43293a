"""The parity suite's judgement (parity/harness.py): how wheels are compared, which outcomes
are errors, and that the fixtures on disk are what the harness expects. The suite itself
builds real wheels in `lab run hatchling-pyo3-plugin`; one real fixture is built end to end in
test_hatchling_native.py (test_hn_parity_fixture_end_to_end)."""

from __future__ import annotations

import copy
import subprocess
import sysconfig
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest

from lab.experiment import Experiment

exp = Experiment(Path(__file__).resolve().parents[1].name).load()
parity = exp.parity
EXT = sysconfig.get_config_var("EXT_SUFFIX")
FIXTURES = {fx.name: fx for fx in parity.FIXTURES}


def make_wheel(path: Path, names: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name in names:
            zf.writestr(name, b"")
    return path


def test_file_lists_are_normalised(tmp_path: Path) -> None:
    wheel = make_wheel(
        tmp_path / "parity_mixed-0.1.0-cp311-cp311-linux_x86_64.whl",
        [
            f"parity_mixed/parity_mixed{EXT}",
            "parity_mixed/__init__.py",
            "parity_mixed-0.1.0.dist-info/RECORD",
            "parity_ffi.abi3.so",
        ],
    )
    assert parity.normalised_files(wheel) == [
        "parity_ffi.abi3.so",  # the abi3 suffix is the same for every interpreter: kept
        "parity_mixed/__init__.py",
        "parity_mixed/parity_mixed{ext}",
        "{dist-info}/RECORD",
    ]
    assert parity.wheel_tag(wheel) == "cp311-cp311-linux_x86_64"


def works(files: list[str], **extra: Any) -> dict[str, Any]:
    behaviour = {"add": 5, "layout": "mixed", "overflow": "OverflowError", "double": 42}
    return {"outcome": parity.WORKS, "tag": "cp311-cp311-linux_x86_64", "files": files,
            "behaviour": behaviour, **extra}  # fmt: skip


def entry(fx: Any, peer: dict[str, Any], ours: dict[str, Any]) -> dict[str, Any]:
    diffs = parity.differences(fx, peer, ours)
    e = {"tools": {"peer": peer, "ours": ours}}
    e["differences"] = [{"what": d, "reason": parity.explanation(fx.name, d)} for d in diffs]
    e["problems"] = parity.problems(fx, e)
    return e


def test_identical_wheels_have_no_difference_and_no_problem() -> None:
    files = ["parity_mixed/__init__.py", "parity_mixed/parity_mixed{ext}"]
    e = entry(FIXTURES["mixed"], works(files), works(files))
    assert e["differences"] == [] and e["problems"] == []


def test_every_kind_of_difference_is_found_and_an_unexplained_one_is_a_problem() -> None:
    fx = FIXTURES["mixed"]
    peer = works(["parity_mixed/__init__.py", "parity_mixed/parity_mixed{ext}"], sdist="works")
    ours = copy.deepcopy(peer)
    ours["files"] = ["parity_mixed/__init__.py", "parity_mixed{ext}"]  # the module moved out
    ours["tag"] = "py3-none-any"
    ours["behaviour"]["double"] = 41
    ours["sdist"] = "wheel from sdist fails: error: no Cargo.toml"
    e = entry(fx, peer, ours)
    assert [d["what"] for d in e["differences"]] == [
        "tag: maturin cp311-cp311-linux_x86_64, ours py3-none-any",
        "file only in maturin: parity_mixed/parity_mixed{ext}",
        "file only in ours: parity_mixed{ext}",
        "behaviour: maturin {'add': 5, 'layout': 'mixed', 'overflow': 'OverflowError',"
        " 'double': 42}, ours {'add': 5, 'layout': 'mixed', 'overflow': 'OverflowError',"
        " 'double': 41}",
        "sdist -> wheel: maturin works, ours wheel from sdist fails: error: no Cargo.toml",
    ]
    assert all(d["reason"] is None for d in e["differences"])
    problems = e["problems"]
    assert sum(p.startswith("unexplained difference:") for p in problems) == 5
    assert any(p.startswith("ours: behaves as") for p in problems)
    assert any(p.startswith("ours: sdist round trip:") for p in problems)


def test_an_explained_difference_carries_its_reason_and_is_no_problem() -> None:
    fx = FIXTURES["pure"]
    sbom = "{dist-info}/sboms/parity-pure.cyclonedx.json"
    peer = works(["parity_pure{ext}", sbom])
    peer["behaviour"]["layout"] = "pure"
    del peer["behaviour"]["double"]
    ours = works(["parity_pure{ext}"], behaviour=peer["behaviour"])
    e = entry(fx, peer, ours)
    assert [d["what"] for d in e["differences"]] == [f"file only in maturin: {sbom}"]
    assert "SBOM" in e["differences"][0]["reason"]
    assert e["problems"] == []


def test_ours_shipping_the_wrong_name_is_a_regression() -> None:
    """wrong-name must be refused by ours; a wheel from ours is an error, even one that
    imports, and a refusal for another reason is too."""
    fx = FIXTURES["wrong-name"]
    peer = {"outcome": parity.UNIMPORTABLE, "error": "ImportError: … PyInit_parity_wrong"}
    shipped = {"outcome": parity.UNIMPORTABLE, "error": "ImportError"}
    e = entry(fx, peer, shipped)
    assert any("ours: expected 'refused', got 'does not import'" in p for p in e["problems"])
    assert e["differences"] == []  # same outcome: nothing to explain, but still an error

    other = {"outcome": parity.REFUSED, "error": "cargo: not found", "refused_with": False}
    e = entry(fx, peer, other)
    assert any(p.startswith("ours: refused, but not with") for p in e["problems"])
    right = {"outcome": parity.REFUSED, "error": "…", "refused_with": True}
    e = entry(fx, peer, right)
    assert e["problems"] == [], e["problems"]  # the difference is explained
    assert e["differences"][0]["reason"]


def test_refusal_line_is_the_backends_not_uvs() -> None:
    stderr = (
        "  × Failed to build `/tmp/x`\n  ├─▶ The build backend returned an error\n"
        "hatchling-native: error: module 'parity_wrong' … exports PyInit_parity_right\n"
        "  ╰─▶ Call to `hatchling.build.build_wheel` failed (exit status: 1)\n"
        "  hint: Build failures usually indicate a problem with the package\n"
    )
    assert parity.last_line(stderr).startswith("hatchling-native: error: module")


def test_the_fixtures_on_disk_match_the_table(tmp_path: Path) -> None:
    """Every fixture has a project with both tools' settings; prepare() gives each copy its
    tool's [build-system] and a real git repository for the git dependency."""
    on_disk = {
        str(p.parent.relative_to(parity.FIXTURES_DIR))
        for p in parity.FIXTURES_DIR.glob("**/pyproject.toml")
    }
    assert on_disk == {fx.root for fx in parity.FIXTURES}
    copies = parity.prepare(tmp_path / "work")
    for fx in parity.FIXTURES:
        peer = tomllib.loads((copies["peer"] / fx.root / "pyproject.toml").read_text())
        ours = tomllib.loads((copies["ours"] / fx.root / "pyproject.toml").read_text())
        assert ours["build-system"]["build-backend"] == "hatchling.build"
        assert parity.OURS in ours["build-system"]["requires"]
        backend = {"maturin": "maturin", "scikit-build-core": "scikit_build_core.build"}
        assert peer["build-system"]["build-backend"] == backend[fx.peer]
        section = "maturin" if fx.peer == "maturin" else "scikit-build"
        assert section in peer["tool"] and "hatch" in ours["tool"], fx.name
        assert fx.expect.keys() == {"peer", "ours"}
    cargo = (copies["ours"] / "git-dep" / "project" / "Cargo.toml").read_text()
    assert "{GIT_URL}" not in cargo and f"file://{tmp_path}/work/gitdep-repo" in cargo
    log = subprocess.run(
        ["git", "-C", str(tmp_path / "work" / "gitdep-repo"), "log", "--oneline"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert log.stdout.strip()


def test_cold_builds_start_from_nothing(tmp_path: Path) -> None:
    project = tmp_path / "p"
    for path in ("target/release/x", "rust/target/debug/y", "build/cp311/z", "src/lib.rs"):
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text("")
    parity.clean_outputs(project)
    assert sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()) == [
        "src/lib.rs"
    ]


@pytest.mark.parametrize("drop", ["parity", "fixtures"])
def test_a_run_without_the_parity_suite_is_an_error(stored: dict[str, Any], drop: str) -> None:
    if drop == "parity":
        del stored["parity"]
    else:
        stored["parity"]["fixtures"] = {}
    assert "parity: not measured" in exp.errors(stored)


def test_a_stored_unexplained_difference_fails_the_run(stored: dict[str, Any]) -> None:
    name, e = next(iter(stored["parity"]["fixtures"].items()))
    e["problems"].append("unexplained difference: file only in ours: stray.txt")
    errs = exp.errors(stored)
    assert f"parity {name}: unexplained difference: file only in ours: stray.txt" in errs


def test_a_missing_timed_build_fails_the_run(stored: dict[str, Any]) -> None:
    e = stored["parity"]["fixtures"]["mixed-src"]
    e["tools"]["ours"]["warm_s"].pop()
    assert any(
        err.startswith("parity mixed-src: ours") and "warm builds" in err
        for err in exp.errors(stored)
    )


def test_published_parity_is_clean_and_complete(stored: dict[str, Any]) -> None:
    suite = stored["parity"]
    assert set(suite["fixtures"]) == set(FIXTURES)
    assert suite["cold_runs"] >= 2 and suite["warm_runs"] >= 2 and suite["sdist"]
    assert exp.parity_errors(suite) == []
    for e in suite["fixtures"].values():
        assert all(d["reason"] for d in e["differences"])


def test_the_lone_crate_package_difference_is_explained_only_for_lone_crates() -> None:
    """maturin's package around a lone crate is expected where there is no stub; for `pure`
    (which has one) ours must ship the same package, so there it is unexplained."""
    diff = "file only in maturin: parity_pure/__init__.py"
    assert parity.explanation("pure", diff) is None
    assert parity.explanation("workspace", "file only in maturin: parity_workspace/__init__.py")
    assert parity.explanation("mixed", "file only in ours: parity_mixed{ext}") is None
