"""Markdown for the run report and the comparison: every number goes through :func:`fmt`
('n/a' for missing values), :func:`percent` or :func:`seconds`, so a number printed in either
document can be traced to the results it came from, with the precision it deserves: losses
and coefficients to 4 decimals, differences too small for that in two significant digits
(1.2e-06, not 0.0000), shares and fractions as whole percents, times to 0.1 s."""
from __future__ import annotations

from typing import Any


def fmt(v: Any, decimals: int = 4, signed: bool = False) -> str:
    """'n/a' for None, yes/no for booleans, integers as they are, floats to `decimals` places
    (two significant digits when that would print 0), with a '+' when `signed`."""
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    x = float(v)
    text = f"{x:.2g}" if x != 0.0 and abs(x) < 0.5 * 10 ** -decimals else f"{x:.{decimals}f}"
    return ("+" + text) if signed and x > 0 else text


def delta(v: Any) -> str:
    """A loss difference in two significant digits with its sign: '+0.12', '-2.6e-05'."""
    return "n/a" if v is None else f"{float(v):+.2g}"


def percent(fraction: Any, decimals: int = 0) -> str:
    """A share (0..1) as a percent: '97%'; 'n/a' for None."""
    return "n/a" if fraction is None else f"{100 * float(fraction):.{decimals}f}%"


def seconds(v: Any) -> str:
    """A duration to 0.1 s."""
    return "n/a" if v is None else f"{float(v):.1f}"


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A Markdown table (strings as they are, other cells through :func:`fmt`), then a blank line."""
    def cell(v: Any) -> str:
        return (v if isinstance(v, str) else fmt(v)).replace("|", "\\|")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows] + [""]


def interval(ci: list | None, form=fmt) -> str:
    """A bootstrap interval as 'lo .. hi' ('n/a' when there is none), each end through `form`."""
    return "n/a" if not ci else f"{form(ci[0])} .. {form(ci[1])}"
