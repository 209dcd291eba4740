"""Shared report plumbing: the JSON envelope, Markdown helpers, writing files.

Every subcommand writes `<name>.json` (machine-readable, machine info embedded),
`<name>.md` (for people) and PNG charts next to them, so a report directory is
self-contained and can be committed as is.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edge_bench.machine import machine_info


def command_line(argv: Sequence[str] | None = None) -> str:
    """The exact command that produced a report (for reproduction)."""
    args = list(sys.argv[1:] if argv is None else argv)
    return "edge-bench " + " ".join(shlex.quote(a) for a in args)


def envelope(
    name: str, command: str, config: dict[str, Any], results: dict[str, Any]
) -> dict[str, Any]:
    """The top-level JSON every report shares."""
    return {
        "benchmark": name,
        "schema_version": 1,
        "command": command,
        "machine": machine_info(),
        "config": config,
        **results,
    }


def write_json(out: Path, name: str, payload: dict[str, Any]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(payload, indent=1, default=str) + "\n", encoding="utf-8")
    return path


def write_markdown(out: Path, name: str, text: str) -> Path:
    path = out / f"{name}.md"
    path.write_text(text.rstrip() + "\n", encoding="utf-8")
    return path


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub Markdown table; floats get 3 significant decimals."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3f}" if abs(v) < 100 else f"{v:.1f}"
        return str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def machine_section(m: dict[str, Any]) -> str:
    """Human summary of the embedded machine block."""
    libs = ", ".join(f"{k} {v}" for k, v in m.get("libraries", {}).items())
    gpus = (
        "; ".join(f"{g['name']} ({g['memory']}, driver {g['driver']})" for g in m.get("gpus", []))
        or "none"
    )
    flags = ", ".join(m.get("cpu_flags", [])) or "none of AVX2/AVX-512/AMX reported"
    return "\n".join(
        [
            "## Machine",
            "",
            f"- CPU: {m.get('cpu_model')} — {m.get('usable_cores')} usable cores "
            f"({m.get('physical_cores')} physical), flags: {flags}",
            f"- Memory: {m.get('memory_gb')} GB; load average (1, 5, 15 min) when the report was written: {m.get('load_average')}",
            f"- GPU: {gpus}",
            f"- Python {m.get('python')}, {m.get('platform')}",
            f"- Libraries: {libs}",
            f"- Measured: {m.get('timestamp')}",
        ]
    )


def header(title: str, command: str, m: dict[str, Any], intro: str = "") -> str:
    parts = [f"# {title}", ""]
    if intro:
        parts += [intro, ""]
    parts += ["Command:", "", "```", command, "```", "", machine_section(m), ""]
    return "\n".join(parts)


def chart_lines(charts: Sequence[str]) -> list[str]:
    """The `## Charts` section: one image link per chart file, next to the Markdown."""
    return ["## Charts", "", *[f"![{c}]({c})" for c in charts]]


def results_markdown(
    title: str,
    payload: dict[str, Any],
    intro: str,
    head: Sequence[str],
    rows: Sequence[Sequence[Any]],
    charts: Sequence[str],
    section: str = "Results",
    notes: Sequence[str] = (),
) -> str:
    """A one-table report: header, `## <section>` with the table, one paragraph per
    note, then the charts."""
    parts = [header(title, payload["command"], payload["machine"], intro), f"## {section}", ""]
    parts += [table(head, rows), ""]
    for note in notes:
        parts += [note, ""]
    return "\n".join([*parts, *chart_lines(charts)])
