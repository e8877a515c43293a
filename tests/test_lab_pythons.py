"""lab pythons: mirror discovery, private apt options, configure flags, version pinning."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lab import pythons


def test_mirror_from_deb822_skips_security(tmp_path: Path) -> None:
    parts = tmp_path / "sources.list.d"
    parts.mkdir()
    (parts / "debian.sources").write_text(
        "Types: deb\n# a comment\nURIs: http://mirror.example/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\n"
        "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )
    m = pythons.system_mirror(tmp_path)
    assert m.uri == "http://mirror.example/debian"
    assert m.signed_by == "/usr/share/keyrings/debian-archive-keyring.gpg"
    assert m.origin.endswith("debian.sources")


def test_mirror_from_one_line_list(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text(
        "# deb http://old.example/debian bookworm main\n"
        "deb http://security.example/debian-security bookworm-security main\n"
        "deb [arch=amd64] https://other.example/debian bookworm main contrib\n"
    )
    assert pythons.system_mirror(tmp_path).uri == "https://other.example/debian"


def test_mirror_missing_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text("deb http://ppa.example/ubuntu jammy main\n")
    with pytest.raises(pythons.ProvisionError, match="no Debian archive mirror"):
        pythons.system_mirror(tmp_path)


def test_private_apt_never_uses_system_lists(tmp_path: Path) -> None:
    apt = pythons.PrivateApt(tmp_path, pythons.Mirror("http://m.example/debian", None, "x"))
    apt.write_config()
    text = apt.sources.read_text()
    assert "Types: deb-src" in text and "Suites: trixie" in text
    assert "URIs: http://m.example/debian" in text
    opts = apt.options()
    values = dict(o.split("=", 1) for o in opts if o != "-o")
    assert values["Dir::Etc::sourcelist"] == str(apt.sources)
    assert values["Dir::Etc::sourceparts"] == "/dev/null"
    assert values["Dir::State::Lists"].startswith(str(tmp_path))
    assert values["Dir::Cache"].startswith(str(tmp_path))
    assert not any("/var/lib/apt" in v or "/etc/apt" in v for v in values.values())


def test_configure_args_keep_performance_flags_drop_paths() -> None:
    ref = (
        "'--prefix=/root/.pyenv/versions/3.11.7' '--enable-shared' "
        "'--libdir=/root/.pyenv/versions/3.11.7/lib' '--enable-optimizations' '--with-lto' "
        "'LDFLAGS=-L/root/.pyenv/versions/3.11.7/lib -Wl,-rpath,/root/.pyenv/versions/3.11.7/lib' "
        "'CPPFLAGS=-I/root/.pyenv/versions/3.11.7/include'"
    )
    args = pythons.configure_args(Path("/cache/pythons/3.13"), ref)
    assert args[0] == "--prefix=/cache/pythons/3.13"
    assert "--enable-shared" in args
    assert "--enable-optimizations" in args and "--with-lto" in args
    assert args[-1] == "LDFLAGS=-Wl,-rpath,/cache/pythons/3.13/lib"
    assert not any(".pyenv" in a for a in args)


def test_configure_args_match_this_interpreter() -> None:
    import sysconfig

    args = pythons.configure_args(Path("/p"))
    ours = sysconfig.get_config_var("CONFIG_ARGS") or ""
    assert ("--enable-shared" in args) == ("--enable-shared" in ours)
    assert ("--enable-optimizations" in args) == ("--enable-optimizations" in ours)


def test_debian_version_order() -> None:
    order = ["3.13.5-2~bpo12", "3.13.5-2", "3.13.5-2+deb13u1", "3.13.5-10", "3.13.10-1", "1:3.0-1"]
    assert sorted(reversed(order), key=pythons._DebVersion) == order


def test_provisioned_finds_only_complete_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    base = tmp_path / "experiments" / "pythons"
    exe = base / "3.13" / "bin" / "python3.13"
    exe.parent.mkdir(parents=True)
    exe.write_text("")
    (base / "work-3.13").mkdir()  # the build directory is not an interpreter
    assert pythons.provisioned() == []  # no PROVENANCE.json yet: not finished
    (base / "3.13" / "PROVENANCE.json").write_text("{}")
    assert pythons.provisioned() == [str(exe)]
    assert pythons.default() == [sys.executable, str(exe)]


def test_provision_list_and_bad_jobs(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert pythons.provision(["--list"]) == 0
    assert capsys.readouterr().out.split() == [sys.executable]
    assert pythons.provision(["--jobs", "0"]) == 2
    assert "--jobs" in capsys.readouterr().err


def test_pgo_is_the_default_flavour_and_plain_lives_apart(tmp_path: Path, monkeypatch) -> None:
    args = pythons.configure_args(Path("/p"), "'--enable-shared'", pgo=True)
    assert "--enable-optimizations" in args and "--with-lto" in args
    assert "--enable-optimizations" not in pythons.configure_args(Path("/p"), "'--enable-shared'")
    monkeypatch.setattr(pythons, "pythons_dir", lambda: tmp_path)
    for flavour in pythons.FLAVOURS:
        exe = pythons.flavour_dir(flavour) / "bin" / pythons.executable_name(flavour)
        exe.parent.mkdir(parents=True)
        exe.write_text("")
    assert pythons.provisioned() == []  # no PROVENANCE.json: a half-built interpreter
    for flavour in pythons.FLAVOURS:
        (pythons.flavour_dir(flavour) / "PROVENANCE.json").write_text('{"flavour": "x"}')
    assert pythons.provisioned() == [
        str(tmp_path / pythons.VERSION / "bin" / f"python{pythons.VERSION}")
    ]
    assert pythons.built(
        "plain",
    ).endswith(f"{pythons.VERSION}-plain/bin/python{pythons.VERSION}")
    with pytest.raises(ValueError, match="unknown build flavour"):
        pythons.flavour_dir("debug")


def test_free_threaded_flavour_is_built_apart_and_named_as_cpython_installs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = pythons.configure_args(Path("/p"), "'--enable-shared'", free_threaded=True)
    assert "--disable-gil" in args and "--enable-optimizations" not in args
    assert "--disable-gil" not in pythons.configure_args(Path("/p"), "'--enable-shared'")
    monkeypatch.setattr(pythons, "pythons_dir", lambda: tmp_path)
    assert pythons.free_threaded() is None
    exe = tmp_path / f"{pythons.VERSION}t" / "bin" / f"python{pythons.VERSION}t"
    exe.parent.mkdir(parents=True)
    exe.write_text("")
    (exe.parent.parent / "PROVENANCE.json").write_text('{"flavour": "ft"}')
    assert pythons.free_threaded() == str(exe)
    assert pythons.provisioned() == []  # `lab run` does not use it unless asked
    plan = pythons.BuildPlan(tmp_path, tmp_path, 1, False, pgo=False, free_threaded=True)
    assert plan.flavour == "ft"
    assert pythons.provision(["--plain", "--free-threaded"]) == 2
    assert "separate builds" in capsys.readouterr().err


def test_smoke_test_refuses_a_free_threaded_build_that_runs_with_the_gil() -> None:
    """The lab interpreter has a GIL: as a 'free-threaded' build it must be refused."""
    with pytest.raises(pythons.ProvisionError, match="runs with the GIL"):
        pythons.smoke_test(Path(sys.executable), free_threaded=True)
    assert pythons.smoke_test(Path(sys.executable))["gil_disabled"] in ("0", "None")


def test_elsewhere_takes_the_newest_pyenv_interpreter_that_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fake(version: str, prints: str, ok: bool = True) -> None:
        exe = tmp_path / "versions" / version / "bin" / "python3.12"
        exe.parent.mkdir(parents=True)
        exe.write_text(f"#!/bin/sh\necho {prints}\nexit {0 if ok else 1}\n")
        exe.chmod(0o755)

    fake("3.12.1", "3.12")
    fake("3.12.10", "3.12", ok=False)  # newest, but does not run
    fake("3.12.9", "3.12")
    fake("3.12.11", "3.11")  # says it is another version
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.setattr(pythons, "SYSTEM_BIN", tmp_path / "usr-bin")  # none from the system
    assert pythons.elsewhere("3.12") == str(tmp_path / "versions/3.12.9/bin/python3.12")
    assert pythons.elsewhere("3.99") is None
