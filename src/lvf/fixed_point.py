"""Where each start ends, in a fraction of the evaluations: Anderson-accelerated end points.

Plain iteration ``z ← f(z)`` converges linearly, at the rate of the spectral radius ``ρ`` of
the Jacobian at the attractor: with ``ρ`` near one it needs thousands of steps. When only the
end point matters (attractor counts, memorization, dictionaries), Anderson mixing (Anderson,
1965; Walker & Ni, 2011) reaches it in far fewer evaluations of ``f``: each step takes the
combination of the last ``memory`` values of ``f`` whose residual ``f(z) − z`` is smallest
in the least-squares sense.

A root finder finds *any* fixed point, saddles and repellers included (the paper's
Prop. 3.1 warns that solvers other than the iteration do). So no end point is taken on
trust: :func:`end_points` calls it an attractor only when

1. the paper's step criterion holds there under plain iteration, ``‖f(z*) − z*‖² < tol``;
2. the spectral radius of ``J_f(z*)``, estimated by power iteration with Jacobian–vector
   products, is below one.

A start whose accelerated end point fails either test, diverges or runs out of steps is
iterated again by plain :func:`lvf.iterate` from its start, so it ends exactly where plain
iteration ends; the stability test is applied to those end points too, so a start that plain
iteration leaves on a saddle (its stable manifold) is converged but not an attractor.

**Status: experimental.** On the book's networks plain iteration already converges in tens of
steps (spectral radius about 0.6 at the attractors of chapter 6's MNIST k = 32 model), and
this search spends *more* evaluations than plain iteration there (``benchmarks/fixed_point.py``
measures it); without its safeguard, Anderson mixing diverged or landed on unstable fixed
points for most starts — the verification caught every one. It is kept, tested, for maps
whose attractors are slow to reach; the protocols use plain :func:`lvf.iterate`.

Written here because neither torch nor scipy offers batched, per-point Anderson mixing with
this verification for latents of any shape, on CPU and GPU (``scipy.optimize.anderson``
solves one system at a time, on the CPU, and accepts any root).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.func import jvp

from lvf.iterate import CPU_CHUNK, iterate

__all__ = ["EndPoints", "end_points", "spectral_radius"]


@dataclass(eq=False)
class EndPoints:
    """Where each of ``N`` starts of latent shape ``S`` ends (:func:`end_points`).

    Attributes
    ----------
    final
        ``(N, *S)``: a verified attractor for a converged start; the last plain iterate
        otherwise (as :func:`lvf.iterate` reports it).
    converged
        ``(N,)`` bool: the step criterion holds at ``final``.
    stable
        ``(N,)`` bool: the spectral radius of ``J_f(final)`` is below one.
    diverged
        ``(N,)`` bool: plain iteration diverged from that start.
    evaluations
        ``(N,)`` int64: evaluations of ``f`` spent on each start (accelerated steps, the
        verification step and any plain fallback).
    jvps
        ``(N,)`` int64: Jacobian–vector products of the stability test (each costs about two
        to three evaluations of ``f``).
    accelerated
        ``(N,)`` bool: the end point comes from Anderson mixing and passed both tests.
    radius
        ``(N,)`` float64: the estimated spectral radius of ``J_f`` at ``final`` (NaN where
        it did not converge).
    """

    final: Tensor
    converged: Tensor
    stable: Tensor
    diverged: Tensor
    evaluations: Tensor
    jvps: Tensor
    accelerated: Tensor
    radius: Tensor

    @property
    def attractor(self) -> Tensor:
        """``(N,)`` bool: ``final`` is an attractor, converged and stable."""
        return self.converged & self.stable

    def __repr__(self) -> str:
        counts = {
            "N": self.final.shape[0],
            "attractors": int(self.attractor.sum()),
            "accelerated": int(self.accelerated.sum()),
            "mean evaluations": round(float(self.evaluations.float().mean()), 1),
        }
        return "EndPoints(" + ", ".join(f"{k}={v}" for k, v in counts.items()) + ")"


def spectral_radius(
    f: Callable[[Tensor], Tensor], z: Tensor, *, n_iter: int = 40, seed: int = 0
) -> Tensor:
    """Estimate of the spectral radius of ``J_f`` at each point of ``z`` ``(N, *S)``.

    Power iteration with Jacobian–vector products: ``ρ ≈ (Π_i ‖J v_i‖ / ‖v_i‖)^(1/n)`` over
    the second half of ``n_iter`` normalised steps (Gelfand's formula; a geometric mean, so
    a complex pair of dominant eigenvalues is measured correctly). Returns ``(N,)`` float64.
    """
    raw = getattr(f, "raw", f)
    z = z.detach()
    g = torch.Generator(device="cpu").manual_seed(seed)
    v = torch.randn(z.shape, generator=g, dtype=z.dtype).to(z.device)
    v = v / v.flatten(1).norm(dim=1).clamp_min(1e-30).view(-1, *[1] * (z.ndim - 1))
    logs = []
    for i in range(n_iter):
        _, u = jvp(raw, (z,), (v,))
        norm = u.flatten(1).norm(dim=1).clamp_min(1e-30)
        if i >= n_iter // 2:
            logs.append(norm.double().log())
        v = u / norm.view(-1, *[1] * (z.ndim - 1))
    return torch.stack(logs).mean(dim=0).exp().cpu()


def _anderson(f, z0: Tensor, tol: float, max_steps: int, memory: int, max_norm: float):
    """Anderson mixing (type II, no damping) on a batch ``(B, *S)`` with per-point exit.

    Returns ``final`` (``f`` of the last iterate, as plain iteration would report it),
    ``converged``, ``bad`` (non-finite or beyond ``max_norm``) and ``evals`` per point.
    """
    n, shape = z0.shape[0], z0.shape[1:]
    final = z0.clone()
    converged = torch.zeros(n, dtype=torch.bool, device=z0.device)
    bad = torch.zeros_like(converged)
    evals = torch.zeros(n, dtype=torch.long, device=z0.device)
    idx = torch.arange(n, device=z0.device)
    x = z0.reshape(n, -1)
    fx = f(x.view(-1, *shape)).reshape(n, -1)
    d_f: list[Tensor] = []  # differences of f-values, each (B, D)
    d_g: list[Tensor] = []  # differences of residuals
    for t in range(1, max_steps + 1):
        evals[idx] += 1
        g = fx - x
        res = g.square().sum(dim=1)
        out = ~(fx.square().sum(dim=1) <= max_norm**2)  # NaN-safe
        done = (res < tol) & ~out
        stop = done | out | (t >= max_steps)
        if bool(stop.any()):
            final[idx[stop]] = fx[stop].view(-1, *shape).to(final.dtype)
            converged[idx[stop]] = done[stop]
            bad[idx[stop]] = out[stop]
            keep = ~stop
            idx, x, fx, g = idx[keep], x[keep], fx[keep], g[keep]
            d_f = [d[keep] for d in d_f]
            d_g = [d[keep] for d in d_g]
        if idx.numel() == 0:
            break
        if d_g:
            dg = torch.stack(d_g, dim=2).double()  # (B, D, m)
            a = dg.transpose(1, 2) @ dg  # (B, m, m)
            reg = 1e-10 * a.diagonal(dim1=1, dim2=2).mean(dim=1).clamp_min(1e-300)
            a = a + reg.view(-1, 1, 1) * torch.eye(a.shape[1], dtype=a.dtype, device=a.device)
            gamma = torch.linalg.solve(a, dg.transpose(1, 2) @ g.double().unsqueeze(2))
            x_new = fx - (torch.stack(d_f, dim=2).double() @ gamma).squeeze(2).to(fx.dtype)
        else:
            x_new = fx
        fx_new = f(x_new.view(-1, *shape)).reshape(x_new.shape[0], -1)
        g_new = fx_new - x_new
        # safeguard: where the mixed step did not shrink the residual, take the plain step
        # z <- f(z) instead (one more evaluation) and forget that point's memory, so the
        # search stays where plain iteration goes instead of jumping to another fixed point
        grew = ~(g_new.square().sum(dim=1) < g.square().sum(dim=1))
        if bool(grew.any()):
            rows = torch.nonzero(grew).squeeze(1)
            x_new[rows] = fx[rows]
            fx_new[rows] = f(fx[rows].view(-1, *shape)).reshape(len(rows), -1)
            evals[idx[rows]] += 1
            g_new = fx_new - x_new
        d_f.append(fx_new - fx)
        d_g.append(g_new - g)
        if bool(grew.any()):
            for d in (*d_f, *d_g):
                d[grew] = 0
        d_f, d_g = d_f[-memory:], d_g[-memory:]
        x, fx = x_new, fx_new
    return final, converged, bad, evals


def end_points(
    f: Callable[[Tensor], Tensor],
    z0: Tensor,
    *,
    tol: float = 1e-6,
    max_steps: int = 3000,
    memory: int = 5,
    batch_size: int | None = None,
    max_norm: float = 1e6,
    radius_iter: int = 40,
) -> EndPoints:
    """Where each start ends under ``z ← f(z)``, found with Anderson mixing and verified.

    Parameters
    ----------
    f
        The latent map ``(B, *S) -> (B, *S)``, acting on each row independently; a
        :class:`lvf.LatentMap` or any callable (differentiable for the stability test).
    z0
        ``(N, *S)`` starts, on the device where ``f`` runs.
    tol, max_steps
        The paper's stopping rule: ``‖f(z) − z‖² < tol`` (squared, summed over dimensions);
        ``max_steps`` bounds the accelerated steps and, for the fallback, plain iteration.
    memory
        Number of past steps Anderson mixing combines (5 is the usual choice).
    batch_size
        Starts processed together (default 256 on the CPU, 4,096 elsewhere); ``f`` never
        sees more rows than this.
    max_norm
        An iterate beyond this norm (or non-finite) has diverged.
    radius_iter
        Power-iteration steps of the stability test.

    Returns
    -------
    EndPoints
    """
    if z0.ndim < 2 or z0.shape[0] == 0:
        raise ValueError(f"z0 must be a non-empty batch (N, *S), got {tuple(z0.shape)}")
    if not (tol > 0 and max_steps >= 1 and memory >= 1):
        raise ValueError(
            f"need tol > 0, max_steps >= 1, memory >= 1; got {tol}, {max_steps}, {memory}"
        )
    n = z0.shape[0]
    block = int(batch_size) if batch_size is not None else (
        CPU_CHUNK if z0.device.type == "cpu" else 4096
    )  # fmt: skip
    final = torch.empty_like(z0)
    conv = torch.zeros(n, dtype=torch.bool)
    evals = torch.zeros(n, dtype=torch.long)
    jvps = torch.zeros(n, dtype=torch.long)
    radius = torch.full((n,), math.nan, dtype=torch.float64)

    def check_radius(rows: Tensor) -> None:  # rows: CPU indices of converged end points
        for b in rows.split(block):
            with torch.enable_grad():
                radius[b] = spectral_radius(f, final[b.to(z0.device)], n_iter=radius_iter)
            jvps[b] += radius_iter

    with torch.no_grad():
        for s in range(0, n, block):
            sl = slice(s, min(n, s + block))
            fin, ok, _, ev = _anderson(f, z0[sl], tol, max_steps, memory, max_norm)
            final[sl], evals[sl] = fin, ev.cpu()
            rows = torch.nonzero(ok).squeeze(1)
            if rows.numel():
                z = fin[rows]
                step = (f(z) - z).flatten(1).square().sum(dim=1)  # the paper's criterion
                evals[s + rows.cpu()] += 1
                conv[s + rows.cpu()] = step.cpu() < tol
        check_radius(torch.nonzero(conv).squeeze(1))
    accelerated = conv & (radius < 1)
    redo = torch.nonzero(~accelerated).squeeze(1)
    diverged = torch.zeros(n, dtype=torch.bool)
    if redo.numel():
        radius[redo] = math.nan
        plain = iterate(
            f, z0[redo.to(z0.device)], tol=tol, max_steps=max_steps,
            batch_size=batch_size, max_norm=max_norm,
        )  # fmt: skip
        final[redo.to(z0.device)] = plain.final
        conv[redo] = plain.converged.cpu()
        diverged[redo] = plain.diverged.cpu()
        evals[redo] += plain.steps.cpu()
        check_radius(redo[plain.converged.cpu()])
    stable = radius < 1
    return EndPoints(final, conv, stable, diverged, evals, jvps, accelerated, radius)
