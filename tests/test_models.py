"""Tests of lvf.models: the Table 4 convolutional AE, the MLP AE and the registry."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lvf.models import MLPAE, MODELS, ConvAE, build_model, count_parameters


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("k", [1, 2, 16, 128])
def test_conv_ae_shapes(channels, k):
    torch.manual_seed(0)
    model = ConvAE(in_channels=channels, k=k, width=8)
    x = torch.rand(5, channels, 32, 32)
    z = model.encode(x)
    assert z.shape == (5, k)
    out = model.decode(z)
    assert out.shape == (5, channels, 32, 32)
    assert ((out > 0) & (out < 1)).all()  # Sigmoid output, like images in [0, 1]
    assert torch.equal(model(x), out)


def test_conv_ae_follows_table_4():
    d = 8
    model = ConvAE(in_channels=3, k=7, width=d, image_size=64)
    convs = [m for m in model.encoder if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [
        (3, d),
        (d, 2 * d),
        (2 * d, 4 * d),
        (4 * d, 8 * d),
    ]
    assert all(
        c.kernel_size == (3, 3) and c.stride == (2, 2) and c.padding == (1, 1) for c in convs
    )
    # feature map before the bottleneck: 8d x H/16 x W/16
    x = torch.rand(2, 3, 64, 64)
    assert model.encoder[:8](x).shape == (2, 8 * d, 4, 4)
    # linear bottleneck, no activation on z
    assert isinstance(model.encoder[-1], nn.Linear) and model.encoder[-1].out_features == 7
    assert model.encoder[-1].in_features == 8 * d * 4 * 4
    assert (model.encode(x) < 0).any()
    deconvs = [m for m in model.decoder if isinstance(m, nn.ConvTranspose2d)]
    assert [(c.in_channels, c.out_channels) for c in deconvs] == [
        (8 * d, 4 * d),
        (4 * d, 2 * d),
        (2 * d, d),
        (d, 3),
    ]
    assert all(c.output_padding == (1, 1) for c in deconvs)
    assert isinstance(model.decoder[0], nn.Linear) and model.decoder[0].in_features == 7
    assert isinstance(model.decoder[-1], nn.Sigmoid)


def test_conv_ae_parameter_count_by_hand():
    # default d = 32, C = 1, k = 2, 32x32 images: H/16 = 2, so the flattened size is 256*2*2
    conv = sum(9 * a * b + b for a, b in [(1, 32), (32, 64), (64, 128), (128, 256)])
    deconv = sum(9 * a * b + b for a, b in [(256, 128), (128, 64), (64, 32), (32, 1)])
    linear = (1024 * 2 + 2) + (2 * 1024 + 1024)
    assert count_parameters(ConvAE()) == conv + deconv + linear == 780_547


def test_conv_ae_rejects_bad_arguments():
    with pytest.raises(ValueError, match="divisible by 16"):
        ConvAE(image_size=28)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        ConvAE(k=0)
    model = ConvAE(width=4)
    with pytest.raises(ValueError, match=r"\(N, 1, 32, 32\)"):
        model.encode(torch.rand(2, 1, 28, 28))
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        model.decode(torch.rand(2, 3))


@pytest.mark.parametrize("activation", ["relu", "silu", "tanh", "elu"])
def test_mlp_ae(activation):
    model = MLPAE(in_dim=3, k=2, hidden=(16, 8), activation=activation)
    linears = [m for m in model.encoder if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(3, 16), (16, 8), (8, 2)]
    linears = [m for m in model.decoder if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(2, 8), (8, 16), (16, 3)]
    n_act = sum(type(m).__name__.lower() == activation for m in model.modules())
    assert n_act == 4  # after each hidden layer, none on z or the output
    x = torch.randn(6, 3)
    assert model.encode(x).shape == (6, 2) and model(x).shape == (6, 3)


def test_mlp_ae_rejects_unknown_activation():
    with pytest.raises(ValueError, match="relu, silu, tanh, elu"):
        MLPAE(activation="gelu")


def test_build_model_registry():
    assert {"conv", "mlp"} <= set(MODELS)  # other modules (lvf.models.spatial) may register more
    model = build_model("conv", k=5, width=4, in_channels=3)
    assert isinstance(model, ConvAE) and model.k == 5 and model.in_channels == 3
    assert isinstance(build_model("mlp", hidden=[4]), MLPAE)
    with pytest.raises(ValueError, match="conv, mlp"):
        build_model("resnet")
    with pytest.raises(TypeError, match="'conv'"):
        build_model("conv", depth=3)


@pytest.mark.parametrize(
    "model", [ConvAE(k=3, width=4), MLPAE(k=2, hidden=(8,))], ids=["conv", "mlp"]
)
def test_latent_map_is_encode_after_decode(model):
    from lvf.latent_map import LatentMap

    f = model.latent_map()
    assert isinstance(f, LatentMap)
    z = torch.randn(4, model.k)
    with torch.no_grad():
        expected = model.encode(model.decode(z))
    assert torch.equal(f(z), expected)
    # the map shares the model's weights
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(0.5)
        assert not torch.equal(f(z), expected)
        assert torch.equal(f(z), model.encode(model.decode(z)))


def test_spatial_model_is_found_by_name_without_importing_its_module():
    import subprocess
    import sys

    code = (
        "import lvf.models as m, lvf.train as t; "
        "print(type(m.build_model('spatial')).__name__); "
        "t.TrainConfig(model='spatial', dataset='cifar10', epochs=1)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "SpatialConvAE"


def test_register_model_refuses_a_taken_name():
    from lvf.models import register_model

    register_model("mlp", MLPAE)  # the same class again: fine
    with pytest.raises(ValueError, match="taken by MLPAE"):
        register_model("mlp", ConvAE)
