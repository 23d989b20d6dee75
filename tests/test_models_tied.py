import pytest
import torch

import lvf
from lvf.models.tied import ACTIVATIONS, TiedAE


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_tied_jacobian_is_symmetric_and_energy_is_its_potential(activation):
    torch.manual_seed(0)
    m = TiedAE(in_dim=3, hidden=16, activation=activation).double()
    with torch.no_grad():
        m.out_bias.normal_()
    x = torch.randn(10, 3, dtype=torch.float64)
    r = m.data_map()
    J = lvf.jacobian.jacobian(r, x)
    torch.testing.assert_close(J, J.transpose(1, 2))
    xx = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(m.energy(xx).sum(), xx)
    torch.testing.assert_close(g, r(x) - x)


def test_untied_jacobian_is_not_symmetric_and_has_no_energy():
    torch.manual_seed(0)
    m = TiedAE(in_dim=2, hidden=8, tied=False).double()
    with torch.no_grad():
        m.dec_weight.normal_()
    J = lvf.jacobian.jacobian(m.data_map(), torch.randn(5, 2, dtype=torch.float64))
    assert (J - J.transpose(1, 2)).abs().max() > 1e-3
    with pytest.raises(ValueError, match="no energy"):
        m.energy(torch.zeros(1, 2))


def test_shapes_maps_and_validation():
    m = TiedAE(in_dim=2, hidden=5)
    x = torch.randn(4, 2)
    assert m.encode(x).shape == (4, 5) and m(x).shape == (4, 2)
    torch.testing.assert_close(m.data_map()(x), m(x).detach())
    h = m.encode(x).detach()
    torch.testing.assert_close(m.latent_map()(h), m.encode(m.decode(h)).detach())
    assert "tied=True" in repr(m)
    with pytest.raises(ValueError):
        TiedAE(activation="silu")
    with pytest.raises(ValueError):
        TiedAE(hidden=0)
