"""The one results table of ``make bench``: rows grouped by section, printed and saved as Markdown."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    section: str
    measurement: str
    value: str
    target: str = ""
    verdict: str = ""  # "met", "missed" or "" when the row has no target


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def markdown(rows: list[Row]) -> str:
    lines = ["| section | measurement | value | target | result |", "|---|---|---|---|---|"]
    previous = None
    for row in rows:
        section = row.section if row.section != previous else ""
        previous = row.section
        lines.append(f"| {section} | {row.measurement} | {row.value} | {row.target} | {row.verdict} |")
    return "\n".join(lines)
