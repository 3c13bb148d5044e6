"""torch-pruning's view of the AFF Fourier mixer: a channel-wise layer with 8 mask groups.

:class:`~slimkit.models.fourier.AFFMixer` maps channel ``c`` to channel ``c`` (input and output
channels are coupled, like a BatchNorm) through a block-diagonal complex MLP of ``K`` equal blocks.
Removing channels is therefore only possible when every block loses the same number, so the width
stays a multiple of ``K``; :class:`AFFMixerPruner` slices the inputs of ``w1`` and the outputs of
``w2, b2`` block by block and refuses anything else with a one-line error naming the layer. The mask
MLP's hidden units are not channels (their bias makes them non-zero on a zero input), so they all
stay: removing channels that are 0 changes no kept output. Registering it also keeps
torch-pruning from tracing the FFT and the einsums inside the mixer.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch_pruning as tp
from torch import nn

from slimkit.models.fourier.aff_mixer import AFFMixer

__all__ = ["FOURIER_PRUNERS", "AFFMixerPruner", "mixer_keep"]


def mixer_keep(layer: AFFMixer, idxs: Sequence[int], name: str = "") -> torch.Tensor:
    """Kept in-block positions, shape ``(K, d')``, after removing the channels ``idxs``.

    Raises:
        ValueError: if the blocks would lose different numbers of channels, or all of them.
    """
    d = layer.channels // layer.groups
    drop = torch.zeros(layer.channels, dtype=torch.bool)
    drop[torch.as_tensor([int(i) for i in idxs], dtype=torch.long)] = True
    per_group = drop.view(layer.groups, d)
    counts = per_group.sum(dim=1).tolist()
    where = name or f"AFFMixer({layer.channels})"
    if len(set(counts)) != 1:
        raise ValueError(
            f"{where}: the Fourier mask's {layer.groups} groups must lose the same number of "
            f"channels (the width stays a multiple of {layer.groups}); asked to remove {counts}"
        )
    if counts[0] == d:
        raise ValueError(f"{where}: removing all {layer.channels} channels empties the mixer")
    return torch.stack([torch.nonzero(~row).flatten() for row in per_group])


class AFFMixerPruner(tp.pruner.BasePruningFunc):
    """Prunes an :class:`AFFMixer`'s channels, equally in each of its ``K`` mask blocks."""

    TARGET_MODULES = (AFFMixer,)

    def prune_out_channels(self, layer: AFFMixer, idxs: Sequence[int]) -> AFFMixer:
        keep = mixer_keep(layer, idxs)
        with torch.no_grad():  # w: (2, K, inputs, hidden) then (2, K, hidden, outputs)
            w1 = [layer.w1[:, k][:, kept, :] for k, kept in enumerate(keep)]
            w2 = [layer.w2[:, k][:, :, kept] for k, kept in enumerate(keep)]
            b2 = [layer.b2[:, k][:, kept] for k, kept in enumerate(keep)]
            layer.w1 = nn.Parameter(torch.stack(w1, dim=1).contiguous())
            layer.w2 = nn.Parameter(torch.stack(w2, dim=1).contiguous())
            layer.b2 = nn.Parameter(torch.stack(b2, dim=1).contiguous())
        layer.channels = layer.groups * keep.shape[1]
        return layer

    prune_in_channels = prune_out_channels

    def get_out_channels(self, layer: AFFMixer) -> int:
        return layer.channels

    def get_in_channels(self, layer: AFFMixer) -> int:
        return layer.channels


FOURIER_PRUNERS = {AFFMixer: AFFMixerPruner()}
