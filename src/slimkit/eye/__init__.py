"""Eye-closeness estimation: a synthetic eye renderer with exact openness labels."""

from slimkit.eye.render import EyeBatch, render, render_eyes, sample_identities, sweep_identities
from slimkit.eye.sheet import contact_sheet

__all__ = [
    "EyeBatch",
    "contact_sheet",
    "render",
    "render_eyes",
    "sample_identities",
    "sweep_identities",
]
