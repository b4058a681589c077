"""Exact slope and curvature of the loss along directions, per text.

For the point ``θ(a) = base + Σ (c_i + a_i) T_i`` the sweep measures the token-weighted mean
NLL ``L(a) = Σ_t nll_t(a) / Σ_t tokens_t``. This module gives, at ``a = 0``, every text's

- ``grad_t[i] = ∂ nll_t / ∂a_i = ⟨∇ nll_t, T_i⟩`` and
- ``hess_t[i, j] = ∂² nll_t / ∂a_i ∂a_j = T_iᵀ H_t T_j``,

so the set's slope and curvature are ``Σ_t grad_t / Σ_t tokens_t`` (likewise for the Hessian)
and a bootstrap over texts resamples them exactly as it resamples losses (both in
:mod:`sitv_dist.results.uncertainty.derivative_intervals`).

How: ``torch.func.jvp`` nested twice (forward-over-forward) of the per-text NLL sums as a
function of the k coefficients ``a``, taken as jvp over the moved parameters θ along the
directions T_i (the same derivative: θ(a) = θ0 + Σ a_i T_i; ``torch.func.functional_call``
substitutes θ). Forward mode suits the question: the input is k ≤ 2 numbers and
the output is one number per text, so one forward-mode pass per Hessian entry gives every
text's value at once (reverse mode — one backward pass plus one Hessian-vector product, which
the tests use as the independent check — would give only the set total per pass, or need a
backward pass per text). It also keeps no activations for a backward pass, so it needs about
the memory of a few forward passes. The loss is the sweep's own (``models.loss.token_nll``
on the sweep's tokenized, padded, length-sorted batches of ``sweep.evaluation.build_eval_set``).

Cost per batch: k(k+1)/2 passes of nested jvp. Each carries four values per activation (the
value, two first-order tangents, one second-order), and every matmul has tangents in both
factors (the weights move along T), so a pass is several forward passes' work: one direction
costs about 14 point evaluations on the embedded model and 7 on Gemma-3-270M
(``bench/derivatives.py``, docs/performance.md §5). Memory: no model-sized tensor beyond the
model and the directions (the primals are the model's own parameters, the tangents the
directions' tensors: jvp over the parameters along T, which is jvp over a along e_i), four
values per activation and none stored for a backward pass; with ``logit_chunk`` the logits
are formed that many positions at a time from the final hidden states.
Any point: ``coefficients`` moves the origin (the step uses α = 0).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call, jvp
from torch.nn.attention import SDPBackend, sdpa_kernel

from ..models.loading import parameters
from ..models.loss import chunked_token_nll, token_nll
from .evaluation import EvalSet


def _layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """F.layer_norm composed of elementary ops. Why: in torch 2.13 the second-order forward-mode
    derivative of the fused native_layer_norm is wrong (off by O(1) against finite differences
    and double backward; tests/unit/test_derivatives.py checks this replacement), while every op
    used here has a correct one. Same function: biased variance, eps inside the square root."""
    dims = tuple(range(-len(normalized_shape), 0))
    mean = x.mean(dims, keepdim=True)
    y = (x - mean) * torch.rsqrt((x - mean).pow(2).mean(dims, keepdim=True) + eps)
    if weight is not None:
        y = y * weight
    return y + bias if bias is not None else y


@contextmanager
def _differentiable_ops():
    """Ops with correct nested forward-mode derivatives: SDPA's math backend (the fused flash and
    memory-efficient kernels have no forward-mode rule) and the composite layer norm above."""
    fused = F.layer_norm
    F.layer_norm = _layer_norm
    try:
        with sdpa_kernel(SDPBackend.MATH):
            yield
    finally:
        F.layer_norm = fused


class _ChunkedLoss(torch.nn.Module):
    """The model's per-position NLL with logits formed ``chunk`` positions at a time
    (models.loss.chunked_token_nll), as a module, so that ``functional_call`` can substitute
    the parameters of the model it wraps."""

    def __init__(self, model: torch.nn.Module, chunk: int):
        super().__init__()
        self.model, self.chunk = model, chunk

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return chunked_token_nll(self.model, input_ids, attention_mask, self.chunk)


def _batch_nll(model: torch.nn.Module, batch, chunk: int, fixed: dict) -> callable:
    """The per-text NLL sums of one batch as a function of the moved parameters θ (a dict);
    ``fixed``: the other parameters, detached (else autograd would record the passes)."""
    buffers = {**dict(model.named_buffers()), **fixed}
    inputs = {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask}
    if chunk:
        wrapped = _ChunkedLoss(model, chunk)
        wrapped_buffers = {f"model.{k}": v for k, v in buffers.items()}

        def f(theta: dict) -> torch.Tensor:
            params = {f"model.{k}": v for k, v in theta.items()}
            nll = functional_call(wrapped, (params, wrapped_buffers), (), inputs, tie_weights=True, strict=False)
            return nll.double().sum(dim=1)
        return f

    def f(theta: dict) -> torch.Tensor:
        logits = functional_call(model, (theta, buffers), (), inputs, tie_weights=True, strict=False).logits
        return token_nll(logits, batch.input_ids, batch.attention_mask).double().sum(dim=1)
    return f


def per_text_derivatives(model: torch.nn.Module, eval_set: EvalSet,
                         directions: Sequence[Mapping[str, torch.Tensor]],
                         coefficients: Sequence[float] | None = None,
                         cross_only: bool = False, logit_chunk: int = 0) -> dict[str, np.ndarray]:
    """Per-text NLL sums, gradients and Hessian blocks along ``directions`` at the point
    ``base + Σ c_i T_i`` (``coefficients``, default all 0), where base is the model's current
    parameters. Returns float64 arrays ``nll`` [texts], ``grad`` [texts × k], ``hess``
    [texts × k × k] (symmetric). A direction may omit parameters (zero there).
    ``cross_only``: only the off-diagonal Hessian entries (one pass each; ``grad`` and the
    diagonal stay 0) for a caller that has each direction's own slope and curvature already.
    ``logit_chunk``: form the logits this many positions at a time from the final hidden states
    (0: the model's whole [batch, seq, vocab] logits)."""
    k = len(directions)
    if k == 0:
        raise ValueError("need at least one direction")
    origin = [float(c) for c in (coefficients or [0.0] * k)]
    if len(origin) != k:
        raise ValueError(f"{len(origin)} coefficients for {k} directions")
    named = parameters(model)
    unknown = sorted(set().union(*directions) - set(named))
    if unknown:
        raise KeyError(f"direction tensors {unknown[:3]} are not parameters of the model")
    # Only the parameters some direction moves are inputs; the primals are the model's own
    # tensors (no copy at the origin 0) and the tangents the directions' own tensors, so no
    # model-sized tensor is allocated besides the activations' tangents.
    names = [n for n in named if any(n in d for d in directions)]
    fixed = {n: t.detach() for n, t in named.items() if n not in names}
    theta = {}
    for n in names:
        p = named[n].detach()
        for c, d in zip(origin, directions):
            if c and n in d:
                p = p + c * d[n].detach().to(p.dtype)
        theta[n] = p
    tangents = [{n: d[n].detach().to(theta[n].dtype) if n in d else torch.zeros_like(theta[n]) for n in names}
                for d in directions]
    n_texts = len(eval_set.categories)
    out = {"nll": np.zeros(n_texts), "grad": np.zeros((n_texts, k)), "hess": np.zeros((n_texts, k, k))}
    # grad mode stays on: under torch.no_grad nested jvp reaches ops (e.g. silu_backward) without
    # a forward-mode rule; nothing here requires grad, so no graph is built anyway.
    with _differentiable_ops():
        for batch in eval_set.batches:
            f = _batch_nll(model, batch, logit_chunk, fixed)
            rows = batch.rows
            for i in range(k):
                for j in range(i + cross_only, k):
                    # d/dT_j of (d/dT_i f): the inner jvp gives f and ∂_i f, the outer their ∂_j.
                    (value, first), (_, second) = jvp(lambda th, f=f, i=i: jvp(f, (th,), (tangents[i],)),
                                                      (theta,), (tangents[j],))
                    if i == j:
                        out["grad"][rows, i] = first.cpu().numpy()
                    out["hess"][rows, i, j] = out["hess"][rows, j, i] = second.cpu().numpy()
                    out["nll"][rows] = value.cpu().numpy()
    return out
