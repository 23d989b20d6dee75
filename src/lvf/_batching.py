"""Applying a network to many inputs a batch at a time (private helper of the protocols).

Every protocol encodes or decodes thousands of inputs; sending them through the network at
once can exhaust a GPU's memory (4,096 Stable Diffusion latents), so each does it through
:func:`batched`, which honours the protocol's ``batch_size``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


@torch.no_grad()
def batched(
    fn: Callable[[Tensor], Tensor],
    x: Tensor,
    batch_size: int,
    *,
    device: torch.device | str | None = None,
    out_device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """``torch.cat([fn(b) for b in x.split(batch_size)])`` without gradients.

    Parameters
    ----------
    fn
        Maps a batch ``(B, *S_in)`` to ``(B, *S_out)``; never sees more than ``batch_size`` rows.
    x
        ``(N, *S_in)`` inputs.
    device
        Each batch is moved there before ``fn`` (default: left where it is).
    out_device, dtype
        Each output batch is moved / cast there (default: left as ``fn`` returns it).

    Returns
    -------
    Tensor, shape (N, *S_out)
    """
    out = []
    for b in x.split(batch_size):
        y = fn(b if device is None else b.to(device))
        out.append(y.to(device=out_device, dtype=dtype))
    return torch.cat(out)
