"""Faster versions of a latent map ``f = E ∘ D``, as drop-in callables for ``lvf.iterate``.

Each wrapper takes a batch ``(B, *S)`` and returns ``(B, *S)``, like :class:`lvf.LatentMap`,
so ``lvf.iterate`` runs them unchanged. The benchmark suite (``benchmarks/run.py``, section 2)
measures each against the plain map and keeps what wins.

- :func:`plain_map`: the model's ``encode(decode(z))`` under ``torch.no_grad`` or
  ``torch.inference_mode``, optionally with channels-last weights or bf16 autocast.
- :class:`BucketedMap`: pads every batch up to one of a few *bucket* sizes and returns the
  first ``B`` rows, so a map compiled for static shapes (``torch.compile(dynamic=False)``)
  or captured in a CUDA graph only ever sees a handful of shapes while ``iterate``'s pool
  shrinks. Rows are independent (no batch normalisation in eval mode), so padding rows do
  not change the real ones.
- :class:`CudaGraphMap`: one CUDA graph per bucket size, replayed for every call (GPU only).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

__all__ = ["DEFAULT_BUCKETS", "BucketedMap", "CudaGraphMap", "compiled_map", "plain_map"]

DEFAULT_BUCKETS = (16, 64, 256, 1024, 4096)
"""Pool sizes a bucketed map is specialised for (a batch is padded to the next one up)."""


def plain_map(
    model: nn.Module,
    *,
    mode: str = "no_grad",
    autocast: torch.dtype | None = None,
    channels_last: bool = False,
) -> Callable[[Tensor], Tensor]:
    """``z -> model.encode(model.decode(z))`` with the chosen PyTorch execution options.

    Parameters
    ----------
    model
        An autoencoder with ``encode``/``decode`` (e.g. :class:`lvf.models.ConvAE`), in eval
        mode.
    mode
        ``"no_grad"`` (what :class:`lvf.LatentMap` does) or ``"inference_mode"``.
    autocast
        ``None`` for full precision, or a low-precision dtype (``torch.bfloat16``) run under
        ``torch.autocast`` on the latents' device; the output is cast back to the input's
        dtype so the iteration's bookkeeping stays in float32.
    channels_last
        Convert the model's 4-D weights to ``torch.channels_last`` (the decoder's feature
        maps then follow; in place on ``model``).

    Returns
    -------
    callable
        ``(B, k) -> (B, k)``.
    """
    if mode not in ("no_grad", "inference_mode"):
        raise ValueError(f"mode must be 'no_grad' or 'inference_mode', got {mode!r}")
    if channels_last:
        model.to(memory_format=torch.channels_last)
    grad_off = torch.no_grad if mode == "no_grad" else torch.inference_mode

    def f(z: Tensor) -> Tensor:
        cast = (  # no weight cache: it is unsafe inside CUDA-graph capture
            torch.autocast(z.device.type, dtype=autocast, cache_enabled=False)
            if autocast is not None
            else contextlib.nullcontext()
        )
        with grad_off(), cast:
            out = model.encode(model.decode(z))
        return out.to(z.dtype)

    return f


class BucketedMap:
    """Run ``fn`` on batches padded to a few fixed sizes; return the real rows only.

    Parameters
    ----------
    fn
        ``(B, *S) -> (B, *S)``, rows independent.
    buckets
        Increasing batch sizes. A batch of ``n`` rows is padded (with zeros) to the smallest
        bucket ``>= n``; a batch larger than the largest bucket is cut into chunks of it.
    """

    def __init__(self, fn: Callable[[Tensor], Tensor], buckets: Sequence[int] = DEFAULT_BUCKETS):
        if not buckets or any(b < 1 for b in buckets):
            raise ValueError(f"buckets must be positive sizes, got {buckets!r}")
        self.fn = fn
        self.buckets = tuple(sorted(set(int(b) for b in buckets)))

    def bucket(self, n: int) -> int:
        """The padded size used for a batch of ``n`` rows (``n <= max(buckets)``)."""
        return next(b for b in self.buckets if b >= n)

    def _run(self, z: Tensor) -> Tensor:
        n = z.shape[0]
        b = self.bucket(n)
        if b != n:
            z = torch.cat([z, z.new_zeros((b - n, *z.shape[1:]))])
        # a copy: a map compiled with mode="reduce-overhead" reuses its output buffers
        return self.fn(z)[:n].clone()

    def __call__(self, z: Tensor) -> Tensor:
        top = self.buckets[-1]
        if z.shape[0] <= top:
            return self._run(z)
        return torch.cat([self._run(z[s : s + top]) for s in range(0, z.shape[0], top)])


def compiled_map(
    fn: Callable[[Tensor], Tensor],
    *,
    dynamic: bool,
    buckets: Sequence[int] = DEFAULT_BUCKETS,
    mode: str | None = None,
) -> Callable[[Tensor], Tensor]:
    """``torch.compile`` a map for ``iterate``'s shrinking pool.

    ``dynamic=True`` compiles one shape-generic graph; ``dynamic=False`` compiles one graph
    per bucket of a :class:`BucketedMap` (at most ``len(buckets)`` compilations, each paid on
    the first call of that size).
    """
    import torch._dynamo

    torch._dynamo.config.cache_size_limit = max(
        torch._dynamo.config.cache_size_limit, 2 * len(buckets) + 2
    )
    compiled = torch.compile(fn, dynamic=dynamic, mode=mode)
    if dynamic:
        return compiled
    return BucketedMap(compiled, buckets)


class CudaGraphMap(BucketedMap):
    """One captured CUDA graph per bucket size; each call copies in, replays, copies out.

    Removes the per-kernel launch cost that dominates small batches on a GPU (the tail of
    ``iterate``'s pool). ``fn`` must be capturable: no host synchronisation, no
    data-dependent shapes (true for a plain conv AE's ``encode(decode(z))``).

    Parameters
    ----------
    fn
        ``(B, *S) -> (B, *S)`` on a CUDA device.
    latent_shape
        ``S``, the shape of one latent.
    device, dtype
        Of the latents.
    buckets
        Batch sizes to capture.
    """

    def __init__(
        self,
        fn: Callable[[Tensor], Tensor],
        latent_shape: Sequence[int],
        *,
        device: torch.device | str = "cuda",
        dtype: torch.dtype = torch.float32,
        buckets: Sequence[int] = DEFAULT_BUCKETS,
    ):
        super().__init__(fn, buckets)
        device = torch.device(device)
        if device.type != "cuda":
            raise ValueError("CudaGraphMap needs a CUDA device")
        self.graphs: dict[int, tuple[torch.cuda.CUDAGraph, Tensor, Tensor]] = {}
        pool = torch.cuda.graph_pool_handle()
        side = torch.cuda.Stream(device)
        # no_grad, not inference_mode: the static input is written in place on every call
        with torch.no_grad():
            for b in self.buckets:
                static_in = torch.zeros((b, *latent_shape), device=device, dtype=dtype)
                side.wait_stream(torch.cuda.current_stream(device))
                with torch.cuda.stream(side):
                    for _ in range(3):  # warm up (cuDNN autotuning, allocator) off the graph
                        fn(static_in)
                torch.cuda.current_stream(device).wait_stream(side)
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph, pool=pool):
                    static_out = fn(static_in)
                self.graphs[b] = (graph, static_in, static_out)
        torch.cuda.synchronize(device)

    def _run(self, z: Tensor) -> Tensor:
        n = z.shape[0]
        graph, static_in, static_out = self.graphs[self.bucket(n)]
        static_in[:n].copy_(z)
        graph.replay()
        return static_out[:n].clone()
