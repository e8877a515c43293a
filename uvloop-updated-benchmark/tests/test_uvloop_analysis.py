"""Ratios and verdicts computed from results (pure functions)."""

from __future__ import annotations

import math

from uvloop_bench import analysis as an

from lab.stats import geometric_mean


def test_uvloop_original_overall_is_a_ratio_of_means() -> None:
    pairs = list(an.ORIGINAL.values())
    assert round(an.ratio_of_means(pairs), 2) == an.ORIGINAL_OVERALL
    assert round(geometric_mean(u / a for a, u in pairs), 2) == 1.51


def test_uvloop_overall_without_cells_is_none_not_nan() -> None:
    o = an.overall({"grid": []}, "3.11.7")
    assert o["cells"] == 0 and o["geomean"] is None


def _cell(py: str, loop: str, api: str, size: int, med: float, lo: float, hi: float) -> dict:
    return {
        "key": {"python": py, "loop": loop, "api": api, "size": size},
        "ok": True,
        "error": None,
        "stats": {"req_per_s": {"median": med, "min": lo, "max": hi}},
    }


def _results(asyncio_sockets: float, uv_sockets: float, overlap: bool = False) -> dict:
    grid = []
    for size in an.SIZES:
        spread = 0.3 if overlap else 0.01
        grid.append(
            _cell("3.13", "asyncio", "sockets", size, asyncio_sockets,
                  asyncio_sockets * (1 - spread), asyncio_sockets * (1 + spread))
        )  # fmt: skip
        grid.append(
            _cell("3.13", "uvloop", "sockets", size, uv_sockets,
                  uv_sockets * (1 - spread), uv_sockets * (1 + spread))
        )  # fmt: skip
        for api in ("streams", "protocol"):
            grid.append(_cell("3.13", "asyncio", api, size, 100, 99, 101))
            grid.append(_cell("3.13", "uvloop", api, size, 200, 199, 201))
    return {"grid": grid, "pythons": [{"ok": True, "version": "3.13"}]}


def test_uvloop_sockets_verdict_yes_no_and_overlap() -> None:
    assert an.sockets_verdict(_results(100, 70), "3.13")["answer"] == "yes, at every size"
    assert an.sockets_verdict(_results(100, 130), "3.13")["answer"].startswith("no: uvloop")
    tie = an.sockets_verdict(_results(100, 95, overlap=True), "3.13")
    assert tie["answer"] == "no"
    assert {p["winner"] for p in tie["per_size"]} == {"tie"}
    assert an.sockets_verdict({"grid": []}, "3.13")["answer"] == "not measured"


def test_uvloop_overall_and_verdict_text() -> None:
    res = _results(100, 50)
    o = an.overall(res, "3.13")
    assert o["cells"] == 9
    assert math.isclose(o["geomean"], (0.5**3 * 2**6) ** (1 / 9))
    assert math.isclose(o["ratio_of_means"], (50 * 3 + 200 * 6) / (100 * 9))
    text = "\n".join(an.verdicts(res))
    assert "Does asyncio beat uvloop at sockets on Python 3.13? Yes, at every size." in text
    assert f"{o['geomean']:.2f}x" in text


def test_uvloop_failed_cells_are_left_out_and_shown() -> None:
    res = _results(100, 50)
    res["grid"][0]["ok"] = False
    res["grid"][0]["error"] = "server died"
    assert an.overall(res, "3.13")["cells"] == 8
    assert "failed" in an.grid_table(res, "3.13")


def test_uvloop_sock_recv_findings_read_counters() -> None:
    res = _results(100, 50)
    res["grid"][0]["stats"]["server_cpu_us_per_req"] = {"median": 30.0, "min": 29, "max": 31}
    res["grid"][1]["stats"]["server_cpu_us_per_req"] = {"median": 20.0, "min": 19, "max": 21}
    res["sock_recv"] = []
    for loop, api, cpu, counters in (
        ("asyncio", "sockets-eager", 31.0, {"immediate": 1, "waited": 99}),
        ("asyncio", "sockets-wait", 25.0, None),
        ("uvloop", "sockets-eager", 21.0, {"immediate": 0, "waited": 100}),
        ("uvloop", "sockets-wait", 20.0, None),
    ):
        cell = _cell("3.13", loop, api, 1000, 100, 99, 101)
        cell["key"]["depth"] = 1
        cell["stats"]["server_cpu_us_per_req"] = {"median": cpu, "min": cpu, "max": cpu}
        cell["extra"] = {"recv_counters": counters} if counters else {}
        res["sock_recv"].append(cell)
    (f,) = an.sock_recv_findings(res)
    assert (f["python"], f["size"], f["depth"]) == ("3.13", 1000, 1)
    assert f["asyncio sockets-eager"]["hit_rate"] == 0.01
    assert f["asyncio sockets"]["cpu_us"] == 30.0
    (text,) = an.sock_recv_text([f])
    assert "found data 1 % of the time" in text and "cannot make asyncio faster" in text


def test_uvloop_original_uvloop_rows_compare_within_one_python() -> None:
    res = _results(100, 150)
    old = _cell("3.13", "uvloop", "sockets", 1000, 60, 59, 61)
    old["key"]["uvloop"] = "0.21.0"
    res["uvloop021"] = [old]
    (row,) = an.original_uvloop(res)
    assert row["ratio_021"] == 0.6 and row["ratio_new"] == 1.5
    assert row["original_ratio"] == an.original_ratios()[("sockets", 1000)]
    assert any("uvloop 0.21.0" in line and "0.60x" in line for line in an.verdicts(res))
