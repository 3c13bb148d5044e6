"""Channel surgery: physically remove BN-scaled channels through torch-pruning's dependency graph.

Typical Network Slimming flow: find the coupled groups, choose channels from the BN scales, mask
them (gamma = beta = 0; the accuracy "pruned, not fine-tuned" is measured here), then remove them.
Removing masked channels changes no output beyond float rounding.

The artifact edits ``"prune_channels"`` and ``"shortcut_a_to_b"`` (:mod:`slimkit.surgery.edits`) are
declared in :mod:`slimkit.builtins`, so saved artifacts that used them can be loaded.

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

Public names are re-exported lazily (:mod:`slimkit._lazy`): importing the package imports
no submodule until a name is used.
"""

from slimkit._lazy import lazy_exports

_EXPORTS = {
    "prune_channels_edit": "slimkit.surgery.edits",
    "shortcut_a_to_b_edit": "slimkit.surgery.edits",
    "FilterGroup": "slimkit.surgery.filters",
    "filter_groups": "slimkit.surgery.filters",
    "mask_filters": "slimkit.surgery.filters",
    "removable_channels": "slimkit.surgery.filters",
    "select_zero_filters": "slimkit.surgery.filters",
    "weight_zeros": "slimkit.surgery.filters",
    "build_graph": "slimkit.surgery.graph",
    "check_prunable": "slimkit.surgery.graph",
    "ChannelGroup": "slimkit.surgery.groups",
    "cached_groups": "slimkit.surgery.groups",
    "channel_groups": "slimkit.surgery.groups",
    "channels_per_layer": "slimkit.surgery.groups",
    "mask_channels": "slimkit.surgery.prune",
    "prune_channels": "slimkit.surgery.prune",
    "RULES": "slimkit.surgery.select",
    "select_budget": "slimkit.surgery.select",
    "select_channels": "slimkit.surgery.select",
    "refresh_widths": "slimkit.surgery.widths",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
