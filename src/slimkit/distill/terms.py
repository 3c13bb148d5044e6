"""The ``distill`` training term: logit KD plus feature affinity, with or without labels (FAQD).

Total loss (digest §2.4): ``ce_weight·CE(z_s, y) + kd_weight·KD(z_s, z_t) + fa_weight·Σ_l FA_l``
where ``FA_l`` compares the student's stage-``l`` output (through a trainable 1×1 adapter + ReLU)
with the teacher's (exact :func:`~slimkit.distill.affinity.fa_loss`, or the sketched
:func:`~slimkit.distill.affinity.ffa_loss` with ``k`` columns). ``labels: false`` is the paper's
label-free mode: the term sets ``task_loss_weight = 0`` so the training loop adds no
cross-entropy and the labels never reach the loss; ``labels: true`` sets it to ``ce_weight``
(the code uses 0.3 with KD weight 1 and FA weight 0.1 on a batch *sum*).

Recipe form::

    terms:
      - name: distill
        teacher: {stage: 0}          # or {artifact: PATH} or {model: {name, kwargs, weights}}
        labels: false
        kd: kl                       # kl | mse | none
        kd_weight: 1.0
        temperature: 4.0
        feature_loss: fa             # fa | ffa | none
        fa_weight: 1.0
        k: 15                        # FFA sketch size
        layers: null                 # default: the main stages (layer1.. for ResNets)

Features: by default the outputs of the network's main stages, found automatically
(:func:`default_feature_layers`: ``layer1, layer2, …`` for CIFAR/torchvision/timm ResNets, else
the last module at each spatial resolution); the teacher uses the same names when it has
them (``teacher_layers`` overrides), else its own main stages, and must have as many. The adapters are attached to the student as ``distill_adapters`` while the stage trains
(so the optimizer, the DDP wrapper and the checkpoints hold them) and removed at its end, so the
saved model is the plain student.

Epoch metrics: ``distill_kd``, ``distill_fa`` or ``distill_ffa`` (epoch means),
``labels_used`` and ``teacher_top1`` (the teacher's test top-1, measured once). Plot:
``distill_losses<tag>.png`` (the loss curves per epoch).

Example:
    >>> import torch
    >>> from slimkit.models import build_model
    >>> student = build_model("resnet8_tiny")
    >>> cfg = DistillConfig(teacher={"model": {"name": "resnet8_tiny"}}, labels=False)
    >>> term = DistillTerm(cfg, student, input_size=(3, 32, 32))
    >>> term.layers, term.task_loss_weight
    (['layer1', 'layer2', 'layer3'], 0.0)
    >>> x = torch.randn(4, 3, 32, 32)
    >>> float(term.loss(student, (x, None), student(x))) > 0
    True
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from slimkit.distill.affinity import FeatureAdapter, fa_loss, ffa_loss
from slimkit.distill.config import DistillConfig
from slimkit.distill.kd import kd_kl, kd_mse
from slimkit.distill.teacher import build_teacher, freeze, place
from slimkit.engine.terms import TrainingTerm
from slimkit.measure._common import eval_mode, model_device_dtype

ADAPTERS = "distill_adapters"


def _trace_shapes(model: nn.Module, names: list[str], input_size: tuple[int, int, int]):
    """Output shapes of the named submodules on one zero batch (eval mode, no grad)."""
    shapes: dict[str, torch.Size] = {}

    def record(name: str):
        def hook(_m: nn.Module, _i: Any, out: Any) -> None:  # returns None: output unchanged
            if isinstance(out, torch.Tensor):
                shapes.setdefault(name, out.shape)

        return hook

    hooks = [model.get_submodule(n).register_forward_hook(record(n)) for n in names]
    device, dtype = model_device_dtype(model)
    try:
        with eval_mode(model), torch.no_grad():
            model(torch.zeros(2, *input_size, device=device, dtype=dtype))
    finally:
        for h in hooks:
            h.remove()
    return shapes


def default_feature_layers(model: nn.Module, input_size: tuple[int, int, int]) -> list[str]:
    """Names of the main stages' outputs: ``layer1, layer2, …`` when the network has them,
    ``stages.0, …`` for timm stage containers, else the last top-level module (Sequentials
    expanded one level) at each spatial resolution above 1×1.

    Example:
        >>> from slimkit.models import build_model
        >>> default_feature_layers(build_model("resnet8_tiny"), (3, 32, 32))
        ['layer1', 'layer2', 'layer3']
    """
    children = dict(model.named_children())
    layers = sorted((n for n in children if re.fullmatch(r"layer\d+", n)), key=lambda n: int(n[5:]))
    if layers:
        return layers
    if isinstance(children.get("stages"), nn.Sequential):
        return [f"stages.{n}" for n, _ in children["stages"].named_children()]
    names = []
    for n, child in children.items():
        if n == ADAPTERS:
            continue
        if isinstance(child, nn.Sequential):
            names += [f"{n}.{c}" for c, _ in child.named_children()]
        else:
            names.append(n)
    shapes = _trace_shapes(model, names, input_size)
    last: dict[tuple[int, int], str] = {}
    for n in names:  # module order; the last one at each resolution wins
        s = shapes.get(n)
        if s is not None and len(s) == 4 and s[-1] * s[-2] > 1:
            last[(s[-2], s[-1])] = n
    if not last:
        raise ValueError("layers: no 4-d feature maps found; name the layers explicitly")
    return list(last.values())


class _Capture:
    """Forward hooks that keep the latest outputs of named modules while ``enabled``."""

    def __init__(self, model: nn.Module, names: list[str], only_training: bool) -> None:
        self.out: dict[str, torch.Tensor] = {}
        self.handles = []
        for n in names:
            try:
                module = model.get_submodule(n)
            except AttributeError:
                raise ValueError(f"layers: {n!r} is not a module of the model") from None
            self.handles.append(module.register_forward_hook(self._hook(n, only_training)))

    def _hook(self, name: str, only_training: bool):
        def hook(module: nn.Module, _inputs: Any, output: Any) -> None:
            if not only_training or module.training:
                self.out[name] = output

        return hook

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


class DistillTerm(TrainingTerm):
    """Logit KD + feature affinity from a frozen teacher (see the module docstring).

    Args:
        cfg: the term's settings.
        model: the student.
        input_size: ``(C, H, W)`` of one input (to find layers and adapter widths).
        teacher: an already built teacher (default: built from ``cfg.teacher``).
        ctx: the run context (teacher from a stage, device, evaluation of the teacher).
    """

    def __init__(
        self,
        cfg: DistillConfig,
        model: nn.Module,
        *,
        input_size: tuple[int, int, int],
        teacher: nn.Module | None = None,
        ctx: Any = None,
    ) -> None:
        self.cfg = cfg
        self.ctx = ctx
        num_classes = _num_classes(model, input_size)
        if teacher is None:
            teacher = build_teacher(
                cfg.teacher,
                num_classes=num_classes,
                in_channels=input_size[0],
                run_dir=getattr(ctx, "run_dir", None),
                stage_index=getattr(ctx, "stage_index", None),
            )
        device, _ = model_device_dtype(model)
        channels_last = bool(getattr(ctx, "channels_last", False))
        self.teacher = place(freeze(teacher), device, channels_last)
        self.task_loss_weight = float(cfg.ce_weight) if cfg.labels else 0.0
        self.layers: list[str] = []
        self.teacher_layers: list[str] = []
        if cfg.feature_loss != "none":
            self.layers = cfg.layers or default_feature_layers(model, input_size)
            names = {n for n, _ in self.teacher.named_modules()}
            same = cfg.layers if cfg.layers and set(cfg.layers) <= names else None
            self.teacher_layers = (
                cfg.teacher_layers or same or default_feature_layers(self.teacher, input_size)
            )
            if len(self.layers) != len(self.teacher_layers):
                raise ValueError(
                    f"teacher_layers: the teacher has {len(self.teacher_layers)} feature layers "
                    f"{self.teacher_layers}, the student {len(self.layers)} {self.layers}; "
                    "name them with layers / teacher_layers"
                )
            shapes = _trace_shapes(model, self.layers, input_size)
            if cfg.adapter:
                adapters = nn.ModuleDict(
                    {_key(n): FeatureAdapter(int(shapes[n][1])) for n in self.layers}
                ).to(device)
                model.add_module(ADAPTERS, adapters)
        self._student = _Capture(model, self.layers, only_training=True)
        self._teacher = _Capture(self.teacher, self.teacher_layers, only_training=False)
        self.generator: torch.Generator | None = None
        self.sketches: dict[str, torch.Tensor] = {}
        self.history: list[dict[str, float]] = []
        self.teacher_top1: float | None = None
        self._sums: dict[str, torch.Tensor] = {}
        self._steps = 0

    @property
    def feature_key(self) -> str:
        """``distill_fa`` or ``distill_ffa``."""
        return f"distill_{self.cfg.feature_loss}"

    # -- hooks --------------------------------------------------------------------------------

    def on_train_start(self, model: nn.Module) -> None:
        self._measure_teacher()

    def _measure_teacher(self) -> None:
        if self.ctx is None or self.teacher_top1 is not None:
            return
        result = self.ctx.evaluate("eval teacher", model=self.teacher)
        self.teacher_top1 = float(result.top1)  # NaN for tasks without top-1
        self.ctx.echo(f"teacher {result.describe()}")

    def _sketch(self, name: str, feats: torch.Tensor) -> torch.Tensor | None:
        hw = feats.shape[-2] * feats.shape[-1]
        if self.generator is None or self.generator.device != feats.device:
            self.generator = torch.Generator(device=feats.device).manual_seed(self.cfg.seed)
        if not self.cfg.fixed_sketch:
            return torch.randn(
                feats.shape[0], hw, self.cfg.k, generator=self.generator, device=feats.device
            )
        if name not in self.sketches or self.sketches[name].shape[0] != hw:
            self.sketches[name] = torch.randn(
                hw, self.cfg.k, generator=self.generator, device=feats.device
            )
        return self.sketches[name].to(feats.device)

    def loss(
        self, model: nn.Module, batch: tuple[torch.Tensor, Any], outputs: torch.Tensor
    ) -> torch.Tensor | None:
        x = batch[0]  # the labels (batch[1]) are never read here
        with torch.no_grad():
            t_out = self.teacher(x)
        total = outputs.new_zeros((), dtype=torch.float32)
        parts: dict[str, torch.Tensor] = {}
        if self.cfg.kd != "none":
            if self.cfg.kd == "kl":
                kd = kd_kl(outputs, t_out, self.cfg.temperature)
            else:
                kd = kd_mse(outputs, t_out)
            parts["distill_kd"] = kd
            total = total + self.cfg.kd_weight * kd
        if self.layers:
            adapters = getattr(model, ADAPTERS, None)
            feat = outputs.new_zeros((), dtype=torch.float32)
            for s_name, t_name in zip(self.layers, self.teacher_layers, strict=True):
                fs = self._student.out.pop(s_name)
                ft = self._teacher.out.pop(t_name)
                if adapters is not None:
                    fs = adapters[_key(s_name)](fs)
                opts = {"order": self.cfg.order, "reduction": self.cfg.reduction}
                if self.cfg.feature_loss == "fa":
                    feat = feat + fa_loss(fs, ft, **opts)
                else:
                    sketch = self._sketch(s_name, fs)
                    feat = feat + ffa_loss(fs, ft, k=self.cfg.k, sketch=sketch, **opts)
            parts[self.feature_key] = feat
            total = total + self.cfg.fa_weight * feat
        for key, value in parts.items():
            prev = self._sums.get(key)
            value = value.detach().double()
            self._sums[key] = value if prev is None else prev + value
        self._steps += 1
        return total

    def on_train_end(self, model: nn.Module) -> None:
        if hasattr(model, ADAPTERS):
            delattr(model, ADAPTERS)
        self._student.remove()

    # -- reporting ----------------------------------------------------------------------------

    def epoch_metrics(self, model: nn.Module) -> dict[str, Any]:
        record: dict[str, Any] = {k: float(v) / max(1, self._steps) for k, v in self._sums.items()}
        self.history.append(dict(record))
        self._sums, self._steps = {}, 0
        record["labels_used"] = bool(self.cfg.labels)
        if self.teacher_top1 is not None:
            record["teacher_top1"] = self.teacher_top1
        return record

    def plots(self, out_dir: Path, tag: str = "") -> list[Path]:
        from slimkit.distill.plots import plot_distill_losses

        if not self.history:
            return []
        return plot_distill_losses(self.history, out_dir, f"distill_losses{tag}.png")

    def state_dict(self) -> dict[str, Any]:
        return {
            "history": self.history,
            "teacher_top1": self.teacher_top1,
            "generator": self.generator.get_state() if self.generator is not None else None,
            "generator_device": str(self.generator.device) if self.generator else None,
            "sketches": {k: v.cpu() for k, v in self.sketches.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = list(state["history"])
        self.teacher_top1 = state["teacher_top1"]
        if state["generator"] is not None:
            self.generator = torch.Generator(device=state["generator_device"])
            self.generator.set_state(state["generator"])
        self.sketches = dict(state["sketches"])


def _key(name: str) -> str:
    return name.replace(".", "_")


def _num_classes(model: nn.Module, input_size: tuple[int, int, int]) -> int:
    last = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if last:
        return int(last[-1].out_features)
    device, dtype = model_device_dtype(model)
    with eval_mode(model), torch.no_grad():
        return int(model(torch.zeros(1, *input_size, device=device, dtype=dtype)).shape[1])


def build_distill(cfg: DistillConfig, model: nn.Module, ctx: Any = None) -> DistillTerm:
    """Recipe factory of the ``distill`` term (gets the run context from the train stage).

    Distillation matches the teacher's outputs and features: ``classification`` takes every
    option; ``regression`` takes ``kd: mse`` or ``none`` (KL needs class logits); detection and
    segmentation models return losses or boxes in training, which no option matches: refused in
    one line. ``eye_openness`` (one openness logit) is distilled like ``regression``.
    """
    task = getattr(ctx, "task", None)
    name = getattr(task, "name", "classification")
    if name not in ("classification", "regression", "eye_openness"):
        raise ValueError(
            "terms.distill: needs the classification, regression or eye_openness task (teacher "
            f"and student outputs), got task.name={name!r}"
        )
    if name != "classification" and cfg.kd == "kl":
        raise ValueError(
            f"terms.distill.kd: 'kl' needs class logits, got task.name={name!r}; "
            "use kd: mse or kd: none"
        )
    input_size = ctx.input_size if ctx is not None else (3, 32, 32)
    return DistillTerm(cfg, model, input_size=input_size, ctx=ctx)
