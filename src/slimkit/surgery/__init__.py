"""Channel surgery: physically remove BN-scaled channels through torch-pruning's dependency graph.

Typical Network Slimming flow: find the coupled groups, choose channels from the BN scales, mask
them (gamma = beta = 0; the accuracy "pruned, not fine-tuned" is measured here), then remove them.
Removing masked channels changes no output beyond float rounding.

Importing this package registers the artifact edits ``"prune_channels"`` and
``"shortcut_a_to_b"``, so saved artifacts that used them can be loaded.

Example:
    >>> import torch
    >>> from slimkit.models import build_model
    >>> model, x = build_model("resnet8_tiny").eval(), torch.randn(2, 3, 32, 32)
    >>> groups = channel_groups(model, x)
    >>> removal = select_channels(groups, "threshold", percent=0.3)
    >>> mask_channels(model, removal, groups=groups)
    >>> before = model(x)
    >>> after = prune_channels(model, removal, x)(x)
    >>> bool((before - after).abs().max() <= 1e-5)
    True
"""

from slimkit.surgery.edits import prune_channels_edit, shortcut_a_to_b_edit
from slimkit.surgery.filters import (
    FilterGroup,
    filter_groups,
    mask_filters,
    removable_channels,
    select_zero_filters,
    weight_zeros,
)
from slimkit.surgery.graph import build_graph, check_prunable
from slimkit.surgery.groups import (
    ChannelGroup,
    cached_groups,
    channel_groups,
    channels_per_layer,
)
from slimkit.surgery.prune import mask_channels, prune_channels
from slimkit.surgery.select import RULES, select_channels
from slimkit.surgery.widths import refresh_widths

__all__ = [
    "RULES",
    "ChannelGroup",
    "FilterGroup",
    "build_graph",
    "cached_groups",
    "channel_groups",
    "channels_per_layer",
    "check_prunable",
    "filter_groups",
    "mask_channels",
    "mask_filters",
    "prune_channels",
    "prune_channels_edit",
    "refresh_widths",
    "removable_channels",
    "select_channels",
    "select_zero_filters",
    "shortcut_a_to_b_edit",
    "weight_zeros",
]
