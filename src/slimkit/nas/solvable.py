"""A solvable linear–quadratic surrogate of architecture search (digest §1.5, [checked]).

The RARTS paper's own solvable model is not available (digest: [not found]); this is the
digest's stand-in, where every method's fixed point has a closed form::

    L_train(w, α) = ½‖w − Aα‖²               lower level: w*(α) = Aα
    L_val(w, α)   = ½‖w − b‖² + (μ/2)‖α‖²    upper level: F(α) = L_val(w*(α), α)

Closed forms (``fixed_point``):

- bilevel optimum: α* = (AᵀA + μI)⁻¹Aᵀb;
- DARTS first order: α = 0 (its α-gradient μα never sees b);
- DARTS second order with virtual step ξ: α = ξ(μI + ξAᵀA)⁻¹Aᵀb;
- RARTS (λ, β): the solution of λ(w − Aα) + β(w − y) = 0, (y − b) + β(y − w) = 0,
  μα − λAᵀ(w − Aα) = 0 (a linear system in w, y, α).

``iterate`` runs the methods' actual update rules (simultaneous-batch gradient steps on this
model, the same order as :mod:`slimkit.nas.search`) and returns the α trajectory, so a test can
check that the algorithms converge to the closed forms.

Example:
    >>> m = SolvableModel.scalar()
    >>> round(float(m.fixed_point("bilevel")[0]), 4), round(float(m.fixed_point("rarts", lam=1, beta=1)[0]), 4)
    (0.5, 0.25)
    >>> traj = m.iterate("darts_1st", iterations=2000)
    >>> abs(float(traj[-1][0])) < 1e-6
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SolvableModel"]

SOLVABLE_METHODS = ("bilevel", "darts_1st", "darts_2nd", "rarts")


@dataclass
class SolvableModel:
    """The surrogate with data ``A`` (m×n), ``b`` (m) and α-regularization ``mu``."""

    A: np.ndarray
    b: np.ndarray
    mu: float = 1.0

    @classmethod
    def scalar(cls, a: float = 1.0, b: float = 1.0, mu: float = 1.0) -> SolvableModel:
        """The digest's scalar case (A = 1, b = 1, μ = 1: α* = 0.5)."""
        return cls(np.array([[a]]), np.array([b]), mu)

    @classmethod
    def random(cls, m: int = 8, n: int = 3, seed: int = 1, mu: float = 1.0) -> SolvableModel:
        """A Gaussian A (m×n) and b (m) from ``numpy.random.default_rng(seed)``."""
        rng = np.random.default_rng(seed)
        return cls(rng.standard_normal((m, n)), rng.standard_normal(m), mu)

    def objective(self, alpha: np.ndarray) -> float:
        """F(α) = L_val(w*(α), α), the upper-level objective (lower is better)."""
        r = self.A @ alpha - self.b
        return float(0.5 * r @ r + 0.5 * self.mu * alpha @ alpha)

    def fixed_point(
        self, method: str, *, xi: float = 0.025, lam: float = 1.0, beta: float = 1.0
    ) -> np.ndarray:
        """The closed-form α each method converges to (see the module docstring)."""
        A, b, mu = self.A, self.b, self.mu
        m, n = A.shape
        eye = np.eye(n)
        if method == "bilevel":
            return np.linalg.solve(A.T @ A + mu * eye, A.T @ b)
        if method == "darts_1st":
            return np.zeros(n)
        if method == "darts_2nd":
            return xi * np.linalg.solve(mu * eye + xi * A.T @ A, A.T @ b)
        if method == "rarts":
            im = np.eye(m)
            # rows: ∂/∂w, ∂/∂y, ∂/∂α of L_β at a stationary point; unknowns (w, y, α)
            system = np.block(
                [
                    [(lam + beta) * im, -beta * im, -lam * A],
                    [-beta * im, (1 + beta) * im, np.zeros((m, n))],
                    [-lam * A.T, np.zeros((n, m)), mu * eye + lam * A.T @ A],
                ]
            )
            rhs = np.concatenate([np.zeros(m), b, np.zeros(n)])
            return np.linalg.solve(system, rhs)[2 * m :]
        raise ValueError(f"method: expected one of {', '.join(SOLVABLE_METHODS)}, got {method!r}")

    def iterate(
        self,
        method: str,
        *,
        iterations: int = 20000,
        lr: float = 0.025,
        arch_lr: float = 0.025,
        xi: float | None = None,
        lam: float = 1.0,
        beta: float = 1.0,
    ) -> np.ndarray:
        """Run a method's updates from α = 0, w = y = 0; return α after every iteration
        (shape (iterations + 1, n)).

        ``darts_1st``: α-step on ∇_α L_val(w, α), then a w-step on L_train.
        ``darts_2nd``: α-step on ∇_α L_val(w', α) − ξ∇²_{α,w}L_train·∇_{w'}L_val(w', α) with
        w' = w − ξ∇_w L_train (ξ defaults to ``lr``), then the w-step.
        ``rarts``: Gauss–Seidel w → y → α on L_β (digest §1.3).
        ``bilevel``: gradient descent on F(α) (w solved exactly).
        """
        A, b, mu = self.A, self.b, self.mu
        m, n = A.shape
        xi = lr if xi is None else xi
        alpha, w, y = np.zeros(n), np.zeros(m), np.zeros(m)
        out = np.empty((iterations + 1, n))
        out[0] = alpha
        for t in range(iterations):
            if method == "darts_1st":
                alpha = alpha - arch_lr * mu * alpha
                w = w - lr * (w - A @ alpha)
            elif method == "darts_2nd":
                w_virtual = w - xi * (w - A @ alpha)
                # ∇_α L_val(w', α) = μα;  ∇²_{α,w} L_train = −Aᵀ;  ∇_{w'} L_val = w' − b
                grad = mu * alpha + xi * A.T @ (w_virtual - b)
                alpha = alpha - arch_lr * grad
                w = w - lr * (w - A @ alpha)
            elif method == "rarts":
                w = w - lr * (lam * (w - A @ alpha) + beta * (w - y))
                y = y - lr * ((y - b) + beta * (y - w))
                alpha = alpha - arch_lr * (mu * alpha - lam * A.T @ (w - A @ alpha))
            elif method == "bilevel":
                alpha = alpha - arch_lr * (A.T @ (A @ alpha - b) + mu * alpha)
            else:
                raise ValueError(
                    f"method: expected one of {', '.join(SOLVABLE_METHODS)}, got {method!r}"
                )
            out[t + 1] = alpha
        return out
