import pytest
import torch
from maps import A_TANH2, random_contraction, tanh2

from lvf import LatentMap, iterate
from lvf.jacobian import eigenvalues, is_stable, jacobian, spectral_norm


def test_linear_map_jacobian_spectrum_and_norm():
    A = random_contraction(5, rho=0.9, seed=3)
    z = torch.randn(4, 5, dtype=torch.float64)
    J = jacobian(lambda v: v @ A.T, z)
    torch.testing.assert_close(J, A.expand(4, 5, 5))
    sigma = spectral_norm(lambda v: v @ A.T, z, n_iter=500, rtol=1e-12)
    torch.testing.assert_close(sigma, torch.full((4,), 0.9, dtype=torch.float64))
    lam = eigenvalues(lambda v: v @ A.T, z)
    ref = torch.linalg.eigvals(A)
    torch.testing.assert_close(
        lam[0].abs(), ref.abs().sort(descending=True).values, atol=1e-10, rtol=0
    )


def test_stability_of_the_tanh_attractors_and_the_unstable_origin():
    pts = torch.tensor([[A_TANH2, -A_TANH2], [0.0, 0.0]], dtype=torch.float64)
    lam = eigenvalues(tanh2, pts)
    torch.testing.assert_close(lam[0].real, torch.full((2,), 2 * (1 - A_TANH2**2)).double())
    torch.testing.assert_close(lam[1].real, torch.full((2,), 2.0).double())
    assert is_stable(tanh2, pts).tolist() == [True, False]


def test_spectral_norm_of_a_conv_map_on_feature_maps_matches_the_full_jacobian():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(2, 2, 3, padding=1).double()
    f = LatentMap(encode=lambda x: torch.tanh(conv(x)), decode=lambda z: 0.5 * z)
    z = torch.randn(3, 2, 4, 4, dtype=torch.float64)
    exact = torch.linalg.matrix_norm(jacobian(f, z), ord=2)
    est = spectral_norm(f, z, n_iter=1000, rtol=1e-12)
    torch.testing.assert_close(est, exact, rtol=1e-6, atol=0)


def test_accepts_points_from_iterate():
    res = iterate(tanh2, torch.tensor([[0.3, -2.0]]))
    assert is_stable(tanh2, res.final).all()
    assert spectral_norm(tanh2, res.final) < 1


def test_bad_points():
    with pytest.raises(ValueError, match="non-empty batch"):
        spectral_norm(tanh2, torch.zeros(3))
    with pytest.raises(TypeError, match="callable"):
        jacobian(None, torch.zeros(2, 2))


def test_spectral_norm_of_a_nearly_constant_map_in_float32():
    # ‖J‖ = 1e-18: JᵀJv would underflow float32 if the power iteration did not normalise
    z = torch.randn(3, 4)
    est = spectral_norm(lambda v: 1e-18 * v, z)
    torch.testing.assert_close(est, torch.full((3,), 1e-18), rtol=1e-4, atol=0)


def test_submodules_are_attributes_of_the_package():
    import lvf

    assert lvf.jacobian.spectral_norm is spectral_norm
    with pytest.raises(AttributeError):
        lvf.no_such_module  # noqa: B018


def test_spectral_norm_of_a_map_between_different_shapes():
    # a decoder-like map R^3 -> R^(2x4): J is 8x3, compare with its largest singular value
    W = torch.randn(8, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    z = torch.randn(2, 3, dtype=torch.float64)
    est = spectral_norm(lambda v: (v @ W.T).reshape(-1, 2, 4), z, n_iter=500, rtol=1e-12)
    torch.testing.assert_close(est, torch.linalg.matrix_norm(W, ord=2).expand(2))
