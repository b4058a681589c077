"""`sitv export OUT --format csv|parquet`: the long results table on disk, for spreadsheets,
pandas, R or DuckDB. The JSON results stay the source of truth; the export is rewritten
from them every time (pandas, and pyarrow for parquet: the `tables` extra)."""
from __future__ import annotations

import os
from pathlib import Path

FORMATS = ("csv", "parquet")


def export(results, fmt: str = "csv", dest: str | os.PathLike | None = None) -> Path:
    """Write `results.to_pandas()` as OUT/tables/results.<fmt> (or to `dest`); the path."""
    if fmt not in FORMATS:
        raise ValueError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    path = Path(dest) if dest is not None else results.out.root / "tables" / f"results.{fmt}"
    frame = results.to_pandas()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")      # a reader never sees half a table
    if fmt == "csv":
        frame.to_csv(tmp, index=False)
    else:
        frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path
