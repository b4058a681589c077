"""Progress bars: tqdm.auto's (a widget in a notebook, text in a terminal), off when the
output is neither, so a Slurm or CI log holds no carriage-return redraws (the summary lines
the stages print say what happened)."""
from __future__ import annotations

import sys

from tqdm.auto import tqdm


def in_notebook() -> bool:
    """tqdm.auto chose its notebook bar (an IPython kernel with ipywidgets)."""
    return any(cls.__name__ == "tqdm_notebook" for cls in tqdm.__mro__)


def bar(*, disable: bool = False, file=None, **kwargs):
    """A tqdm.auto bar, disabled where it would only write redraws into a file or a pipe."""
    stream = file if file is not None else sys.stderr
    quiet = not in_notebook() and not (hasattr(stream, "isatty") and stream.isatty())
    return tqdm(disable=disable or quiet, file=file, **kwargs)
