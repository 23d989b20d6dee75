import numpy as np
import pytest
import torch

from lvf.field import grid


def test_grid_layout_and_values_of_a_linear_field():
    F = grid(lambda z: 0.5 * z + torch.tensor([1.0, 0.0]), xlim=(-2, 2), ylim=(-1, 3), n=(5, 9))
    assert F.x.shape == (5,) and F.y.shape == (9,) and F.U.shape == (9, 5)
    xx, yy = np.meshgrid(F.x, F.y)
    np.testing.assert_allclose(F.U, -0.5 * xx + 1.0, atol=1e-6)
    np.testing.assert_allclose(F.V, -0.5 * yy, atol=1e-6)
    np.testing.assert_allclose(F.speed, np.hypot(F.U, F.V))
    assert F.extent == (-2.0, 2.0, -1.0, 3.0)


def test_only_two_dimensional_latents():
    with pytest.raises(ValueError, match="2-D latent"):
        grid(lambda z: torch.cat([z, z], dim=1))
