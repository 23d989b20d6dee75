"""Draw the README's figure: the latent vector field of chapter 1's autoencoder.

The model is chapter 1's main model (a denoising MLP autoencoder with a 2-D latent space,
trained on eight Gaussian blobs, at book scale). Run from anywhere::

    python book/figures/make_readme_figure.py

It writes ``book/figures/readme_field.png`` (a few seconds of training on a CPU).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import lvf  # noqa: E402
from lvf.models import MLPAE  # noqa: E402

OUT = Path(__file__).with_name("readme_field.png")


class Denoising(torch.nn.Module):
    """Adds Gaussian noise to the autoencoder's input while training (chapter 1)."""

    def __init__(self, ae: torch.nn.Module, sigma: float) -> None:
        super().__init__()
        self.ae, self.sigma = ae, sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.sigma > 0:
            x = x + self.sigma * torch.randn_like(x)
        return self.ae(x)


def main() -> None:
    x_train = lvf.data.toy2d("gaussians", 4000, seed=0)
    torch.set_num_threads(1)  # a small network: one thread is as fast
    torch.manual_seed(0)
    ae = MLPAE(in_dim=2, k=2, hidden=(128, 128), activation="silu")
    lvf.train.fit(
        Denoising(ae, 0.3),
        x_train,
        epochs=150,
        batch_size=256,
        lr=2e-3,
        weight_decay=1e-4,
        seed=0,
        progress=False,
    )
    ae.eval()
    f = ae.latent_map()
    with torch.no_grad():
        z = ae.encode(x_train)
    lo, hi = z.min(0).values, z.max(0).values
    center, half = (lo + hi) / 2, float((hi - lo).max()) / 2 * 1.35
    xlim = (float(center[0]) - half, float(center[0]) + half)
    ylim = (float(center[1]) - half, float(center[1]) + half)

    field = lvf.field.grid(f, xlim, ylim, n=160)
    _, _, starts = lvf.field.grid_points(xlim, ylim, n=60)
    res = lvf.iterate(f, starts)
    att = lvf.find_attractors(res.final[res.converged], eps=0.05 * half)
    keep = lvf.jacobian.is_stable(f, att.centers) & (att.counts > 0.01 * len(starts))
    centers = att.centers[keep]
    with torch.no_grad():
        decoded = ae.decode(centers)

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4), gridspec_kw={"width_ratios": [1, 1.2]})
    axes[0].scatter(*x_train.T, s=2, alpha=0.35, c="tab:blue", linewidths=0)
    axes[0].scatter(*decoded.T, marker="*", s=170, c="red", edgecolors="k", zorder=3)
    axes[0].set(aspect="equal", xlim=(-3.2, 3.2), ylim=(-3.2, 3.2), xticks=[], yticks=[])
    axes[0].set_title("data, and decoded attractors $D(z^*)$")
    mesh = axes[1].pcolormesh(field.x, field.y, field.speed, cmap="viridis", shading="auto")
    # float64 axes: streamplot checks for exactly equal spacing
    gx, gy = (np.linspace(float(a[0]), float(a[-1]), a.size) for a in (field.x, field.y))
    axes[1].streamplot(
        gx, gy, field.U, field.V, color="white", linewidth=0.6, density=1.4, arrowsize=0.7
    )
    axes[1].scatter(*z.T, s=2, c="tab:red", alpha=0.3, linewidths=0)
    axes[1].scatter(*centers.T, marker="*", s=170, c="red", edgecolors="k", zorder=3)
    axes[1].set(aspect="equal", xlim=xlim, ylim=ylim, xticks=[], yticks=[])
    axes[1].set_title("latent space: the field $f(z) - z$ and its attractors")
    fig.colorbar(mesh, ax=axes[1], shrink=0.85, label=r"$\|f(z) - z\|$")
    fig.tight_layout()
    fig.savefig(OUT, dpi=90)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KiB); {len(centers)} attractors")


if __name__ == "__main__":
    main()
