"""Weight and activation quantizers with straight-through gradients (FAQD digest §2.6).

Weights (``bits``, symmetric, per tensor or per output channel):

- 1 bit: scaled sign ``s·sign(W)`` with ``s = mean|W|`` (BWN/XNOR; the least-squares scale
  for a sign code). ``sign(0)`` is taken as +1, so exactly two values appear.
- 2 bits: ternary ``s·sign(W)·[|W| > δ]`` with ``δ = 0.7·mean|W|`` and the TWN scale ``s``
  = mean of ``|W|`` over the *kept* entries (least-squares optimal for the fixed mask). The
  authors' code averages over all entries instead (a smaller scale, digest §2.6); we do not.
- 3-8 bits: uniform levels ``{-L..L}·s`` with ``L = 2^(b-1) - 1`` (15 levels at 4 bits). The
  initial step follows the code's 4-bit rule generalized (``s0 = 2·max|W|/(2L+1)``, so the top
  level starts at 0.5 step below the maximum), then ``ls_iters`` rounds of least squares:
  ``q = clamp(round(|W|/s), 0, L)``, ``s = <|W|, q>/<q, q>`` (one round = the code).
- ``scale="lsq"``: the step is a learned parameter (LSQ, Esser et al. 2020), initialized from
  the least-squares step, with LSQ's gradient and gradient scale ``1/sqrt(numel·L)``.

Gradients: ``ls`` scales use the BinaryConnect straight-through estimator: the gradient taken at
``Q(W)`` is handed unchanged to the float shadow weights (digest §2.6 "QAT update"). ``lsq``
passes the gradient inside ``[-L·s, L·s]`` only, as LSQ does.

Activations: :class:`ActQuantizer`, b bits with a learnable step ``a`` (LSQ). Unsigned inputs
(e.g. after a ReLU) map to ``{0, a, …, (2^b-1)·a}``, which is the digest's quantized ReLU, but
with round-to-nearest (ONNX ``QuantizeLinear`` semantics) instead of the code's ``ceil``;
signed inputs (a normalized image) to ``{-2^(b-1)..2^(b-1)-1}·a``. The straight-through mask is
1 inside the clipping range and 0 outside. The step is initialized by calibration (the MSE-best
step on a grid, :meth:`ActQuantizer.calibrate`) rather than the code's fixed half-Gaussian
constants, and kept ``>= min_step``.

Example:
    >>> import torch
    >>> w = torch.randn(8, 4, 3, 3)
    >>> quantize_weight(w, 4, per_channel=False)[0].unique().numel() <= 15
    True
"""

from __future__ import annotations

import math

import torch
from torch import nn

WEIGHT_SCALES = ("ls", "lsq")
TERNARY_THRESHOLD = 0.7


def _reduce_dims(w: torch.Tensor, per_channel: bool) -> tuple[int, ...]:
    """Dimensions averaged for one scale: all but the output channel (dim 0) when per channel."""
    return tuple(range(1, w.dim())) if per_channel and w.dim() > 1 else tuple(range(w.dim()))


def _safe(s: torch.Tensor) -> torch.Tensor:
    """A scale of exactly 0 (an all-zero filter) becomes 1, so the code (all zeros) decides."""
    return torch.where(s > 0, s, torch.ones_like(s))


def weight_levels(bits: int) -> int:
    """``L``: the largest integer level of a ``bits``-bit symmetric weight code.

    Example:
        >>> [weight_levels(b) for b in (1, 2, 4, 8)]
        [1, 1, 7, 127]
    """
    if not 1 <= bits <= 8:
        raise ValueError(f"weight_bits: {bits} is not supported; allowed: 1 to 8")
    return 1 if bits <= 2 else 2 ** (bits - 1) - 1


def ls_scale(w: torch.Tensor, bits: int, per_channel: bool, ls_iters: int = 1) -> torch.Tensor:
    """The scale of :func:`quantize_weight` (shape broadcastable to ``w``), no gradient.

    Example:
        >>> import torch
        >>> float(ls_scale(torch.tensor([1.0, -3.0]), 1, False))
        2.0
    """
    dims = _reduce_dims(w, per_channel)
    a = w.detach().abs()
    if bits == 1:
        return _safe(a.mean(dims, keepdim=True))
    if bits == 2:
        delta = TERNARY_THRESHOLD * a.mean(dims, keepdim=True)
        mask = (a > delta).to(a.dtype)
        kept = mask.sum(dims, keepdim=True).clamp(min=1)
        return _safe((a * mask).sum(dims, keepdim=True) / kept)
    levels = weight_levels(bits)
    s = _safe(2 * a.amax(dims, keepdim=True) / (2 * levels + 1))
    for _ in range(ls_iters):
        q = torch.clamp(torch.round(a / s), 0, levels)
        s = _safe((a * q).sum(dims, keepdim=True) / (q * q).sum(dims, keepdim=True).clamp(min=1))
    return s


def weight_codes(
    w: torch.Tensor, bits: int, scale: torch.Tensor, per_channel: bool = True
) -> torch.Tensor:
    """Integer codes ``q`` (as floats) with ``Q(W) = scale·q``, no gradient.

    Example:
        >>> import torch
        >>> weight_codes(torch.tensor([0.1, -0.9, 0.5]), 2, torch.tensor(0.7)).tolist()
        [0.0, -1.0, 1.0]
    """
    w = w.detach()
    if bits == 1:
        return torch.where(w >= 0, 1.0, -1.0).to(w.dtype)
    if bits == 2:
        delta = TERNARY_THRESHOLD * w.abs().mean(_reduce_dims(w, per_channel), keepdim=True)
        return torch.sign(w) * (w.abs() > delta).to(w.dtype)
    levels = weight_levels(bits)
    return torch.clamp(torch.round(w / scale), -levels, levels)


def quantize_weight(
    w: torch.Tensor, bits: int, *, per_channel: bool = True, ls_iters: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(Q(W), scale)`` with least-squares scales, no gradient (see the module docstring).

    Args:
        w: a weight tensor; dim 0 is the output channel.
        bits: 1 (scaled sign), 2 (ternary) or 3-8 (uniform symmetric).
        per_channel: one scale per output channel instead of one per tensor.
        ls_iters: least-squares refinement rounds of the uniform scale.

    Example:
        >>> import torch
        >>> q, s = quantize_weight(torch.tensor([0.2, -1.0, 0.9]), 1, per_channel=False)
        >>> q.tolist()
        [0.699999988079071, -0.699999988079071, 0.699999988079071]
    """
    scale = ls_scale(w, bits, per_channel, ls_iters)
    return scale * weight_codes(w, bits, scale, per_channel), scale


def _grad_scale(x: torch.Tensor, g: float) -> torch.Tensor:
    """Identity forward; the gradient is multiplied by ``g`` (LSQ's gradient scale)."""
    return (x - x * g).detach() + x * g


def _round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round forward, identity gradient."""
    return (torch.round(x) - x).detach() + x


class WeightQuantizer(nn.Module):
    """Quantizes a weight in forward with a straight-through gradient (see the module docstring).

    Args:
        bits: 1-8.
        per_channel: one scale per output channel.
        scale: ``"ls"`` (least squares, recomputed every forward) or ``"lsq"`` (learned; 3-8 bits).
        ls_iters: least-squares refinement rounds.
        channels: number of output channels (the shape of a learned per-channel scale).

    Example:
        >>> import torch
        >>> wq = WeightQuantizer(4)
        >>> w = torch.randn(4, 3, requires_grad=True)
        >>> wq(w).sum().backward()
        >>> bool(torch.equal(w.grad, torch.ones(4, 3)))
        True
    """

    def __init__(
        self,
        bits: int,
        per_channel: bool = True,
        scale: str = "ls",
        ls_iters: int = 1,
        channels: int = 1,
    ) -> None:
        super().__init__()
        weight_levels(bits)
        if scale not in WEIGHT_SCALES:
            raise ValueError(f"weight_scale: {scale!r} is unknown; allowed: ls, lsq")
        if scale == "lsq" and bits < 3:
            raise ValueError(f"weight_scale: 'lsq' needs weight_bits >= 3, got {bits}")
        self.bits, self.per_channel, self.scale_mode, self.ls_iters = (
            bits,
            per_channel,
            scale,
            ls_iters,
        )
        if scale == "lsq":
            self.step = nn.Parameter(torch.zeros(channels if per_channel else 1))
            self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    def scale(self, w: torch.Tensor) -> torch.Tensor:
        """The current scale, shaped to broadcast against ``w`` (no gradient)."""
        if self.scale_mode == "ls":
            return ls_scale(w, self.bits, self.per_channel, self.ls_iters)
        return self.step.detach().abs().clamp(min=1e-8).view(-1, *([1] * (w.dim() - 1)))

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        if self.scale_mode == "ls":
            q, _ = quantize_weight(
                w, self.bits, per_channel=self.per_channel, ls_iters=self.ls_iters
            )
            return w + (q - w).detach()  # BinaryConnect STE: gradient at Q(W) goes to W
        if not bool(self.initialized):
            with torch.no_grad():
                s = ls_scale(w, self.bits, self.per_channel, self.ls_iters)
                self.step.copy_(s.reshape(-1).expand_as(self.step))
                self.initialized.fill_(True)
        levels = weight_levels(self.bits)
        g = 1.0 / math.sqrt(w.numel() / self.step.numel() * levels)
        s = _grad_scale(self.step.abs().clamp(min=1e-8), g).view(-1, *([1] * (w.dim() - 1)))
        return _round_ste(torch.clamp(w / s, -levels, levels)) * s

    def extra_repr(self) -> str:
        return f"bits={self.bits}, per_channel={self.per_channel}, scale={self.scale_mode}"


def act_range(bits: int, signed: bool) -> tuple[int, int]:
    """Integer code range of a ``bits``-bit activation.

    Example:
        >>> act_range(4, False), act_range(8, True)
        ((0, 15), (-128, 127))
    """
    if not 1 <= bits <= 8:
        raise ValueError(f"act_bits: {bits} is not supported; allowed: 1 to 8 (or null: float)")
    return (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)


class ActQuantizer(nn.Module):
    """b-bit activation quantizer with a learnable step ``a`` (LSQ; quantized ReLU if unsigned).

    ``signed`` is decided at calibration (a negative input seen: signed) unless given. Until
    calibrated, the first forward calibrates on its own input.

    Args:
        bits: 1-8.
        signed: ``None`` (decide at calibration), ``True`` or ``False``.
        min_step: lower bound of the step.

    Example:
        >>> import torch
        >>> aq = ActQuantizer(2)
        >>> y = aq(torch.rand(64, 8))
        >>> sorted(set((y / aq.step).round().int().flatten().tolist())) <= [0, 1, 2, 3]
        True
    """

    def __init__(self, bits: int, signed: bool | None = None, min_step: float = 1e-4) -> None:
        super().__init__()
        act_range(bits, False)
        self.bits = bits
        self.min_step = min_step
        self.step = nn.Parameter(torch.ones(()))
        self.register_buffer("signed", torch.tensor(bool(signed)))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))
        self._fixed_sign = signed is not None

    @property
    def code_range(self) -> tuple[int, int]:
        """(lowest, highest) integer code."""
        return act_range(self.bits, bool(self.signed))

    @torch.no_grad()
    def calibrate(self, x: torch.Tensor, candidates: int = 64) -> None:
        """Set the sign mode and the step that minimizes ``‖x - Q(x)‖²`` on ``x`` (a grid of
        ``candidates`` steps between 1 % and 100 % of ``max|x| / top code``)."""
        x = x.detach().float().flatten()
        if x.numel() > 65536:  # a seeded subsample keeps calibration cheap on large maps
            gen = torch.Generator(device="cpu").manual_seed(0)
            x = x[torch.randint(0, x.numel(), (65536,), generator=gen).to(x.device)]
        if not self._fixed_sign:
            self.signed.fill_(bool(x.min() < 0))
        lo, hi = self.code_range
        top = float(x.abs().max()) / max(hi, 1) or 1.0
        steps = torch.linspace(0.01, 1.0, candidates, device=x.device) * top
        steps = steps.clamp(min=self.min_step)
        q = torch.clamp(torch.round(x[None] / steps[:, None]), lo, hi) * steps[:, None]
        best = steps[((q - x[None]) ** 2).mean(1).argmin()]
        self.step.copy_(best.to(self.step.dtype))
        self.initialized.fill_(True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not bool(self.initialized):
            self.calibrate(x)
        lo, hi = self.code_range
        g = 1.0 / math.sqrt(max(1, x[0].numel()) * hi)
        a = _grad_scale(self.step.clamp(min=self.min_step), g)
        return _round_ste(torch.clamp(x / a, lo, hi)) * a

    def extra_repr(self) -> str:
        return f"bits={self.bits}, signed={bool(self.signed)}"
