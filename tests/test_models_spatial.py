"""lvf.models.spatial: the autoencoder with a 4 x 8 x 8 latent, and its registration for
lvf.train."""

from __future__ import annotations

import pytest
import torch

import lvf
from lvf.models import MODELS, build_model
from lvf.models.spatial import SpatialConvAE
from lvf.train import TrainConfig


def test_shapes_range_and_latent_map():
    torch.manual_seed(0)
    m = SpatialConvAE(in_channels=3, latent_channels=4, width=8, image_size=32).eval()
    x = torch.rand(5, 3, 32, 32)
    z = m.encode(x)
    assert z.shape == (5, 4, 8, 8) and m.latent_shape == (4, 8, 8) and m.k == 256
    y = m.decode(z)
    assert y.shape == x.shape and (y > 0).all() and (y < 1).all()
    f = m.latent_map()
    assert f(z).shape == z.shape
    res = lvf.iterate(f, z, tol=1e-5, max_steps=3)
    assert res.final.shape == z.shape


def test_other_sizes_and_errors():
    m = SpatialConvAE(in_channels=1, latent_channels=2, width=4, image_size=16)
    assert m.encode(torch.rand(2, 1, 16, 16)).shape == (2, 2, 4, 4)
    with pytest.raises(ValueError, match="divisible by 4"):
        SpatialConvAE(image_size=30)
    with pytest.raises(ValueError, match="expects images"):
        m.encode(torch.rand(2, 3, 16, 16))
    with pytest.raises(ValueError, match="expects latents"):
        m.decode(torch.rand(2, 16))


def test_registered_for_training_and_cache():
    assert MODELS["spatial"] is SpatialConvAE
    assert isinstance(build_model("spatial", width=4), SpatialConvAE)
    cfg = TrainConfig(model="spatial", dataset="cifar10", epochs=1, model_kwargs={"width": 4})
    assert isinstance(cfg.build(), SpatialConvAE)
