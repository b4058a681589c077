"""Progress bars: tqdm.auto's (a widget in a notebook, text in a terminal), off when the
output is neither, so a Slurm or CI log holds no carriage-return redraws (the summary lines
the stages print say what happened)."""
from __future__ import annotations

import os
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


def quiet_library_bars(stream=None) -> bool:
    """Turn off transformers' and huggingface_hub's own bars ("Loading weights", "Writing model
    shards") under the same rule as `bar`: in a log they are carriage-return redraws. Returns
    whether they were turned off. Their own switches, not a patch: the environment variable
    (read by huggingface_hub, and by transformers when it is imported; spawned workers inherit
    it), and the functions where transformers is loaded already. Importing nothing keeps `sitv
    status` fast."""
    stream = stream if stream is not None else sys.stderr
    if in_notebook() or (hasattr(stream, "isatty") and stream.isatty()):
        return False
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging
        hf_logging.disable_progress_bar()
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars
        disable_progress_bars()
    return True
