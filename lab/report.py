"""Reports: the local one for working runs, the published one for tracked figures.

Two pages of the same shape, each built from stored records only (nothing is measured here):

* ``lab report`` (and the end of ``lab run``) writes ``runs/index.html`` and
  ``runs/SUMMARY.md`` from each experiment's latest good working run; they are ignored by
  git and only for the person who ran them;
* ``lab publish`` writes ``results/index.html``, ``results/SUMMARY.md``, the summary in the
  top README and the experiment's README sections, from each ``<experiment>/results/
  published.json``.

Pictures are linked as files, never embedded. Generated README parts sit between markers::

    <!-- lab:begin NAME -->
    ... generated, do not edit ...
    <!-- lab:end NAME -->
"""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt

from lab import results, tables
from lab.experiment import Experiment
from lab.paths import repo_root, results_dir, runs_root

_MARKER = re.compile(
    r"(<!-- lab:begin (?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- lab:end (?P=name) -->)", re.S
)
_IMAGE = re.compile(r"(?P<pre>!\[[^\]]*\]\()(?P<src>results/[^)\s]+)(?P<post>\))")


class ReportError(Exception):
    """An experiment's stored results could not be turned into report sections."""


@dataclass
class Entry:
    """One experiment in a report: its record (or why there is none) and where its files are."""

    exp: Experiment
    record: dict[str, Any] | None
    files: Path | None
    problem: str | None = None


def replace_sections(text: str, sections: dict[str, str]) -> tuple[str, list[str]]:
    """Replace the body of each marked section named in ``sections``; return text, names done."""
    done: list[str] = []

    def sub(m: re.Match[str]) -> str:
        name = m.group("name")
        if name not in sections:
            return m.group(0)
        done.append(name)
        body = sections[name].rstrip("\n") + "\n"
        return f"{m.group(1)}{body}{m.group(4)}"

    return _MARKER.sub(sub, text), done


def _when(record: dict[str, Any]) -> str:
    return str(record.get("finished") or record.get("started") or "?")[:16].replace("T", " ")


def noise_note(record: dict[str, Any]) -> str | None:
    """A sentence when the run was published although the machine was busy."""
    pub = record.get("published") or {}
    if not pub.get("noisy"):
        return None
    load = record.get("load") or {}
    return (
        f"Measured on a busy machine (other work used {load.get('other_per_core')} of each "
        f"core, above the {load.get('threshold_per_core')} limit); published with "
        "`--allow-noisy`: treat small differences with suspicion."
    )


def summary_markdown(entries: list[Entry]) -> str:
    rows = []
    for e in entries:
        name = f"[{e.exp.name}]({e.exp.name}/)"
        if e.record is None:
            rows.append([name, "-", "-", e.problem or "no results"])
            continue
        headline = "; ".join(f"{a}: {b}" for a, b in e.record.get("summary") or [])
        if noise_note(e.record):
            headline += " (busy machine)"
        rows.append([name, str(e.record.get("mode", "?")), _when(e.record), headline or "-"])
    return tables.markdown(["experiment", "mode", "measured (UTC)", "headline"], rows)


def environment_line(rec: dict[str, Any]) -> str:
    env = rec.get("environment") or {}
    py = env.get("lab_python") or {}
    mem = env.get("memory_bytes")
    mem_s = f"{mem / 2**30:.0f} GiB" if isinstance(mem, int) else "?"
    commit = (env.get("git") or {}).get("commit") or "?"
    load = rec.get("load") or {}
    other = load.get("other_per_core")
    load_s = f", other load {other} per core" if other is not None else ""
    return (
        f"{env.get('cpu_model', '?')} ({env.get('cpu_count', '?')} CPUs), {mem_s}, "
        f"{env.get('kernel', '?')}, Python {py.get('version', '?')}, "
        f"{rec.get('mode', '?')} mode, commit {commit[:10]}{load_s}"
    )


def sections(module: Any, rec: dict[str, Any]) -> dict[str, str]:
    fn = getattr(module, "readme_sections", None)
    if fn is None or rec.get("results") is None:
        return {}
    try:
        return dict(fn(rec["results"]))
    except Exception as exc:
        # Results stored by an older version of the experiment's code, or a bug in its
        # report: keep the README as it is and say which experiment and why.
        raise ReportError(
            f"{rec.get('experiment', '?')}: readme_sections() failed on run "
            f"{rec.get('stamp', '?')}: {type(exc).__name__}: {exc}"
        ) from exc


def _relink(markdown: str, files: Path, page_dir: Path) -> str:
    """Point ``results/NAME`` links at the files of this record, relative to the page."""

    def sub(m: re.Match[str]) -> str:
        target = files / m.group("src").removeprefix("results/")
        rel = os.path.relpath(target, page_dir)
        return f"{m.group('pre')}{rel}{m.group('post')}"

    return _IMAGE.sub(sub, markdown)


_CSS = """
body{font:15px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:.25em .6em;
vertical-align:top;text-align:left}th{background:#f3f3f3}img{max-width:100%}
.ok{color:#1a7f37}.failed{color:#cf222e}figure{margin:1em 0}figcaption{color:#666;font-size:.85em}
pre{background:#f6f8fa;padding:.6em;overflow:auto;font-size:.8em}section{margin-top:2.5em}
"""


def write_page(entries: list[Entry], out: Path, title: str) -> Path:
    """An HTML page: the summary, then each experiment's sections, pictures and environment."""
    page_dir = out.parent
    md = MarkdownIt("commonmark").enable("table")
    body = [f"<h1>{html.escape(title)}</h1>", md.render(summary_markdown(entries))]
    for e in entries:
        body.append(f'<section id="{e.exp.name}"><h2>{html.escape(e.exp.name)}</h2>')
        body.append(f"<p>{html.escape(e.exp.describe()['title'])}</p>")
        rec = e.record
        if rec is None or e.files is None:
            body.append(f"<p>{html.escape(e.problem or 'no results')}</p></section>")
            continue
        body.append(f"<p>{html.escape(rec.get('mode', '?'))} mode, measured {_when(rec)} UTC</p>")
        note = noise_note(rec)
        if note:
            body.append(f'<p class="failed">{html.escape(note)}</p>')
        try:
            parts = sections(e.exp.load(), rec)
        except ReportError as exc:
            parts = {}
            body.append(f'<p class="failed">{html.escape(str(exc))}</p>')
        shown: set[str] = set()
        for text in parts.values():
            shown.update(m.group("src").removeprefix("results/") for m in _IMAGE.finditer(text))
            body.append(md.render(_relink(text, e.files, page_dir)))
        links = []
        for name in rec.get("artifacts") or []:
            path = e.files / name
            rel = html.escape(os.path.relpath(path, page_dir))
            if path.suffix.lower() in (".png", ".svg") and name not in shown:
                body.append(
                    f'<figure><img alt="{html.escape(name)}" src="{rel}">'
                    f"<figcaption>{html.escape(name)}</figcaption></figure>"
                )
            elif path.suffix.lower() not in (".png", ".svg"):
                links.append(f'<li><a href="{rel}">{html.escape(name)}</a></li>')
        if links:
            body.append("<p>Files:</p><ul>" + "".join(links) + "</ul>")
        env = json.dumps({"environment": rec.get("environment"), "load": rec.get("load")}, indent=1)
        body.append(
            f"<details><summary>Environment: {html.escape(environment_line(rec))}</summary>"
            f"<pre>{html.escape(env)}</pre></details></section>"
        )
    page = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    results.atomic_write(out, page)
    return out


def write_summary(entries: list[Entry], out: Path, title: str, source: str) -> Path:
    parts = [f"# {title}", "", summary_markdown(entries), ""]
    for e in entries:
        if e.record and e.record.get("environment"):
            parts.append(f"- **{e.exp.name}**: {environment_line(e.record)}")
    parts += ["", f"Generated by `{source}`."]
    out.parent.mkdir(parents=True, exist_ok=True)
    results.atomic_write(out, "\n".join(parts) + "\n")
    return out


# -- the local report -----------------------------------------------------------------------


def local_entries(experiments: list[Experiment]) -> list[Entry]:
    entries = []
    for exp in experiments:
        try:
            found = results.latest_run(exp.name)
        except results.RecordError as exc:
            entries.append(Entry(exp, None, None, str(exc)))
            continue
        if found is None:
            entries.append(Entry(exp, None, None, "no good run yet (`lab run` it)"))
        else:
            entries.append(Entry(exp, found[1], found[0]))
    return entries


def build_local(experiments: list[Experiment]) -> list[str]:
    """The report of the last good working runs, under the ignored ``runs/`` folder."""
    entries = local_entries(experiments)
    page = write_page(entries, runs_root() / "index.html", "Experiments: your latest runs")
    summary = write_summary(
        entries, runs_root() / "SUMMARY.md", "Your latest runs (not published)", "lab report"
    )
    return [f"wrote {page}", f"wrote {summary}"]


# -- the published report -------------------------------------------------------------------


def published_entries(experiments: list[Experiment]) -> list[Entry]:
    entries = []
    for exp in experiments:
        try:
            rec = results.published(exp.name)
        except results.RecordError as exc:
            entries.append(Entry(exp, None, None, f"not published ({exc})"))
            continue
        if rec is None:
            entries.append(Entry(exp, None, None, "not published yet"))
        else:
            entries.append(Entry(exp, rec, results_dir(exp.name)))
    return entries


def readme_sections_for(entry: Entry) -> dict[str, str]:
    """The experiment's README sections from its published record, with a provenance line."""
    assert entry.record is not None
    rec = entry.record
    parts = sections(entry.exp.load(), rec)
    commit = ((rec.get("environment") or {}).get("git") or {}).get("commit") or "?"
    line = (
        f"\n<sub>Generated by `lab publish` from results/{results.PUBLISHED}: "
        f"{rec.get('mode')} mode, run {rec.get('stamp')}, commit {commit[:10]}.</sub>\n"
    )
    note = noise_note(rec)
    if note:
        line = f"\n> {note}\n" + line
    return {k: v.rstrip("\n") + "\n" + line for k, v in parts.items()}


def build_published(experiments: list[Experiment], only: str | None = None) -> list[str]:
    """Regenerate every published page; README sections of ``only`` (or of all)."""
    entries = published_entries(experiments)
    done = [
        f"wrote {write_page(entries, repo_root() / 'results' / 'index.html', 'Experiments')}",
        f"wrote {write_summary(entries, repo_root() / 'results' / 'SUMMARY.md', 'Published results', 'lab publish')}",  # noqa: E501
    ]
    for e in entries:
        if e.record is None or (only is not None and e.exp.name != only):
            continue
        readme = e.exp.folder / "README.md"
        new_sections = readme_sections_for(e)
        if new_sections and readme.is_file():
            text, names = replace_sections(readme.read_text(), new_sections)
            results.atomic_write(readme, text)
            done += [f"updated {e.exp.name}/README.md#{n}" for n in names]
    top = repo_root() / "README.md"
    if top.is_file():
        text, names = replace_sections(top.read_text(), {"summary": summary_markdown(entries)})
        results.atomic_write(top, text)
        done += [f"updated README.md#{n}" for n in names]
    return done
