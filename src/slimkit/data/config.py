"""The recipe's ``data`` section and its ``augment`` settings (torch-free).

:class:`Augment` is both the recipe section ``data.augment`` and the object the loader takes
(:class:`slimkit.data.BatchLoader`); the tensor operation that applies it is
:func:`slimkit.data.augment.crop_flip`.

Example:
    >>> Augment(crop_padding=0).active, Augment(crop_padding=0, hflip=False).active
    (True, False)
    >>> DataConfig(name="cifar10").augment.crop_padding
    4
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from slimkit.config import Config, ConfigError, _one_line

__all__ = ["Augment", "AugmentConfig", "DataConfig"]


class Augment(Config):
    """Training-time batched augmentation.

    Attributes:
        crop_padding: Zero padding on each side before a random crop back to the original size
            (the image is shifted by up to ``crop_padding`` pixels); 0 disables the crop.
        hflip: Flip each image horizontally with probability 1/2.
    """

    crop_padding: int = Field(4, ge=0, strict=True)
    hflip: bool = Field(True, strict=True)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:  # Python callers get the recipe's one-line message
            raise ConfigError(_one_line(exc, "augment")) from None

    @property
    def active(self) -> bool:
        """Whether this augmentation changes any image."""
        return self.crop_padding > 0 or self.hflip


AugmentConfig = Augment  # the recipe section's former name


class DataConfig(Config):
    """Dataset, subset, validation split and batching.

    ``val_fraction`` / ``val_per_class`` carve a validation split out of the training set
    (:func:`slimkit.data.split.carve_val`; give at most one); without them ``val_source: test``
    reports the test split as validation and ``none`` has no validation split.
    """

    name: str = "digits"
    root: str | None = None
    download: bool = False
    subset_per_class: int | None = Field(None, ge=1)
    test_subset_per_class: int | None = Field(None, ge=1)
    batch_size: int = Field(128, ge=1)
    drop_last: bool = Field(
        True, description="drop the last partial training batch (false: a smaller last batch)"
    )
    eval_batch_size: int = Field(512, ge=1)
    augment: Augment | None = Field(default_factory=Augment)
    mean: list[float] | None = None
    std: list[float] | None = None
    kwargs: dict[str, Any] = Field(default_factory=dict)
    val_fraction: float | None = Field(None, gt=0, lt=1)
    val_per_class: int | None = Field(None, ge=1)
    val_source: Literal["none", "test"] = "none"

    @field_validator("std")
    @classmethod
    def _positive_std(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and not all(v > 0 for v in value):
            raise ValueError("every std must be > 0 (inputs are divided by it)")
        return value

    @model_validator(mode="after")
    def _one_val_rule(self) -> DataConfig:
        if self.mean is not None and self.std is not None and len(self.mean) != len(self.std):
            raise ValueError(
                f"data.mean has {len(self.mean)} values but data.std has {len(self.std)}; "
                "give one per input channel"
            )
        if self.val_fraction is not None and self.val_per_class is not None:
            raise ValueError(
                "give exactly one of data.val_fraction and data.val_per_class, got "
                f"val_fraction={self.val_fraction!r}, val_per_class={self.val_per_class!r}"
            )
        carved = self.val_fraction is not None or self.val_per_class is not None
        if carved and self.val_source == "test":
            raise ValueError(
                "data.val_source: 'test' reuses the test split, but a validation split is also "
                "carved from train (val_fraction/val_per_class); give one of them"
            )
        return self
