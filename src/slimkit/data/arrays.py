"""Reading image arrays from ``.npz`` files into uint8 ``(N, C, H, W)`` tensors."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from slimkit.data.npz_file import open_npz

_CACHE: OrderedDict[tuple, tuple[torch.Tensor, torch.Tensor, list[str] | None]] = OrderedDict()
_CACHE_SIZE = 4
_LOCK = threading.Lock()


def decode_x_enc(e: np.ndarray) -> np.ndarray:
    """Invert the lossless CIFAR encoding used in ``shared/data`` (key ``x_enc``).

    The stored transform is, modulo 256: colour ``(R-G, G, B-G)``, then a difference along H, then
    along W. Decoding is two cumulative sums and the colour inverse.

    Args:
        e: ``uint8`` array ``(N, H, W, 3)``.

    Returns:
        ``uint8`` RGB array ``(N, H, W, 3)``.

    Example:
        >>> import numpy as np
        >>> e = np.zeros((1, 2, 2, 3), np.uint8); e[0, 0, 0] = (5, 10, 20)
        >>> decode_x_enc(e)[0, 1, 1].tolist()  # R = (R-G) + G, B = (B-G) + G, cumulative
        [15, 10, 30]
    """
    c = np.cumsum(np.cumsum(e, axis=1, dtype=np.uint8), axis=2, dtype=np.uint8)
    g = c[..., 1]
    return np.stack([c[..., 0] + g, g, c[..., 2] + g], axis=-1)


def to_nchw(x: np.ndarray, *, field: str, path: str | os.PathLike[str]) -> torch.Tensor:
    """Convert an image array to a contiguous uint8 ``(N, C, H, W)`` tensor.

    Accepts ``(N, H, W)`` (grayscale), ``(N, H, W, C)`` or ``(N, C, H, W)`` with ``C`` in {1, 3}.
    When both layouts are possible, channels-last (HWC, the numpy/PIL convention) wins.

    Args:
        x: Image array, uint8 (or an integer array whose values lie in 0..255).
        field: Array name for error messages.
        path: File name for error messages.

    Returns:
        Contiguous ``uint8`` tensor ``(N, C, H, W)``.

    Example:
        >>> import numpy as np
        >>> to_nchw(np.zeros((2, 8, 8, 3), np.uint8), field="x", path="-").shape
        torch.Size([2, 3, 8, 8])
    """
    if x.dtype != np.uint8:
        if not np.issubdtype(x.dtype, np.integer) or (x.size and (x.min() < 0 or x.max() > 255)):
            raise ValueError(
                f"{field}: expected uint8 images (0..255) in {path}, got dtype {x.dtype}"
            )
        x = x.astype(np.uint8)
    if x.ndim == 3:
        x = x[:, None]  # (N, H, W) -> (N, 1, H, W)
    elif x.ndim == 4 and x.shape[-1] in (1, 3):
        x = x.transpose(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
    elif not (x.ndim == 4 and x.shape[1] in (1, 3)):
        raise ValueError(
            f"{field}: expected images (N,H,W,C) or (N,C,H,W) with C in {{1,3}} in {path}, "
            f"got shape {x.shape}"
        )
    return torch.from_numpy(np.ascontiguousarray(x))


def _first_key(z: np.lib.npyio.NpzFile, keys: tuple[str, ...], path: Path) -> str:
    for k in keys:
        if k in z.files:
            return k
    raise ValueError(
        f"{keys[0]}: key missing in {path} (expected one of {', '.join(keys)}; "
        f"found {', '.join(z.files)})"
    )


def load_npz_split(
    path: str | os.PathLike[str],
    *,
    x_keys: tuple[str, ...] = ("x", "x_enc"),
    y_keys: tuple[str, ...] = ("y",),
    class_keys: tuple[str, ...] = ("classes",),
) -> tuple[torch.Tensor, torch.Tensor, list[str] | None]:
    """Load images, labels and (optionally) class names from one ``.npz`` file.

    The first present key of each tuple is used; ``x_enc`` is decoded with :func:`decode_x_enc`.
    Results are cached in memory per (file, modification time), so loading the same file twice in
    one process is free. Treat the returned tensors as read-only.

    Args:
        path: The ``.npz`` file.
        x_keys: Candidate keys for the images.
        y_keys: Candidate keys for the labels.
        class_keys: Candidate keys for the class names (absent is allowed).

    Returns:
        ``(x, y, classes)``: uint8 ``(N, C, H, W)``, int64 ``(N,)``, list of names or ``None``.

    Example:
        >>> import numpy as np, tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "t.npz")
        >>> np.savez(p, x=np.zeros((3, 4, 4, 1), np.uint8), y=np.arange(3))
        >>> load_npz_split(p)[0].shape
        torch.Size([3, 1, 4, 4])
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"root: file {str(path)!r} does not exist")
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, x_keys, y_keys, class_keys)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    with open_npz(path) as z:
        xk = _first_key(z, x_keys, path)
        yk = _first_key(z, y_keys, path)
        x_np = z[xk]
        if xk == "x_enc":
            x_np = decode_x_enc(x_np)
        x = to_nchw(x_np, field=xk, path=path)
        y_np = z[yk]
        if not np.issubdtype(y_np.dtype, np.integer) or y_np.ndim != 1 or len(y_np) != len(x):
            raise ValueError(
                f"{yk}: expected {len(x)} integer labels in {path}, got {y_np.dtype} {y_np.shape}"
            )
        y = torch.from_numpy(y_np.astype(np.int64))
        ck = next((k for k in class_keys if k in z.files), None)
        classes = [str(c) for c in z[ck].tolist()] if ck is not None else None
    result = (x, y, classes)
    with _LOCK:
        _CACHE[key] = result
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return result
