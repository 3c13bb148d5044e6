"""Attention-free Fourier / image-domain backbones: AFFNet, AFIDAF, IDAF and HAFIDAF.

See ``../shared/papers/afidaf_affnet.md``; each module says which parts are the official AFFNet
code and which are reconstructions. Names are re-exported lazily, so
``slimkit.models.fourier.spectral`` can be imported (by the exporter) without timm.

Example:
    >>> import torch
    >>> from slimkit.models.fourier import AFFMixer
    >>> AFFMixer(16)(torch.randn(1, 16, 5, 5)).shape
    torch.Size([1, 16, 5, 5])
"""

from slimkit._lazy import lazy_exports

_P = "slimkit.models.fourier."
_EXPORTS = {
    "AFFMixer": _P + "aff_mixer",
    "check_groups": _P + "aff_mixer",
    "VARIANTS": _P + "affnet",
    "AFFNet": _P + "affnet",
    "AFFNetConfig": _P + "affnet",
    "FourierBlock": _P + "blocks",
    "FourierStage": _P + "blocks",
    "InvertedResidual": _P + "blocks",
    "HAFIDAF": _P + "hafidaf",
    "hafidaf_mini": _P + "hafidaf",
    "swin_mini": "slimkit.models.vit",
    "ImageDomainFilter": _P + "image_filter",
    "channel_shuffle": _P + "image_filter",
    "fft_backend": _P + "spectral",
    "irfft2": _P + "spectral",
    "rfft2": _P + "spectral",
    "spectral_modules": _P + "spectral",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
