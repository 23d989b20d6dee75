import numpy as np
import pytest
import torch

from lvf.field import grid
from lvf.potential import curl, grid_potential, line_integral, polyline


def phi(z):
    return z[:, 0] ** 2 * z[:, 1] + torch.sin(z[:, 1])


def grad_phi(z):
    return torch.stack([2 * z[:, 0] * z[:, 1], z[:, 0] ** 2 + torch.cos(z[:, 1])], dim=1)


def rotation(z):
    return torch.stack([-z[:, 1], z[:, 0]], dim=1)


def test_polyline_shape_and_vertices():
    v = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 2.0]], dtype=torch.float64)
    p = polyline(v, n=10)
    assert p.shape == (1, 21, 2)
    torch.testing.assert_close(p[0, [0, 10, 20]], v)
    assert polyline(torch.stack([v, v]), n=4).shape == (2, 9, 2)


def test_line_integral_of_a_gradient_is_path_independent():
    a, b = torch.tensor([-1.0, 0.5]), torch.tensor([1.5, -1.0])
    straight = polyline(torch.stack([a, b]).double(), n=400)
    detour = polyline(
        torch.tensor([[-1.0, 0.5], [-1.0, 2.0], [2.0, 2.0], [1.5, -1.0]]).double(), 400
    )
    exact = (phi(b[None].double()) - phi(a[None].double())).item()
    assert line_integral(grad_phi, straight).item() == pytest.approx(exact, abs=1e-4)
    assert line_integral(grad_phi, detour).item() == pytest.approx(exact, abs=1e-4)
    both = line_integral(grad_phi, torch.cat([straight, straight]), batch_size=7)
    assert both.shape == (2,)


def test_loop_integral_of_a_rotation_is_twice_the_area():
    square = torch.tensor([[0.0, 0.0], [2.0, 0.0], [2.0, 1.0], [0.0, 1.0], [0.0, 0.0]]).double()
    assert line_integral(rotation, polyline(square, 50)).item() == pytest.approx(4.0, abs=1e-9)


def test_curl_and_grid_potential():
    # lvf.field.grid samples the residual f(z) - z: take f = id + grad(phi)
    F = grid(lambda z: z + grad_phi(z), (-1, 1), (-1, 2), n=(201, 301), dtype=torch.float64)
    assert np.abs(curl(F)).max() < 1e-2
    xy, yx = grid_potential(F, "xy"), grid_potential(F, "yx")
    xx, yy = np.meshgrid(F.x, F.y)
    exact = xx**2 * yy + np.sin(yy)
    exact = exact - exact[0, 0]
    np.testing.assert_allclose(xy, exact, atol=2e-4)
    np.testing.assert_allclose(yx, exact, atol=2e-4)
    R = grid(rotation, (-1, 1), (-1, 1), n=51, dtype=torch.float64)
    np.testing.assert_allclose(curl(R), 2.0, atol=1e-9)
    # xy - yx is the counterclockwise circulation around the rectangle: 2 * area = 8
    assert grid_potential(R, "xy")[-1, -1] - grid_potential(R, "yx")[-1, -1] == pytest.approx(8.0)
    with pytest.raises(ValueError):
        grid_potential(R, "zz")
