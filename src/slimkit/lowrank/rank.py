"""Rank rules on singular values: energy ratio and relative singular value (TRP digest §1.3, §1.6).

- **energy** (the paper's "energy-pruning ratio" e; the code uses squared singular values): the
  smallest r with ``Σ_{i≤r} σ_i² ≥ e · Σ_i σ_i²``, so the discarded energy
  ``‖M − M_r‖_F² = Σ_{i>r} σ_i² ≤ (1 − e)·‖M‖_F²`` (Eckart–Young: ``M_r`` is the best rank-r
  approximation).
- **relative** (our scale-free replacement of the code's absolute cut ``σ ≥ 0.05``, digest §1.6):
  ``r = #{i : σ_i ≥ τ · σ_1}``.

Both work on a batch: ``sigma`` of shape ``(..., p)`` sorted descending gives ranks of shape
``(...)``. Ranks are at least ``min_rank`` (1 by default), so every factorized layer keeps a
valid width. All-zero spectra: the energy criterion is undefined there (the TRP code divides by
zero and falls back to full rank); here they get ``min_rank``, which loses nothing.

Example:
    >>> import torch
    >>> s = torch.tensor([3.0, 2.0, 1.0, 0.0])
    >>> int(energy_rank(s, 0.9)), int(relative_rank(s, 0.5))
    (2, 2)
"""

from __future__ import annotations

from typing import Literal

import torch

RankRule = Literal["energy", "relative"]
RANK_RULES: tuple[str, ...] = ("energy", "relative")

__all__ = ["RANK_RULES", "RankRule", "energy_rank", "relative_rank", "select_rank"]


def _check_fraction(name: str, value: float, *, closed_low: bool) -> None:
    low_ok = value >= 0 if closed_low else value > 0
    if not (low_ok and value <= 1):
        bound = "[0, 1]" if closed_low else "(0, 1]"
        raise ValueError(f"{name}: expected a fraction in {bound}, got {value!r}")


def energy_rank(sigma: torch.Tensor, energy: float, min_rank: int = 1) -> torch.Tensor:
    """Smallest r with ``Σ_{i≤r} σ_i² ≥ energy · Σ σ_i²`` (TRP's energy-pruning ratio e).

    Args:
        sigma: singular values, shape ``(..., p)``, sorted descending, non-negative.
        energy: the ratio e in (0, 1].
        min_rank: lower bound on the result.

    Returns:
        int64 ranks of shape ``(...)``, each in ``[min_rank, p]``.

    Example:
        >>> import torch
        >>> energy_rank(torch.tensor([[2.0, 1.0, 1.0], [1.0, 0.0, 0.0]]), 0.7).tolist()
        [2, 1]
    """
    _check_fraction("energy", energy, closed_low=False)
    s2 = sigma.detach().double().pow(2)
    cum = s2.cumsum(dim=-1)  # (..., p); cum[..., -1] is the total, so e = 1 gives the exact rank
    total = cum[..., -1:]
    below = (cum < energy * total).sum(dim=-1) + 1  # prefixes still short of e, plus one
    return below.clamp(min=min_rank, max=sigma.shape[-1]).long()


def relative_rank(sigma: torch.Tensor, tau: float, min_rank: int = 1) -> torch.Tensor:
    """``#{i : σ_i ≥ τ·σ_1}``: singular values kept relative to the largest one.

    Args:
        sigma: singular values, shape ``(..., p)``, sorted descending, non-negative.
        tau: the relative threshold τ in [0, 1] (0 keeps everything).
        min_rank: lower bound on the result.

    Returns:
        int64 ranks of shape ``(...)``, each in ``[min_rank, p]``.

    Example:
        >>> import torch
        >>> relative_rank(torch.tensor([10.0, 5.0, 0.5]), 0.1).item()
        2
    """
    _check_fraction("tau", tau, closed_low=True)
    s = sigma.detach().double()
    kept = (s >= tau * s[..., :1]).sum(dim=-1)
    kept = torch.where(s[..., 0] > 0, kept, torch.zeros_like(kept))
    return kept.clamp(min=min_rank, max=sigma.shape[-1]).long()


def select_rank(
    sigma: torch.Tensor, rule: RankRule, threshold: float, min_rank: int = 1
) -> torch.Tensor:
    """Ranks by ``rule`` (``energy``: e; ``relative``: τ) for a batch of spectra.

    Example:
        >>> import torch
        >>> select_rank(torch.tensor([4.0, 2.0, 1.0]), "relative", 0.5).item()
        2
    """
    if rule == "energy":
        return energy_rank(sigma, threshold, min_rank)
    if rule == "relative":
        return relative_rank(sigma, threshold, min_rank)
    raise ValueError(f"rule: unknown rank rule {rule!r}; allowed: {', '.join(RANK_RULES)}")
