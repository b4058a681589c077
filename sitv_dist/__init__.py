"""sitv-dist: distributed sweeps of language-model loss landscapes along task vectors.

From Python (docs/api.md): `Experiment`, `open_results`, `compare`, `sweep_model`; each is
imported on first use, so that `sitv status` does not pay for torch."""
__version__ = "0.1.0"

__all__ = ["Experiment", "Results", "compare", "open_results", "sweep_model"]


def __getattr__(name: str):
    if name in __all__:
        from . import api
        return getattr(api, name)
    raise AttributeError(f"module 'sitv_dist' has no attribute {name!r}")
