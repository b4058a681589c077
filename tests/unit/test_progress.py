"""Progress bars draw on a terminal and stay silent in a file or pipe (no carriage returns in a log)."""
from __future__ import annotations

import io

from sitv_dist.progress import bar, in_notebook


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_redraws_in_a_log_and_a_bar_on_a_terminal():
    assert not in_notebook()
    log = io.StringIO()
    with bar(total=5, file=log, desc="sweep") as b:
        for _ in range(5):
            b.update(1)
    assert log.getvalue() == "" and b.disable
    tty = Terminal()
    with bar(total=5, file=tty, desc="sweep", mininterval=0) as b:
        for _ in range(5):
            b.update(1)
    assert "\r" in tty.getvalue() and "5/5" in tty.getvalue()
    with bar(total=5, file=tty, disable=True) as b:
        assert b.disable
