"""A small convolutional autoencoder with a *spatial* latent, like the Stable Diffusion VAE's.

The Stable Diffusion VAE maps a ``3 × 256 × 256`` image to a ``4 × 32 × 32`` latent feature map
(a factor 8 per side, 4 channels; 4,096 numbers). The book cannot download it, so it trains a
small model of the same *shape of latent* on natural images: :class:`SpatialConvAE` maps
``C × 32 × 32`` images to ``4 × 8 × 8`` latents (a factor 4 per side, 256 numbers) with plain
convolutions, and is used where the paper uses the SD VAE (data-free weight probing,
OOD detection from trajectories).

The model is registered as ``"spatial"`` in :data:`lvf.models.MODELS`, so
``lvf.train.TrainConfig(model="spatial", ...)`` trains and caches it like the other models.
:func:`lvf.book.standins.book_autoencoder` is the configuration the foundation-model chapters
share (one cached model per scale).
"""

from __future__ import annotations

from torch import Tensor, nn

from lvf.models.autoencoders import _Autoencoder, _check_positive_int

__all__ = ["SpatialConvAE"]


class SpatialConvAE(_Autoencoder):
    """Convolutional autoencoder with a ``latent_channels × H/4 × W/4`` latent feature map.

    Encoder: ``Conv3x3(C→d)``, ``Conv3x3/2(d→2d)``, ``Conv3x3/2(2d→4d)`` with ReLU, then a
    ``Conv3x3(4d→latent_channels)`` with no activation (the latent, like the SD VAE's
    posterior mean, is unbounded). Decoder: ``Conv3x3(latent_channels→4d)``,
    ``ConvTranspose4x4/2(4d→2d)``, ``ConvTranspose4x4/2(2d→d)`` with ReLU, then
    ``Conv3x3(d→C)`` and a Sigmoid, so images are in ``(0, 1)``. No normalisation layers.

    Parameters
    ----------
    in_channels
        Image channels ``C``.
    latent_channels
        Channels of the latent map (4, as in the SD VAE).
    width
        Base width ``d``.
    image_size
        Side of the square images; must be divisible by 4.

    Shapes
    ------
    ``encode``: ``(N, C, S, S) -> (N, latent_channels, S/4, S/4)``; ``decode``: the reverse.
    """

    def __init__(
        self, in_channels: int = 3, latent_channels: int = 4, width: int = 32, image_size: int = 32
    ) -> None:
        super().__init__()
        for name, value in [
            ("in_channels", in_channels),
            ("latent_channels", latent_channels),
            ("width", width),
            ("image_size", image_size),
        ]:
            _check_positive_int(name, value)
        if image_size % 4:
            raise ValueError(f"image_size={image_size} must be divisible by 4 (two stride-2 steps)")
        self.in_channels, self.latent_channels = in_channels, latent_channels
        self.width, self.image_size = width, image_size
        d = width
        self.latent_shape = (latent_channels, image_size // 4, image_size // 4)
        self.k = latent_channels * (image_size // 4) ** 2
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, d, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(d, 2 * d, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(2 * d, 4 * d, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(4 * d, latent_channels, 3, padding=1),
        )
        self.decoder = nn.Sequential(
            nn.Conv2d(latent_channels, 4 * d, 3, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(4 * d, 2 * d, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * d, d, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(d, in_channels, 3, padding=1),
            nn.Sigmoid(),
        )

    def encode(self, x: Tensor) -> Tensor:
        """Images ``(N, C, S, S)`` -> latents ``(N, latent_channels, S/4, S/4)``."""
        self._expect("encode", "images", x, (self.in_channels, self.image_size, self.image_size))
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        """Latents ``(N, latent_channels, S/4, S/4)`` -> images in ``(0, 1)``."""
        self._expect("decode", "latents", z, tuple(self.latent_shape))
        return self.decoder(z)

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, latent_channels={self.latent_channels}, "
            f"width={self.width}, image_size={self.image_size}"
        )
