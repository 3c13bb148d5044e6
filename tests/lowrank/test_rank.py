"""Rank rules (property tests on random spectra and matrices) and the TRP projection."""

from __future__ import annotations

import pytest
import torch

from slimkit.lowrank import energy_rank, project, relative_rank


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("energy", [0.5, 0.8, 0.9, 0.95, 0.99])
def test_energy_rank_is_smallest_meeting_the_ratio(seed: int, energy: float) -> None:
    gen = torch.Generator().manual_seed(seed)
    m = torch.randn(24, 40, generator=gen, dtype=torch.float64) * torch.rand(40, generator=gen,
                                                                              dtype=torch.float64)  # fmt: skip
    s = torch.linalg.svdvals(m)
    r = int(energy_rank(s, energy))
    s2 = s.pow(2)
    assert s2[:r].sum() >= energy * s2.sum()
    assert r == 1 or s2[: r - 1].sum() < energy * s2.sum()


def test_energy_rank_batch_monotone_and_edges() -> None:
    gen = torch.Generator().manual_seed(0)
    s = torch.rand(8, 30, generator=gen).sort(dim=-1, descending=True).values
    ranks = [energy_rank(s, e) for e in (0.3, 0.6, 0.9, 0.99, 1.0)]
    for lo, hi in zip(ranks, ranks[1:], strict=False):
        assert bool((lo <= hi).all())
    assert bool((ranks[-1] == 30).all())  # e = 1 keeps every nonzero value
    exact = torch.tensor([3.0, 2.0, 1.0, 0.0, 0.0])
    assert int(energy_rank(exact, 1.0)) == 3  # e = 1 gives the exact rank
    assert int(energy_rank(torch.zeros(4), 0.9)) == 1  # all zero: min rank, nothing lost
    with pytest.raises(ValueError, match="energy: expected a fraction in"):
        energy_rank(exact, 1.5)


def test_relative_rank() -> None:
    s = torch.tensor([[10.0, 5.0, 1.0, 0.5], [2.0, 2.0, 2.0, 2.0]])
    assert relative_rank(s, 0.1).tolist() == [3, 4]
    assert relative_rank(s, 0.0).tolist() == [4, 4]
    assert int(relative_rank(torch.zeros(3), 0.5)) == 1


def test_projection_has_rank_r_and_optimal_error() -> None:
    gen = torch.Generator().manual_seed(1)
    m = torch.randn(20, 36, generator=gen, dtype=torch.float64)
    s = torch.linalg.svdvals(m)
    p, r = project(m, 0.9)
    assert int(torch.linalg.matrix_rank(p)) == r == int(energy_rank(s, 0.9))
    err = (m - p).pow(2).sum()
    assert torch.isclose(err, s[r:].pow(2).sum())  # Eckart–Young
    assert err <= (1 - 0.9) * m.pow(2).sum() + 1e-9
    # Re-projecting never raises the rank and typically lowers it (the ratchet, digest §1.3).
    p2, r2 = project(p, 0.9)
    assert r2 <= r and int(torch.linalg.matrix_rank(p2)) == r2
