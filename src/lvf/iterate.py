"""Fixed-point iteration ``z_{t+1} = f(z_t)`` for a batch of starts, with per-point early exit.

The paper (App. D) iterates every start until the squared step length
``‖z_{t+1} - z_t‖²₂`` (summed over all latent dimensions, not averaged) falls below a
tolerance — ``1e-6`` within 3,000 steps for small autoencoders, ``1e-5`` within 500 for
foundation models. Starts converge at very different speeds, so iterating the whole batch
until its slowest point settles wastes most of the work. :func:`iterate` keeps a pool of at
most ``batch_size`` active points: a point leaves the pool the step it converges (or
diverges, or runs out of steps) and a waiting start takes its place. The work therefore
follows the number of point-steps actually needed, and memory stays bounded for any N.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["IterationResult", "iterate"]

_RECORD_CHOICES = (None, "norms", "trajectory")


@dataclass
class IterationResult:
    """Outcome of :func:`iterate` for ``N`` starts with latent shape ``S``.

    Attributes
    ----------
    final
        ``(N, *S)`` on the device and dtype of the starts: the last iterate. For a
        converged point, the first ``z_{t+1}`` with ``‖z_{t+1} - z_t‖² < tol``; for a
        diverged point, the last finite iterate before it left the bound.
    steps
        ``(N,)`` int64: number of applications of ``f`` made for each point.
    converged
        ``(N,)`` bool: the step criterion was met within ``max_steps``.
    diverged
        ``(N,)`` bool: an iterate was non-finite or beyond ``max_norm``.
    norms
        ``(N, T)`` float, CPU, only with ``record="norms"``: squared step norm
        ``‖z_{t+1} - z_t‖²`` at step ``t`` (column ``t``), NaN after the point stopped.
    trajectory
        ``(N, L, *S)`` float, CPU, only with ``record="trajectory"``: the iterates
        ``z_0, z_s, z_{2s}, …`` (stride ``s``) followed by the final iterate, NaN-padded.
    lengths
        ``(N,)`` int64, with ``record="trajectory"``: number of recorded points per start.
    """

    final: Tensor
    steps: Tensor
    converged: Tensor
    diverged: Tensor
    norms: Tensor | None = None
    trajectory: Tensor | None = None
    lengths: Tensor | None = None

    def trajectory_of(self, i: int) -> Tensor:
        """The recorded trajectory of start ``i`` without padding, ``(L_i, *S)``."""
        if self.trajectory is None or self.lengths is None:
            raise ValueError("no trajectory was recorded: call iterate(..., record='trajectory')")
        return self.trajectory[i, : int(self.lengths[i])]

    def __repr__(self) -> str:
        n = self.final.shape[0]
        return (
            f"IterationResult(N={n}, converged={int(self.converged.sum())}, "
            f"diverged={int(self.diverged.sum())}, "
            f"steps: median {float(self.steps.float().median()) if n else 0:.0f}, "
            f"max {int(self.steps.max()) if n else 0})"
        )


CPU_CHUNK = 256
"""Rows per call of ``f`` on the CPU when ``chunk_size`` is not given. Batches whose
activations fit the caches run fastest there: for the Table-4 conv AE, 256-row calls give
about 1.5x the points per second of 4096-row calls, for the small MLP AE about 2x
(``benchmarks/README.md``)."""


def _check_inputs(f, z0, tol, max_steps, record, stride, batch_size, max_norm) -> None:
    if not callable(f):
        raise TypeError(
            f"iterate needs a callable map f(z) -> z, got {type(f).__name__}. "
            "Wrap an autoencoder as lvf.LatentMap(model.encode, model.decode)."
        )
    if not isinstance(z0, Tensor):
        raise TypeError(f"z0 must be a torch.Tensor of starts (N, ...), got {type(z0).__name__}")
    if z0.ndim < 2:
        raise ValueError(
            f"z0 must be a batch of starts with shape (N, *latent_shape); got shape "
            f"{tuple(z0.shape)}. For a single start use z0[None]."
        )
    if z0.shape[0] == 0:
        raise ValueError("z0 is an empty batch (N = 0): give at least one start")
    if not z0.is_floating_point():
        raise TypeError(f"z0 must be a floating-point tensor, got dtype {z0.dtype}")
    bad = ~torch.isfinite(z0.reshape(z0.shape[0], -1)).all(dim=1)
    if bool(bad.any()):
        idx = torch.nonzero(bad).flatten()[:5].tolist()
        raise ValueError(
            f"z0 holds non-finite values (NaN or inf) in {int(bad.sum())} start(s), e.g. rows "
            f"{idx}; remove or replace them before iterating"
        )
    if not (tol > 0 and math.isfinite(tol)):
        raise ValueError(f"tol must be a positive number, got {tol}")
    if int(max_steps) != max_steps or max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer, got {max_steps}")
    if record not in _RECORD_CHOICES:
        raise ValueError(f"record must be one of {_RECORD_CHOICES}, got {record!r}")
    if int(stride) != stride or stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride}")
    if batch_size is not None and (int(batch_size) != batch_size or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer or None, got {batch_size}")
    if not max_norm > 0:
        raise ValueError(f"max_norm must be positive, got {max_norm}")


def iterate(
    f: Callable[[Tensor], Tensor],
    z0: Tensor,
    *,
    tol: float = 1e-6,
    max_steps: int = 3000,
    record: str | None = None,
    stride: int = 1,
    batch_size: int | None = None,
    max_norm: float = 1e6,
    chunk_size: int | None = None,
) -> IterationResult:
    """Iterate ``z ← f(z)`` from every start until it converges, diverges or runs out of steps.

    Parameters
    ----------
    f
        The map, ``(B, *S) -> (B, *S)``, applied independently to each row (an
        :class:`lvf.LatentMap`, or any function such as ``lambda z: z @ A.T + b``).
    z0
        ``(N, *S)`` starts: vectors ``(N, k)``, feature maps ``(N, C, H, W)`` or token
        sequences ``(N, T, d)``. Must be finite.
    tol
        A point has converged once ``‖z_{t+1} - z_t‖²₂ < tol``, the squared norm summed
        over all latent dimensions (paper, App. D).
    max_steps
        Largest number of applications of ``f`` per point.
    record
        ``None``; ``"norms"`` for the per-step squared step norms; ``"trajectory"`` for the
        iterates themselves (kept on the CPU, every ``stride`` steps, plus the final one).
    stride
        Recording stride for ``record="trajectory"``.
    batch_size
        Most points evaluated by ``f`` at once (the active pool). ``None`` means
        ``min(N, 4096)``. Results do not depend on it.
    max_norm
        A point whose iterate is non-finite or has ``‖z‖₂ > max_norm`` is marked diverged
        and stopped; its ``final`` is its last iterate inside the bound. Other points are
        unaffected.
    chunk_size
        Most rows passed to ``f`` in one call; the pool is evaluated in chunks of this size.
        ``None`` means :data:`CPU_CHUNK` (256) on the CPU, where cache-sized batches run
        fastest, and the whole pool on other devices. Results do not depend on it.

    Returns
    -------
    IterationResult
        ``final`` ``(N, *S)``, ``steps``/``converged``/``diverged`` ``(N,)`` on ``z0``'s
        device, and what ``record`` asked for.

    Examples
    --------
    >>> import torch
    >>> res = iterate(lambda z: 0.5 * z + 1.0, torch.zeros(4, 3))
    >>> bool(torch.allclose(res.final, torch.full((4, 3), 2.0), atol=1e-3))
    True
    """
    _check_inputs(f, z0, tol, max_steps, record, stride, batch_size, max_norm)
    if chunk_size is not None and (int(chunk_size) != chunk_size or chunk_size < 1):
        raise ValueError(f"chunk_size must be a positive integer or None, got {chunk_size}")
    n = z0.shape[0]
    device = z0.device
    pool = min(n, int(batch_size) if batch_size is not None else 4096)
    if chunk_size is not None:
        chunk = int(chunk_size)
    else:
        chunk = CPU_CHUNK if device.type == "cpu" else pool
    max_norm_sq = float(max_norm) ** 2

    final = torch.empty_like(z0)
    steps = torch.zeros(n, dtype=torch.long, device=device)
    converged = torch.zeros(n, dtype=torch.bool, device=device)
    diverged = torch.zeros(n, dtype=torch.bool, device=device)

    # Records as (global index, column, value) pieces, assembled once at the end.
    norm_pieces: list[tuple[Tensor, Tensor, Tensor]] = []
    traj_pieces: list[tuple[Tensor, Tensor, Tensor]] = []

    idx = torch.arange(pool, device=device)  # global index of each active point
    z = z0[:pool].clone()
    t = torch.zeros(pool, dtype=torch.long, device=device)  # steps taken per active point
    next_start = pool
    if record == "trajectory":
        traj_pieces.append((idx.cpu(), t.cpu(), z.detach().cpu()))

    with torch.no_grad():
        while idx.numel() > 0:
            z_new = f(z) if z.shape[0] <= chunk else torch.cat([f(c) for c in z.split(chunk)])
            if z_new.shape != z.shape:
                raise ValueError(
                    f"f returned shape {tuple(z_new.shape)} for input {tuple(z.shape)}; "
                    "the map must preserve the shape of its input"
                )
            t = t + 1
            step_sq = (z_new - z).reshape(z.shape[0], -1).square().sum(dim=1)
            norm_sq = z_new.reshape(z.shape[0], -1).square().sum(dim=1)
            # non-finite entries make norm_sq non-finite (inf or NaN): one test covers both
            bad = ~(norm_sq <= max_norm_sq)
            conv = (step_sq < tol) & ~bad
            done = conv | bad | (t >= max_steps)
            # a diverged point keeps its last finite iterate
            z = torch.where(bad.view(-1, *([1] * (z.ndim - 1))), z, z_new)

            if record == "norms":
                ok = ~bad
                norm_pieces.append((idx[ok], t[ok] - 1, step_sq[ok]))
            elif record == "trajectory":
                keep = ((t % stride == 0) | done) & ~bad
                if bool(keep.any()):
                    col = torch.where(t % stride == 0, t // stride, t // stride + 1)
                    traj_pieces.append((idx[keep].cpu(), col[keep].cpu(), z[keep].cpu()))

            if bool(done.any()):
                gi = idx[done]
                final[gi] = z[done]
                steps[gi] = t[done]
                converged[gi] = conv[done]
                diverged[gi] = bad[done]
                live = ~done
                idx, z, t = idx[live], z[live], t[live]
                n_new = min(pool - idx.numel(), n - next_start)
                if n_new > 0:
                    new_idx = torch.arange(next_start, next_start + n_new, device=device)
                    next_start += n_new
                    z_in = z0[new_idx].clone()
                    if record == "trajectory":
                        traj_pieces.append(
                            (new_idx.cpu(), torch.zeros(n_new, dtype=torch.long), z_in.cpu())
                        )
                    idx = torch.cat([idx, new_idx])
                    z = torch.cat([z, z_in])
                    t = torch.cat([t, torch.zeros(n_new, dtype=torch.long, device=device)])

    result = IterationResult(final=final, steps=steps, converged=converged, diverged=diverged)
    if record == "norms":
        result.norms = _assemble(norm_pieces, n, (), z0.dtype)
    elif record == "trajectory":
        result.trajectory = _assemble(traj_pieces, n, tuple(z0.shape[1:]), z0.dtype)
        lengths = torch.zeros(n, dtype=torch.long)
        for gi, col, _ in traj_pieces:
            lengths.scatter_reduce_(0, gi, col + 1, reduce="amax")
        result.lengths = lengths
    return result


def _assemble(pieces, n: int, shape: tuple[int, ...], dtype) -> Tensor:
    """Scatter ``(index, column, value)`` pieces into a NaN-padded ``(n, T, *shape)`` CPU tensor."""
    if not pieces:
        return torch.full((n, 0, *shape), math.nan, dtype=dtype)
    gi = torch.cat([p[0].cpu() for p in pieces])
    col = torch.cat([p[1].cpu() for p in pieces])
    val = torch.cat([p[2].cpu() for p in pieces])
    out = torch.full((n, int(col.max()) + 1, *shape), math.nan, dtype=dtype)
    out[gi, col] = val.to(dtype)
    return out
