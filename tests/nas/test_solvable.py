"""The solvable surrogate: closed forms against the digest's table, iterates against closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from slimkit.nas.solvable import SolvableModel

LR = 0.025  # the weight lr; DARTS-2nd's ξ = LR as in the official code


@pytest.mark.parametrize(
    ("lam", "beta", "alpha"),
    [(1, 1, 0.25), (1, 10, 0.3226), (10, 10, 0.4545), (10, 100, 0.4739), (100, 100, 0.4950)],
)
def test_rarts_closed_form_matches_digest_scalar_table(
    lam: float, beta: float, alpha: float
) -> None:
    model = SolvableModel.scalar()
    assert model.fixed_point("rarts", lam=lam, beta=beta)[0] == pytest.approx(alpha, abs=1e-4)
    # the digest's scalar formula: α = λ/(μ+λ) · B/(A_λ + B), A_λ = λμ/(μ+λ), B = β/(1+β)
    a_lam, b = lam / (1 + lam), beta / (1 + beta)
    assert model.fixed_point("rarts", lam=lam, beta=beta)[0] == pytest.approx(
        lam / (1 + lam) * b / (a_lam + b), rel=1e-12
    )


def test_darts_closed_forms_scalar() -> None:
    model = SolvableModel.scalar()
    assert model.fixed_point("bilevel")[0] == pytest.approx(0.5)
    assert model.fixed_point("darts_1st")[0] == 0.0
    assert model.fixed_point("darts_2nd", xi=0.025)[0] == pytest.approx(0.0244, abs=1e-4)
    assert model.fixed_point("darts_2nd", xi=0.1)[0] == pytest.approx(0.0909, abs=1e-4)
    assert model.fixed_point("darts_2nd", xi=1.0)[0] == pytest.approx(0.5)  # exact only here


def test_vector_case_objectives_match_digest() -> None:
    model = SolvableModel.random()  # A 8x3, b 8 from default_rng(1), μ = 1
    assert model.objective(model.fixed_point("bilevel")) == pytest.approx(4.2096, abs=1e-4)
    assert model.objective(model.fixed_point("darts_1st")) == pytest.approx(8.4711, abs=1e-4)
    assert model.objective(model.fixed_point("darts_2nd", xi=0.025)) == pytest.approx(
        7.4872, abs=1e-4
    )
    for (lam, beta), f in {(1, 1): 4.6038, (10, 10): 4.2198, (100, 100): 4.2097}.items():
        alpha = model.fixed_point("rarts", lam=lam, beta=beta)
        assert model.objective(alpha) == pytest.approx(f, abs=1e-4)


@pytest.mark.parametrize("case", ["scalar", "vector"])
def test_iterates_converge_to_closed_forms(case: str) -> None:
    model = SolvableModel.scalar() if case == "scalar" else SolvableModel.random()
    optimum = model.fixed_point("bilevel")
    first = model.iterate("darts_1st", iterations=20000, lr=LR, arch_lr=LR)[-1]
    second = model.iterate("darts_2nd", iterations=20000, lr=LR, arch_lr=LR)[-1]
    rarts = model.iterate("rarts", iterations=20000, lr=LR, arch_lr=LR, lam=10, beta=10)[-1]
    bilevel = model.iterate("bilevel", iterations=20000, arch_lr=LR)[-1]
    assert np.abs(first).max() < 1e-6  # DARTS-1st ends at α = 0 (measured ~1e-220)
    closed2 = model.fixed_point("darts_2nd", xi=LR)
    assert np.linalg.norm(second - closed2) <= 0.05 * np.linalg.norm(closed2)
    closed_r = model.fixed_point("rarts", lam=10, beta=10)
    assert np.linalg.norm(rarts - closed_r) <= 0.05 * np.linalg.norm(closed_r)  # measured < 1e-9
    assert np.linalg.norm(bilevel - optimum) < 1e-6
    gap = {k: np.linalg.norm(v - optimum) for k, v in
           {"darts_1st": first, "darts_2nd": second, "rarts": rarts}.items()}  # fmt: skip
    assert gap["rarts"] < gap["darts_2nd"] < gap["darts_1st"], gap
    assert model.objective(rarts) < model.objective(second) < model.objective(first)


def test_unknown_method_is_one_line() -> None:
    with pytest.raises(ValueError, match="method: expected one of") as info:
        SolvableModel.scalar().fixed_point("darts")
    assert "\n" not in str(info.value)
