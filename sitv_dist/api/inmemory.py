"""`sweep_model`: the loss along lines (or over a grid) of a Hugging Face model the caller
already holds, along directions it holds, over texts it gives, with no config and no OUT.

The same code as a sweep's workers: every point is written as base + Σ cᵢTᵢ from a resident
copy of the base (`sweep.apply.PointWriter`, never walked from the previous point) and
evaluated as the token-weighted mean next-token NLL with padding masked out
(`sweep.evaluation`). The model's parameters are restored to the base afterwards."""
from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Mapping, Sequence

import torch

from ..models.loading import parameters
from ..sweep.apply import PointWriter
from ..sweep.evaluation import build_eval_set, per_text_nll, summarize
from ..texts import Text
from ..vectors import directions as direction_files
from .tables import SET_KEYS, _set_rows

Source = Mapping[str, torch.Tensor] | str | os.PathLike


def _direction(name: str, source, model: torch.nn.Module, dtype: torch.dtype):
    """A dense T (parameter name -> tensor, a subset of the parameters is fine) or a LoRA
    direction, checked against the model's parameters."""
    if isinstance(source, (str, os.PathLike)):
        return direction_files.load(Path(source), model, f"directions[{name!r}]", None, dtype)
    params = parameters(model)
    unknown = sorted(set(source) - set(params))
    if unknown:
        raise ValueError(f"directions[{name!r}]: {unknown[:5]} are not parameters of the model (names as in "
                         "model.named_parameters(), tied weights once)")
    for key, tensor in source.items():
        if tuple(tensor.shape) != tuple(params[key].shape):
            raise ValueError(f"directions[{name!r}]: {key} has shape {tuple(tensor.shape)}, the parameter "
                             f"{tuple(params[key].shape)}")
    return {key: t.detach().to(device=params[key].device, dtype=dtype) for key, t in source.items()}


def _eval_sets(texts, tokenizer, max_length: int, batch_size: int, device, vocab_rows: int) -> dict:
    """Eval sets by name from a list of texts (the set 'general') or a dict name -> texts;
    a text is a string or a sitv_dist.texts.Text (with a category)."""
    named = {"general": texts} if not isinstance(texts, Mapping) else dict(texts)
    sets = {}
    for name, items in named.items():
        items = [t if isinstance(t, Text) else Text(str(t)) for t in items]
        if not items:
            raise ValueError(f"texts[{name!r}]: no texts")
        sets[name] = build_eval_set(name, items, tokenizer, max_length, batch_size, device, vocab_rows)
    return sets


def _points(names: list[str], alpha: Sequence[float] | None, grid: Mapping[str, Sequence[float]] | None):
    """(sweep name, kind, {direction: c}) for a line along each direction and the grid."""
    if alpha is None and grid is None:
        raise ValueError("give alpha (a line along each direction) and/or grid ({direction: coefficients})")
    points = []
    if alpha is not None:
        for d in names:
            points += [(f"line_{d}", "line", {d: float(c)}) for c in alpha]
    if grid is not None:
        unknown = [d for d in grid if d not in names]
        if len(grid) < 2 or unknown:
            raise ValueError(f"grid: needs two or more of the directions {names}, got {list(grid)}")
        axes = [[float(c) for c in grid[d]] for d in grid]
        points += [("grid_" + "__".join(grid), "grid", dict(zip(grid, cs))) for cs in itertools.product(*axes)]
    return points


def sweep_model(model: torch.nn.Module, tokenizer, directions: Mapping[str, Source], texts,
                alpha: Sequence[float] | None = None, grid: Mapping[str, Sequence[float]] | None = None,
                max_length: int = 128, batch_size: int = 16, logit_chunk: int = 0,
                apply_dtype: torch.dtype = torch.float32):
    """L(c) of `model` at base + Σ cᵢTᵢ, as a long DataFrame (the columns of
    `Results.to_pandas`: sweep, kind, point, one column per direction, eval_set, category,
    loss, nll_sum, tokens).

    directions: name -> a dict of tensors (parameter name -> T), a task-vector .safetensors
    file, or a PEFT LoRA adapter directory. texts: a list (the eval set 'general') or a dict
    of eval-set name -> list; items are strings or `sitv_dist.texts.Text` (text, category).
    alpha: the coefficients of a line along each direction; grid: {direction: coefficients}
    for two or more directions. Each distinct point is evaluated once."""
    import pandas as pd
    names = list(directions)
    points = _points(names, alpha, grid)
    vocab = model.get_input_embeddings().num_embeddings
    device = model.get_input_embeddings().weight.device
    sets = _eval_sets(texts, tokenizer, max_length, batch_size, device, vocab)
    vectors = {d: _direction(d, directions[d], model, torch.float32) for d in names}
    writer = PointWriter(model, vectors, apply_dtype)
    was_training = model.training
    model.eval()
    evaluated: dict[tuple, dict] = {}
    rows = []
    try:
        for sweep, kind, coefficients in points:
            key = tuple(coefficients.get(d, 0.0) for d in names)
            if key not in evaluated:
                writer.apply(dict(zip(names, key)))
                evaluated[key] = {name: summarize(s, per_text_nll(model, s, logit_chunk)) for name, s in sets.items()}
            common = {"sweep": sweep, "kind": kind, "point": list(evaluated).index(key), **dict(zip(names, key))}
            for name, entry in evaluated[key].items():
                rows += list(_set_rows(common, name, entry))
    finally:
        writer.apply({})          # every moved parameter back to the base's values
        model.train(was_training)
    frame = pd.DataFrame(rows)
    return frame[["sweep", "kind", "point", *names, "eval_set", "category", *SET_KEYS]]
