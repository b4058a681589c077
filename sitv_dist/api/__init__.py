"""The Python API (docs/api.md): `Experiment` runs an experiment's stages in-process as the
`sitv` commands do (they call it), `open_results` reads a run's results as objects and
tables, `compare` compares runs, and `sweep_model` sweeps a model held in memory."""
from .experiment_api import Experiment, SweepHandle
from .results import Results, SweepResult, compare, open_results

__all__ = ["Experiment", "Results", "SweepHandle", "SweepResult", "compare", "open_results", "sweep_model"]


def __getattr__(name: str):
    if name == "sweep_model":            # torch and transformers only when it is used
        from .inmemory import sweep_model
        return sweep_model
    raise AttributeError(name)
