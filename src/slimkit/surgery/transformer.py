"""Transformer dimension surgery: remove embedding dims, attention heads and MLP units physically.

Works on timm's ``VisionTransformer`` (ViT, DeiT, also distilled DeiT) and ``SwinTransformer``,
and on any model that contains their blocks (e.g. an FCOS detector on a ``features_only`` Swin:
heads and MLP units only, since a block's output width feeds layers outside the transformer).
Three dimension kinds (SiDT, digest ``sidt_rarts_eye.md`` §2.3; which kinds SiDT searches is
[reconstructed]):

- ``heads``: whole attention heads of one block: rows of ``qkv`` (q, k and v of the head) and
  columns of ``proj``; Swin also drops the head's column of the relative position bias table.
  ``head_dim`` and the attention scale ``head_dim**-0.5`` stay as they are, so removing a head
  whose output is zero (zero gate folded into ``proj``) is exact.
- ``mlp``: hidden units of one block's MLP: rows of ``fc1``, columns of ``fc2``; exact when the
  unit's ``fc2`` column is zero.
- ``embed`` (ViT only): dims of the residual stream shared by every block: patch embedding,
  class/register/distillation tokens, position embedding, every LayerNorm, ``qkv``/``fc1``
  inputs, ``proj``/``fc2`` outputs, LayerScale, the head. Not exact even when the dims are zero:
  LayerNorm's mean and variance are taken over the remaining dims (measure it; fine-tune).

The timm attributes that describe widths are made true again (``num_heads``, ``attn_dim``,
``embed_dim``, ``num_features``, ``head_hidden_size``, ``feature_info``, ``in/out_features``,
``normalized_shape``), so the result is a plain timm module: it trains, saves as an artifact (the
removal replays as the ``prune_dims`` edit), exports to ONNX.

A removal is plain data: ``{"embed": [dims], "heads": {block: [heads]}, "mlp": {block: [units]}}``
with block names as in ``named_modules`` (``blocks.3``, ``layers.1.blocks.0``).

Example:
    >>> import torch
    >>> from slimkit.models.vit import vit_tiny_digits
    >>> net = vit_tiny_digits().eval()
    >>> searchable_dims(net)["heads"]["blocks.0"]
    3
    >>> _ = prune_dims(net, {"heads": {"blocks.0": [1]}, "mlp": {"blocks.2": [0, 5]}})
    >>> net.blocks[0].attn.num_heads, net.blocks[2].mlp.fc1.out_features
    (2, 190)
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

__all__ = [
    "DIM_KINDS",
    "DimSurgeryError",
    "attention_blocks",
    "mask_dims",
    "prune_dims",
    "prune_dims_edit",
    "searchable_dims",
    "searched_module",
    "transformer_family",
]

DIM_KINDS = ("embed", "heads", "mlp")
Removal = dict[str, Any]


class DimSurgeryError(ValueError):
    """A model or a removal that transformer dimension surgery cannot handle (one-line message)."""


def _block_types() -> tuple[type, ...]:
    from timm.models.swin_transformer import SwinTransformerBlock
    from timm.models.vision_transformer import Block, ResPostBlock

    return (Block, ResPostBlock, SwinTransformerBlock)


def transformer_family(model: nn.Module) -> str:
    """``"vit"`` or ``"swin"`` for a timm ViT/DeiT or Swin; ``"blocks"`` for a model that contains
    their blocks (a detector on a ``features_only`` Swin, say: heads and MLP units are searchable,
    the shared embedding is not); a one-line error for any other model (no attention to search)."""
    from timm.models.swin_transformer import SwinTransformer
    from timm.models.vision_transformer import VisionTransformer

    if isinstance(model, VisionTransformer):
        return "vit"
    if isinstance(model, SwinTransformer):
        return "swin"
    if any(isinstance(m, _block_types()) for m in model.modules()):
        return "blocks"
    raise DimSurgeryError(
        f"model {type(model).__name__} has no attention blocks that dimension search knows "
        "(timm VisionTransformer/DeiT or SwinTransformer, or a model that contains their blocks)"
    )


def attention_blocks(model: nn.Module) -> dict[str, nn.Module]:
    """Block name -> timm block with ``attn`` (``qkv``, ``proj``) and ``mlp`` (``fc1``, ``fc2``)."""
    from timm.layers import Mlp

    family = transformer_family(model)
    prefix = {"vit": "blocks.", "swin": "layers."}.get(family, "")
    blocks = {}
    for name, module in model.named_modules():
        if not name.startswith(prefix) or not hasattr(module, "attn"):
            continue
        if family == "blocks" and not isinstance(module, _block_types()):
            continue
        attn, mlp = module.attn, getattr(module, "mlp", None)
        if not (hasattr(attn, "qkv") and hasattr(attn, "proj") and type(mlp) is Mlp):
            raise DimSurgeryError(
                f"block {name} ({type(module).__name__}) has no fused qkv/proj attention and "
                "plain Mlp; dimension surgery supports timm's standard blocks only"
            )
        if getattr(attn, "gate", None) is not None or not isinstance(
            getattr(attn, "norm", nn.Identity()), nn.Identity
        ):
            raise DimSurgeryError(f"block {name}: gated or scale-normed attention is not supported")
        blocks[name] = module
    if not blocks:
        raise DimSurgeryError(f"model {type(model).__name__} has no attention blocks")
    return blocks


def searched_module(model: nn.Module) -> tuple[str, nn.Module]:
    """The smallest submodule that holds every attention block (``("", model)`` for a plain
    ViT/Swin; the backbone's transformer inside a detector): what a budget and the output change
    are measured on."""
    if transformer_family(model) != "blocks":
        return "", model
    parts = [name.split(".") for name in attention_blocks(model)]
    common = os.path.commonprefix(parts)  # element-wise on lists: the shared leading names
    if len(parts) == 1 or len(common) == len(parts[0]):
        common = common[:-1]  # one block: its parent
    name = ".".join(common)
    return name, model.get_submodule(name) if name else model


def _head_dim(attn: nn.Module) -> int:
    return attn.qkv.out_features // (3 * attn.num_heads)


def searchable_dims(model: nn.Module) -> dict[str, dict[str, int]]:
    """Kind -> group name -> size. ``embed`` (ViT only) is one group named ``embed``."""
    blocks = attention_blocks(model)
    dims: dict[str, dict[str, int]] = {}
    if transformer_family(model) == "vit":
        dims["embed"] = {"embed": int(model.embed_dim)}
    dims["heads"] = {n: int(b.attn.num_heads) for n, b in blocks.items()}
    dims["mlp"] = {n: int(b.mlp.fc1.out_features) for n, b in blocks.items()}
    return dims


def check_kinds(model: nn.Module, kinds: list[str] | tuple[str, ...]) -> None:
    """One-line error naming a kind that ``model`` does not have."""
    have = searchable_dims(model)
    for kind in kinds:
        if kind not in have:
            raise DimSurgeryError(
                f"dimension kind {kind!r} is not searchable on {type(model).__name__} "
                f"(it has: {', '.join(have)})"
            )


# -- slicing helpers ------------------------------------------------------------------------


def _param(t: torch.Tensor, requires_grad: bool) -> nn.Parameter:
    return nn.Parameter(t.detach().clone().contiguous(), requires_grad=requires_grad)


def _linear_keep(
    linear: nn.Linear, rows: torch.Tensor | None = None, cols: torch.Tensor | None = None
):
    w = linear.weight
    new = w.data
    if rows is not None:
        new = new[rows]
        if linear.bias is not None:
            linear.bias = _param(linear.bias.data[rows], linear.bias.requires_grad)
        linear.out_features = int(rows.numel())
    if cols is not None:
        new = new[:, cols]
        linear.in_features = int(cols.numel())
    linear.weight = _param(new, w.requires_grad)


def _norm_keep(norm: nn.Module, keep: torch.Tensor) -> None:
    if isinstance(norm, nn.Identity):
        return
    if not isinstance(norm, nn.LayerNorm):
        raise DimSurgeryError(f"cannot narrow a {type(norm).__name__}; only LayerNorm is supported")
    norm.normalized_shape = (int(keep.numel()),)
    if norm.weight is not None:
        norm.weight = _param(norm.weight.data[keep], norm.weight.requires_grad)
    if norm.bias is not None:
        norm.bias = _param(norm.bias.data[keep], norm.bias.requires_grad)


def _scale_keep(layer_scale: nn.Module, keep: torch.Tensor) -> None:
    gamma = getattr(layer_scale, "gamma", None)
    if gamma is not None:
        layer_scale.gamma = _param(gamma.data[keep], gamma.requires_grad)


def _keep_index(size: int, removed: list[int], what: str) -> torch.Tensor:
    bad = [i for i in removed if not 0 <= int(i) < size]
    if bad:
        raise DimSurgeryError(f"{what}: index {bad[0]} is out of range for size {size}")
    drop = {int(i) for i in removed}
    if len(drop) >= size:
        raise DimSurgeryError(f"{what}: removing all {size} would empty it; keep at least one")
    return torch.tensor([i for i in range(size) if i not in drop], dtype=torch.long)


def _head_rows(keep_heads: torch.Tensor, num_heads: int, head_dim: int) -> torch.Tensor:
    """Rows of a fused qkv (q, k, v stacked) for the kept heads."""
    per_head = (keep_heads[:, None] * head_dim + torch.arange(head_dim)[None]).reshape(-1)
    attn_dim = num_heads * head_dim
    return torch.cat([part * attn_dim + per_head for part in range(3)])


def head_columns(keep_heads: torch.Tensor, head_dim: int) -> torch.Tensor:
    """Columns of ``proj`` (the concatenated head outputs) for the kept heads."""
    return (keep_heads[:, None] * head_dim + torch.arange(head_dim)[None]).reshape(-1)


# -- the three kinds ------------------------------------------------------------------------


def _prune_heads(name: str, block: nn.Module, removed: list[int]) -> None:
    attn = block.attn
    heads, head_dim = int(attn.num_heads), _head_dim(attn)
    keep = _keep_index(heads, removed, f"heads of {name}")
    _linear_keep(attn.qkv, rows=_head_rows(keep, heads, head_dim))
    _linear_keep(attn.proj, cols=head_columns(keep, head_dim))
    attn.num_heads = int(keep.numel())
    if hasattr(attn, "attn_dim"):
        attn.attn_dim = attn.num_heads * head_dim
    table = getattr(attn, "relative_position_bias_table", None)
    if table is not None:  # Swin: one bias column per head
        attn.relative_position_bias_table = _param(table.data[:, keep], table.requires_grad)


def _prune_mlp(name: str, block: nn.Module, removed: list[int]) -> None:
    mlp = block.mlp
    keep = _keep_index(mlp.fc1.out_features, removed, f"mlp units of {name}")
    _linear_keep(mlp.fc1, rows=keep)
    _norm_keep(mlp.norm, keep)
    _linear_keep(mlp.fc2, cols=keep)


def _token_keep(model: nn.Module, attr: str, keep: torch.Tensor) -> None:
    token = getattr(model, attr, None)
    if isinstance(token, nn.Parameter):
        setattr(model, attr, _param(token.data[..., keep], token.requires_grad))


def _prune_embed(model: nn.Module, blocks: dict[str, nn.Module], removed: list[int]) -> None:
    if getattr(model, "attn_pool", None) is not None:
        raise DimSurgeryError("embed: attention-pool heads (global_pool='map') are not supported")
    keep = _keep_index(int(model.embed_dim), removed, "embed dims")
    proj = model.patch_embed.proj
    if not isinstance(proj, nn.Conv2d):
        raise DimSurgeryError(f"embed: patch embedding {type(proj).__name__} is not a Conv2d")
    proj.weight = _param(proj.weight.data[keep], proj.weight.requires_grad)
    if proj.bias is not None:
        proj.bias = _param(proj.bias.data[keep], proj.bias.requires_grad)
    proj.out_channels = int(keep.numel())
    _norm_keep(model.patch_embed.norm, keep)
    for attr in ("cls_token", "reg_token", "dist_token", "pos_embed"):
        _token_keep(model, attr, keep)
    _norm_keep(model.norm_pre, keep)
    for block in blocks.values():
        _norm_keep(block.norm1, keep)
        _linear_keep(block.attn.qkv, cols=keep)
        _linear_keep(block.attn.proj, rows=keep)
        _scale_keep(block.ls1, keep)
        _norm_keep(block.norm2, keep)
        _linear_keep(block.mlp.fc1, cols=keep)
        _linear_keep(block.mlp.fc2, rows=keep)
        _scale_keep(block.ls2, keep)
    _norm_keep(model.norm, keep)
    _norm_keep(model.fc_norm, keep)
    for head in ("head", "head_dist"):
        layer = getattr(model, head, None)
        if isinstance(layer, nn.Linear):
            _linear_keep(layer, cols=keep)
    width = int(keep.numel())
    model.embed_dim = model.num_features = width
    if hasattr(model, "head_hidden_size"):
        model.head_hidden_size = width
    for info in getattr(model, "feature_info", []) or []:
        info["num_chs"] = width


def prune_dims(model: nn.Module, removal: Removal) -> nn.Module:
    """Remove the dims in ``removal`` from ``model`` (in place); returns ``model``.

    Raises:
        DimSurgeryError: unknown kind or block, an index out of range, a group emptied, or
            ``embed`` on a model without a shared embedding (Swin).
    """
    blocks = attention_blocks(model)
    unknown = set(removal) - set(DIM_KINDS)
    if unknown:
        raise DimSurgeryError(
            f"unknown dimension kind {sorted(unknown)[0]!r}; use {', '.join(DIM_KINDS)}"
        )
    check_kinds(model, [k for k, v in removal.items() if v])
    for kind in ("heads", "mlp"):
        for name, removed in (removal.get(kind) or {}).items():
            if name not in blocks:
                raise DimSurgeryError(f"{kind}: no attention block named {name!r}")
            if removed:
                (_prune_heads if kind == "heads" else _prune_mlp)(name, blocks[name], list(removed))
    if removal.get("embed"):
        _prune_embed(model, blocks, list(removal["embed"]))
    return model


def prune_dims_edit(module: nn.Module, removal: Removal) -> nn.Module:
    """Artifact edit ``prune_dims``: :func:`prune_dims` with plain-data parameters.

    Example:
        >>> from slimkit.artifacts import SlimModel
        >>> handle = SlimModel.build("vit_tiny_digits", num_classes=10, input_size=(3, 32, 32))
        >>> handle.apply_edit("prune_dims", removal={"embed": [0, 1, 2]})
        >>> handle.module.embed_dim
        45
    """
    return prune_dims(module, removal)


@torch.no_grad()
def mask_dims(model: nn.Module, removal: Removal) -> None:
    """Zero what :func:`prune_dims` would remove, so heads and MLP units contribute nothing (their
    removal is then exact) and removed embed dims are zero in the residual stream."""
    blocks = attention_blocks(model)
    for name, removed in (removal.get("heads") or {}).items():
        attn = blocks[name].attn
        d = _head_dim(attn)
        cols = head_columns(torch.tensor(sorted(int(h) for h in removed), dtype=torch.long), d)
        attn.proj.weight[:, cols] = 0
    for name, removed in (removal.get("mlp") or {}).items():
        blocks[name].mlp.fc2.weight[:, list(removed)] = 0
    dims = list(removal.get("embed") or [])
    if dims:
        proj = model.patch_embed.proj
        proj.weight[dims] = 0
        if proj.bias is not None:
            proj.bias[dims] = 0
        for attr in ("cls_token", "reg_token", "dist_token", "pos_embed"):
            token = getattr(model, attr, None)
            if isinstance(token, nn.Parameter):
                token[..., dims] = 0
        for norm in (model.patch_embed.norm, model.norm_pre):
            if isinstance(norm, nn.LayerNorm):
                norm.weight[dims] = 0
                norm.bias[dims] = 0
        for block in blocks.values():
            for linear in (block.attn.proj, block.mlp.fc2):
                linear.weight[dims] = 0
                if linear.bias is not None:
                    linear.bias[dims] = 0
