"""Autoencoders: the paper's convolutional AE (Table 4) and a small MLP AE for 2-D toy data.

Both expose the same interface: ``encode`` (data -> latent ``(N, k)``), ``decode``
(latent -> data), ``forward`` (reconstruction) and ``latent_map()`` (the map
``f = E o D`` on the latent space, an :class:`lvf.LatentMap`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from torch import Tensor, nn

if TYPE_CHECKING:
    from lvf.latent_map import LatentMap

__all__ = ["ConvAE", "MLPAE"]


def _check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")


class _Autoencoder(nn.Module):
    """Shared interface: subclasses define ``self.encoder`` and ``self.decoder``."""

    encoder: nn.Module
    decoder: nn.Module
    k: int

    def encode(self, x: Tensor) -> Tensor:
        """Map data ``x`` to latent codes ``z`` of shape ``(N, k)``."""
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        """Map latent codes ``z`` of shape ``(N, k)`` back to data space."""
        return self.decoder(z)

    def _expect(self, method: str, what: str, t: Tensor, shape: tuple[int, ...]) -> None:
        """Raise a :class:`ValueError` naming the expected ``(N, *shape)`` unless ``t`` has it."""
        if t.ndim != len(shape) + 1 or tuple(t.shape[1:]) != tuple(shape):
            raise ValueError(
                f"{type(self).__name__}.{method} expects {what} of shape "
                f"(N, {', '.join(map(str, shape))}), got {tuple(t.shape)}."
            )

    def forward(self, x: Tensor) -> Tensor:
        """Reconstruction ``D(E(x))``, same shape as ``x``."""
        return self.decode(self.encode(x))

    def latent_map(self) -> LatentMap:
        """The latent map ``f(z) = E(D(z))`` of this model (shares its weights)."""
        from lvf.latent_map import LatentMap

        return LatentMap(self.encode, self.decode)


class ConvAE(_Autoencoder):
    """The convolutional autoencoder of the paper's Table 4.

    Encoder: four ``Conv2d`` layers ``C -> d -> 2d -> 4d -> 8d`` (3x3, stride 2, padding 1), each
    followed by ReLU, then ``Flatten`` and a linear bottleneck to ``k`` (no activation on ``z``).
    Decoder: ``Linear(k, 8d (H/16)^2)`` + ReLU, ``Unflatten``, four ``ConvTranspose2d`` layers
    ``8d -> 4d -> 2d -> d -> C`` (3x3, stride 2, padding 1, output padding 1) with ReLU between
    and a Sigmoid at the end, so outputs lie in ``(0, 1)`` like the images. No normalisation
    layers. Width, activations and output layer are the book's choices (``choice-table4-width``
    on the book's page "Where the paper is silent").

    Parameters
    ----------
    in_channels
        Image channels ``C`` (1 for MNIST, 3 for CIFAR-10).
    k
        Bottleneck (latent) dimension.
    width
        Base width ``d``; the convolutions have ``d, 2d, 4d, 8d`` channels.
    image_size
        Side ``H = W`` of the square input images; must be divisible by 16.

    Shapes
    ------
    ``encode``: ``(N, C, H, W) -> (N, k)``; ``decode``: ``(N, k) -> (N, C, H, W)``.
    """

    def __init__(
        self, in_channels: int = 1, k: int = 2, width: int = 32, image_size: int = 32
    ) -> None:
        super().__init__()
        for name, value in [("in_channels", in_channels), ("k", k), ("width", width)]:
            _check_positive_int(name, value)
        _check_positive_int("image_size", image_size)
        if image_size % 16:
            raise ValueError(
                f"image_size={image_size} is not divisible by 16, which the four stride-2 "
                f"layers need; pad or resize the images (e.g. MNIST 28 -> 32)."
            )
        self.in_channels, self.k, self.width, self.image_size = in_channels, k, width, image_size
        d, s = width, image_size // 16
        chans = [in_channels, d, 2 * d, 4 * d, 8 * d]
        enc: list[nn.Module] = []
        for c_in, c_out in zip(chans[:-1], chans[1:], strict=True):
            enc += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.ReLU()]
        self.encoder = nn.Sequential(*enc, nn.Flatten(), nn.Linear(8 * d * s * s, k))
        dec: list[nn.Module] = [
            nn.Linear(k, 8 * d * s * s),
            nn.ReLU(),
            nn.Unflatten(1, (8 * d, s, s)),
        ]
        rev = chans[::-1]
        for i, (c_in, c_out) in enumerate(zip(rev[:-1], rev[1:], strict=True)):
            dec.append(nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1))
            dec.append(nn.ReLU() if i < len(rev) - 2 else nn.Sigmoid())
        self.decoder = nn.Sequential(*dec)

    def encode(self, x: Tensor) -> Tensor:
        """Encode images ``x`` of shape ``(N, C, H, W)`` to latents ``(N, k)``."""
        self._expect("encode", "images", x, (self.in_channels, self.image_size, self.image_size))
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        """Decode latents ``z`` of shape ``(N, k)`` to images ``(N, C, H, W)`` in (0, 1)."""
        self._expect("decode", "z", z, (self.k,))
        return self.decoder(z)

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, k={self.k}, width={self.width}, "
            f"image_size={self.image_size}"
        )


_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
}


class MLPAE(_Autoencoder):
    """A fully connected autoencoder for low-dimensional (e.g. 2-D toy) data.

    Encoder ``in_dim -> hidden[0] -> ... -> hidden[-1] -> k``, decoder the mirror image
    ``k -> hidden[-1] -> ... -> hidden[0] -> in_dim``, with ``activation`` after every hidden
    layer and no activation on the latent code or the output.

    Parameters
    ----------
    in_dim
        Data dimension.
    k
        Latent dimension.
    hidden
        Widths of the encoder's hidden layers (the decoder uses them in reverse).
    activation
        One of ``"relu"``, ``"silu"``, ``"tanh"``, ``"elu"``.

    Shapes
    ------
    ``encode``: ``(N, in_dim) -> (N, k)``; ``decode``: ``(N, k) -> (N, in_dim)``.
    """

    def __init__(
        self,
        in_dim: int = 2,
        k: int = 2,
        hidden: tuple[int, ...] = (128, 128),
        activation: str = "silu",
    ) -> None:
        super().__init__()
        _check_positive_int("in_dim", in_dim)
        _check_positive_int("k", k)
        hidden = tuple(hidden)
        for h in hidden:
            _check_positive_int("every hidden width", h)
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"Unknown activation {activation!r}; use one of {', '.join(_ACTIVATIONS)}."
            )
        self.in_dim, self.k, self.hidden, self.activation = in_dim, k, hidden, activation
        self.encoder = self._mlp([in_dim, *hidden, k], activation)
        self.decoder = self._mlp([k, *hidden[::-1], in_dim], activation)

    @staticmethod
    def _mlp(sizes: list[int], activation: str) -> nn.Sequential:
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(_ACTIVATIONS[activation]())
        return nn.Sequential(*layers)

    def extra_repr(self) -> str:
        return (
            f"in_dim={self.in_dim}, k={self.k}, hidden={self.hidden}, "
            f"activation={self.activation!r}"
        )
