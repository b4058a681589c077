"""The PNG figures, all saved one way (:func:`.run_plots.save`): `run_plots` (one run's lines,
categories and grids), `compare_plots` (several runs side by side) and `merge_plots` (a merge
sweep's L(α, density))."""
