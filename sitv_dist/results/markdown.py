"""Markdown for the run report and the comparison: every number goes through :func:`fmt` (one
format, ``{:.4f}``; 'n/a' for missing values), so a number printed in either document can be
traced to the results it came from."""
from __future__ import annotations

from typing import Any


def fmt(v: Any) -> str:
    """One format for every number: 'n/a' for None, yes/no for booleans, integers as they are."""
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    return "{:.4f}".format(float(v))


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A Markdown table (strings as they are, other cells through :func:`fmt`), then a blank line."""
    def cell(v: Any) -> str:
        return (v if isinstance(v, str) else fmt(v)).replace("|", "\\|")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows] + [""]


def interval(ci: list | None) -> str:
    """A bootstrap interval as 'lo .. hi' ('n/a' when there is none)."""
    return "n/a" if not ci else f"{fmt(ci[0])} .. {fmt(ci[1])}"
