"""Known-answer tests of lvf.measures.contraction: spreads, gains, operator norms and Lipschitz
bounds."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from lvf.jacobian import jacobian, spectral_norm
from lvf.measures.contraction import (
    SpreadAccumulator,
    activation_lipschitz,
    gain,
    lipschitz_bound,
    operator_norm,
    spread,
)
from lvf.models import ConvAE


def test_spread_of_a_known_batch():
    y = torch.tensor([[0.0, 10.0], [2.0, 10.0], [4.0, 10.0]])
    # column variances (unbiased) 4 and 0 -> centred spread sqrt(2)
    assert spread(y) == pytest.approx(math.sqrt(2.0))
    assert spread(y, pooled=True) == pytest.approx(float(y.std()))


def test_streaming_spread_does_not_depend_on_batching():
    g = torch.Generator().manual_seed(0)
    y = torch.randn(37, 3, 4, generator=g) * 3 + 1
    acc = SpreadAccumulator()
    for part in y.split(5):
        acc.add(part)
    assert acc.centred() == pytest.approx(spread(y), rel=1e-12)
    assert acc.pooled() == pytest.approx(float(y.double().std()), rel=1e-12)
    with pytest.raises(ValueError):
        SpreadAccumulator().centred()


def test_gain_of_scalings_and_constant_maps():
    x = torch.randn(200, 6, generator=torch.Generator().manual_seed(1))
    assert gain(lambda v: -0.3 * v, x) == pytest.approx(0.3, rel=1e-6)
    assert gain(lambda v: 0.3 * v, x, pooled=True, batch_size=7) == pytest.approx(0.3, rel=1e-6)
    const = torch.arange(6.0)
    assert gain(lambda v: const.expand(v.shape[0], 6), x) == 0.0
    # the pooled spread counts the offsets between coordinates
    assert gain(lambda v: const.expand(v.shape[0], 6), x, pooled=True) > 1.0


def test_gain_of_an_orthogonal_map_is_one():
    q, _ = torch.linalg.qr(torch.randn(8, 8, generator=torch.Generator().manual_seed(2)))
    x = torch.randn(5000, 8, generator=torch.Generator().manual_seed(3))
    assert gain(lambda v: v @ q.T, x) == pytest.approx(1.0, rel=0.03)


def test_operator_norm_of_linear_is_its_largest_singular_value():
    lin = nn.Linear(7, 5)
    ref = torch.linalg.svdvals(lin.weight.detach().double())[0]
    assert operator_norm(lin, (7,)) == pytest.approx(float(ref), rel=1e-12)


def _dense_norm(layer, in_shape):
    """Spectral norm of the layer's linear part, from its full Jacobian matrix."""
    layer = layer.double()
    x0 = torch.zeros(1, *in_shape, dtype=torch.float64)
    out_shape = layer(x0).shape[1:]

    def lin(x):
        return (layer(x.reshape(-1, *in_shape)) - layer(x0)).reshape(x.shape[0], -1)

    n_in, n_out = math.prod(in_shape), math.prod(out_shape)
    J = torch.autograd.functional.jacobian(lambda v: lin(v[None])[0], torch.zeros(n_in).double())
    assert J.shape == (n_out, n_in)
    return float(torch.linalg.matrix_norm(J, ord=2))


@pytest.mark.parametrize(
    "layer, in_shape",
    [
        (nn.Conv2d(2, 3, 3, stride=2, padding=1), (2, 8, 8)),
        (nn.Conv2d(3, 2, 3, padding=1, bias=False), (3, 6, 6)),
        (nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1), (3, 4, 4)),
        (nn.Conv1d(2, 4, 5, dilation=2, groups=2), (2, 16)),
    ],
)
def test_operator_norm_of_convolutions_matches_the_dense_matrix(layer, in_shape):
    torch.manual_seed(0)
    layer.reset_parameters()
    exact = _dense_norm(layer, in_shape)
    assert operator_norm(layer, in_shape) == pytest.approx(exact, rel=1e-8)
    assert operator_norm(layer, in_shape, dense_max=0) == pytest.approx(exact, rel=1e-8)


@pytest.mark.parametrize("tiny", [1e-31, 1e-150])
def test_operator_norm_of_tiny_weights_scales_with_them(tiny):
    """Weight decay shrinks weights to 1e-31 and below (chapter 5): the eigenvalues of AᵀA
    (1e-62) then fall where ARPACK's convergence test fails or stops early. The norm is
    homogeneous, so a layer scaled by ``tiny`` has ``tiny`` times the norm; zero weights have
    norm zero."""
    torch.manual_seed(0)
    conv = nn.Conv2d(16, 32, 3, stride=2, padding=1).double()  # float32 would round `tiny`
    reference = operator_norm(conv, (16, 16, 16))
    with torch.no_grad():
        conv.weight.mul_(tiny)
    assert operator_norm(conv, (16, 16, 16)) / tiny == pytest.approx(reference, rel=1e-8)
    with torch.no_grad():
        conv.weight.zero_()
    assert operator_norm(conv, (16, 16, 16)) == 0.0


def test_operator_norm_falls_back_to_the_matrix_when_lanczos_fails(monkeypatch):
    """ARPACK did not converge on a one-channel convolution trained with a strong weight decay
    (clustered top eigenvalues); the norm then comes from the dense matrix, when it fits."""
    import scipy.sparse.linalg
    from scipy.sparse.linalg import ArpackNoConvergence

    def fails(*args, **kwargs):
        raise ArpackNoConvergence("no convergence", [], [])

    torch.manual_seed(0)
    conv = nn.Conv2d(1, 16, 3, stride=2, padding=1)
    exact = _dense_norm(conv, (1, 32, 32))
    monkeypatch.setattr(scipy.sparse.linalg, "eigsh", fails)
    assert operator_norm(conv, (1, 32, 32)) == pytest.approx(exact, rel=1e-8)
    big = nn.Conv2d(64, 64, 3, padding=1)  # 16,384 inputs x 16,384 outputs: too large to form
    with pytest.raises(RuntimeError, match="larger tol"):
        operator_norm(big, (64, 16, 16))


@pytest.mark.parametrize(
    "module, expected",
    [
        (nn.ReLU(), 1.0),
        (nn.Tanh(), 1.0),
        (nn.Sigmoid(), 0.25),
        (nn.LeakyReLU(0.1), 1.0),
        (nn.ELU(), 1.0),
        (nn.SiLU(), None),
        (nn.GELU(), None),
    ],
)
def test_activation_lipschitz_constants_are_the_largest_slopes(module, expected):
    x = torch.linspace(-10, 10, 200_001, dtype=torch.float64, requires_grad=True)
    (d,) = torch.autograd.grad(module(x).sum(), x)
    slope = float(d.abs().max())
    assert activation_lipschitz(module) == pytest.approx(slope, rel=1e-6)
    if expected is not None:
        assert slope == pytest.approx(expected, rel=1e-6)


def test_unknown_modules_are_refused():
    with pytest.raises(TypeError):
        activation_lipschitz(nn.BatchNorm1d(3))
    with pytest.raises(TypeError):
        lipschitz_bound([nn.Linear(2, 2), nn.LayerNorm(2)], torch.zeros(1, 2))


def test_bound_of_a_linear_chain_is_tight_and_of_an_mlp_holds():
    torch.manual_seed(0)
    a, b = nn.Linear(4, 6, bias=False), nn.Linear(6, 4, bias=False)
    with torch.no_grad():  # aligned singular vectors: the bound is attained
        u, _, vh = torch.linalg.svd(torch.randn(4, 4))
        a.weight.copy_(
            torch.cat([torch.diag(torch.tensor([2.0, 1, 1, 1])) @ vh, torch.zeros(2, 4)])
        )
        b.weight.copy_(
            torch.cat([u @ torch.diag(torch.tensor([3.0, 1, 1, 1])), torch.zeros(4, 2)], 1)
        )
    lb = lipschitz_bound([a, b], torch.zeros(1, 4))
    assert lb.product == pytest.approx(6.0, rel=1e-6)
    z = torch.randn(3, 4)
    assert spectral_norm(lambda v: b(a(v)), z, n_iter=500, rtol=1e-12).max() == pytest.approx(6.0)

    mlp = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Sequential(nn.Linear(16, 3), nn.Sigmoid()))
    lb = lipschitz_bound(mlp, torch.zeros(1, 3))
    assert len(lb.names) == 2 and lb.activation_factor == 0.25
    norms = [
        torch.linalg.matrix_norm(m.weight.detach().double(), ord=2) for m in (mlp[0], mlp[2][0])
    ]
    assert lb.bound == pytest.approx(0.25 * float(norms[0] * norms[1]))
    z = torch.randn(100, 3) * 3
    assert float(spectral_norm(mlp, z).max()) <= lb.bound * (1 + 1e-6)


def test_bound_on_the_conv_ae_latent_map_holds():
    torch.manual_seed(0)
    model = ConvAE(in_channels=1, k=3, width=4).eval()
    lb = lipschitz_bound([*model.decoder, *model.encoder], torch.zeros(1, 3))
    assert len(lb.names) == 10 and lb.activation_factor == 0.25
    z = torch.randn(8, 3) * 4
    J = jacobian(model.latent_map(), z)
    assert float(torch.linalg.matrix_norm(J, ord=2).max()) <= lb.bound * (1 + 1e-6)
    assert lb.frobenius.shape == lb.norms.shape == (10,)
