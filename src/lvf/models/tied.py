"""A one-hidden-layer autoencoder with tied weights, whose map is the gradient of an energy.

With encoder ``E(x) = σ(W x + b)`` (``m -> H``) and decoder ``D(h) = Wᵀ h + c`` (``H -> m``)
sharing the matrix ``W`` (``H × m``), the reconstruction map

    r(x) = D(E(x)) = Wᵀ σ(W x + b) + c

has the Jacobian ``J_r(x) = Wᵀ diag(σ'(W x + b)) W``: symmetric at every ``x``. So
``r - id`` is a gradient field, ``r(x) - x = ∇ψ(x)`` with the closed-form potential

    ψ(x) = Σ_j S(w_j · x + b_j) + c · x - ½ ‖x‖²,   S' = σ,

(Kamyshanska & Memisevic, 2013, "On autoencoder scoring"; Alain & Bengio, 2014). This is
the paper's remark (Sec. 3.1, App. A.1) that a symmetric Jacobian makes the field conservative
and the autoencoder an energy-based model. The symmetric map is ``r = D ∘ E`` on the data
side; the paper's latent map ``f = E ∘ D`` of this model acts on the ``H``-dimensional code,
has the Jacobian ``diag(σ') W Wᵀ`` (not symmetric, but with the same nonzero eigenvalues), and
is conjugate to ``r`` through ``D`` (``D ∘ f = r ∘ D``), so both have the same attractors up
to ``D``. With ``tied=False`` the decoder gets its own matrix ``V`` (``m × H``) and
``J_r = V diag(σ') W`` is no longer symmetric: the untied control.

For a 2-D toy problem, ``m = 2``: :meth:`TiedAE.data_map` is then a map of the plane that
:func:`lvf.iterate`, :mod:`lvf.jacobian` and :func:`lvf.field.grid` accept directly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lvf.latent_map import LatentMap

__all__ = ["ACTIVATIONS", "TiedAE"]


def _log_cosh(u: Tensor) -> Tensor:
    return torch.logaddexp(u, -u) - math.log(2.0)


# activation σ and an antiderivative S (S' = σ)
ACTIVATIONS = {
    "tanh": (torch.tanh, _log_cosh),
    "sigmoid": (torch.sigmoid, F.softplus),
    "relu": (torch.relu, lambda u: 0.5 * torch.relu(u).square()),
}
"""Activations with a closed-form antiderivative, so that :meth:`TiedAE.energy` exists."""


class TiedAE(nn.Module):
    """``x -> σ(W x + b) -> Wᵀ h + c``: one hidden layer, decoder weights tied to the encoder's.

    Parameters
    ----------
    in_dim
        Data dimension ``m``.
    hidden
        Hidden (code) width ``H``.
    activation
        One of :data:`ACTIVATIONS` (``"tanh"``, ``"sigmoid"``, ``"relu"``).
    tied
        ``True``: the decoder uses ``Wᵀ``. ``False``: an independent decoder matrix ``V``
        (same architecture, no energy).

    Shapes
    ------
    ``encode``: ``(N, m) -> (N, H)``; ``decode``: ``(N, H) -> (N, m)``; ``forward``:
    ``(N, m) -> (N, m)``; ``energy``: ``(N, m) -> (N,)``.
    """

    def __init__(
        self, in_dim: int = 2, hidden: int = 64, activation: str = "tanh", tied: bool = True
    ) -> None:
        super().__init__()
        for name, value in (("in_dim", in_dim), ("hidden", hidden)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"Unknown activation {activation!r}; use one of {', '.join(ACTIVATIONS)} "
                "(those with a closed-form antiderivative)."
            )
        self.in_dim, self.hidden, self.activation, self.tied = in_dim, hidden, activation, tied
        enc = nn.Linear(in_dim, hidden)  # PyTorch's default initialisation
        self.weight = nn.Parameter(enc.weight.detach().clone())  # W, (H, m)
        self.bias = nn.Parameter(enc.bias.detach().clone())  # b, (H,)
        self.out_bias = nn.Parameter(torch.zeros(in_dim))  # c, (m,)
        if not tied:
            self.dec_weight = nn.Parameter(self.weight.detach().T.clone())  # V, (m, H)

    def encode(self, x: Tensor) -> Tensor:
        """``σ(W x + b)``: ``(N, m) -> (N, H)``."""
        return ACTIVATIONS[self.activation][0](x @ self.weight.T + self.bias)

    def decode(self, h: Tensor) -> Tensor:
        """``Wᵀ h + c`` (tied) or ``V h + c``: ``(N, H) -> (N, m)``."""
        w = self.weight if self.tied else self.dec_weight.T  # (H, m)
        return h @ w + self.out_bias

    def forward(self, x: Tensor) -> Tensor:
        """Reconstruction ``r(x) = D(E(x))``, ``(N, m) -> (N, m)``."""
        return self.decode(self.encode(x))

    def data_map(self) -> LatentMap:
        """The reconstruction map ``r = D ∘ E`` of the data space as a map to iterate.

        Returned as ``LatentMap(encode=self.decode, decode=self.encode)``, whose call is
        ``decode(encode(x))``; for ``m = 2`` it is a map of the plane.
        """
        return LatentMap(encode=self.decode, decode=self.encode)

    def latent_map(self) -> LatentMap:
        """The paper's latent map ``f = E ∘ D`` on the ``H``-dimensional code."""
        return LatentMap(self.encode, self.decode)

    def energy(self, x: Tensor) -> Tensor:
        """``ψ(x) = Σ_j S(w_j·x + b_j) + c·x - ½‖x‖²`` with ``∇ψ(x) = r(x) - x`` (tied only).

        Returns
        -------
        Tensor, shape (N,)
        """
        if not self.tied:
            raise ValueError("an untied autoencoder has no energy: its field is not a gradient")
        antiderivative = ACTIVATIONS[self.activation][1]
        pre = x @ self.weight.T + self.bias
        return antiderivative(pre).sum(dim=1) + x @ self.out_bias - 0.5 * x.square().sum(dim=1)

    def extra_repr(self) -> str:
        return (
            f"in_dim={self.in_dim}, hidden={self.hidden}, activation={self.activation!r}, "
            f"tied={self.tied}"
        )
