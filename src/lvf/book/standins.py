"""The book's stand-ins: models it trains where the paper uses a foundation model.

The paper's Secs. 4.1 and 4.2 and App. B.8 iterate the Stable Diffusion VAE, ViT-MAE and
large language models. Where their weights cannot be loaded, chapters 10-12 run the same
protocol on a model the book trains itself; a result on a stand-in is an *analog* of the
paper's claim, never a reproduction of it.
"""

from __future__ import annotations

from lvf.book.scales import pick
from lvf.train import TrainConfig

__all__ = ["book_autoencoder"]


def book_autoencoder() -> TrainConfig:
    """The natural-image autoencoder of the foundation-model chapters, at the current scale.

    A :class:`SpatialConvAE` (3 × 32 × 32 -> 4 × 8 × 8) trained on the CIFAR-10 training
    images with the paper's recipe (Adam, learning rate 5e-4, weight decay 1e-4, step
    schedule; App. D): ``tiny`` 512 images, 1 epoch, width 8; ``book`` all available training
    images (the 8,000-image subset here), 12 epochs, width 16; ``paper`` the same data,
    100 epochs, width 32 (the paper trains its small AEs for 500 epochs).
    """
    kwargs = {"in_channels": 3, "latent_channels": 4}
    return pick(
        tiny=TrainConfig(
            model="spatial", dataset="cifar10", epochs=1, n_train=512,
            model_kwargs={**kwargs, "width": 8},
        ),
        book=TrainConfig(
            model="spatial", dataset="cifar10", epochs=12, model_kwargs={**kwargs, "width": 16}
        ),
        paper=TrainConfig(
            model="spatial", dataset="cifar10", epochs=100, model_kwargs={**kwargs, "width": 32}
        ),
    )  # fmt: skip
