"""The budget contract (measure/budget.py): reach the target or fail with one line."""

from __future__ import annotations

import pytest

from slimkit.measure.budget import Budget, BudgetError, fewest_steps, largest_level


def test_fewest_steps_finds_smallest_fitting_step() -> None:
    budget = Budget("macs", limit=40.0, reference=100.0)
    cost = lambda k: 100.0 - 7.0 * k  # noqa: E731 - decreasing in k
    assert fewest_steps(cost, 14, budget) == 9  # 100 - 63 = 37 <= 40, k = 8 gives 44
    assert fewest_steps(cost, 14, budget, start=3) == 9


def test_largest_level_finds_largest_fitting_level() -> None:
    budget = Budget("params", limit=30.0, reference=100.0)
    level = largest_level(lambda x: 100.0 * x, budget, lo=0.0, hi=1.0)
    assert level == pytest.approx(0.3, abs=1e-6)
    assert budget.fits(100.0 * level)


@pytest.mark.parametrize("search", ["steps", "level"])
def test_unreachable_budget_names_closest_value_in_one_line(search: str) -> None:
    budget = Budget("macs", limit=10.0, reference=100.0)
    with pytest.raises(BudgetError) as err:
        if search == "steps":
            fewest_steps(lambda k: 100.0 - k, 50, budget, hint="min_channels 1")
        else:
            largest_level(lambda x: 50.0 + 50.0 * x, budget, lo=0.0, hi=1.0)
    message = str(err.value)
    assert "\n" not in message and "macs=0.100" in message
    assert "0.500" in message  # both searches bottom out at half the reference


def test_budget_rejects_bad_quantity_and_limits() -> None:
    with pytest.raises(ValueError, match="quantity"):
        Budget("flops", limit=1.0, reference=2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        Budget("macs", limit=0.0, reference=2.0)
