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


def test_library_bars_off_in_a_log_and_left_on_a_terminal(monkeypatch):
    import os
    import subprocess
    import sys
    from huggingface_hub.utils import are_progress_bars_disabled, enable_progress_bars
    from transformers.utils import logging as hf_logging
    from sitv_dist.progress import quiet_library_bars
    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    hf_logging.enable_progress_bar()        # an earlier in-process `main` may have turned them off
    enable_progress_bars()
    try:
        assert quiet_library_bars(Terminal()) is False and hf_logging.is_progress_bar_enabled()
        assert quiet_library_bars(io.StringIO()) is True
        assert not hf_logging.is_progress_bar_enabled() and are_progress_bars_disabled()
        # a process that imports transformers afterwards (a spawned worker) starts with them off
        code = "import transformers.utils.logging as l; print(l.is_progress_bar_enabled())"
        assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=dict(os.environ)).stdout.strip() == "False"
    finally:
        hf_logging.enable_progress_bar()
        enable_progress_bars()
