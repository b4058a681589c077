"""The PNG figures, all saved one way (:func:`.run_plots.save`): `run_plots` (one run's lines,
categories and grids), `compare_plots` (several runs side by side) and `merge_plots` (a merge
sweep's L(α, density))."""
import os

# matplotlib keeps its font list in ~/.cache/matplotlib (and makes ~/.config/matplotlib) when
# first imported; sitv writes only to OUT and its own cache, so it goes there unless the user
# chose a place (MPLCONFIGDIR).
os.environ.setdefault("MPLCONFIGDIR", os.path.join(
    os.path.expanduser(os.environ.get("SITV_CACHE") or "~/.cache/sitv-dist"), "matplotlib"))
