import torch

import lvf
from lvf.residual import descend, residual_loss, residual_loss_grad


def test_gradient_is_two_j_minus_i_transpose_v():
    A = torch.tensor([[0.5, 0.3], [-0.2, 0.8]], dtype=torch.float64)

    def f(z):
        return torch.tanh(z @ A.T + 0.1)

    z = torch.randn(6, 2, dtype=torch.float64)
    loss, grad = residual_loss_grad(f, z)
    J = lvf.jacobian.jacobian(f, z)
    v = f(z) - z
    expected = 2 * torch.einsum("nji,nj->ni", J - torch.eye(2, dtype=z.dtype), v)
    torch.testing.assert_close(grad, expected)
    torch.testing.assert_close(loss, residual_loss(f, z))
    torch.testing.assert_close(loss, v.square().sum(1))


def test_descent_stops_at_an_unstable_fixed_point_that_iteration_avoids():
    # z -> 2z on a line: the origin is a repeller (iteration runs away), but L = z² has its
    # minimum there, so gradient descent on L finds it
    def f(z):
        return 2.0 * z

    z0 = torch.tensor([[0.5], [-1.0]], dtype=torch.float64)
    res = descend(f, z0, lr=0.2, steps=500, grad_tol=1e-24)
    assert res.final.abs().max() < 1e-6 and res.loss.max() < 1e-12
    it = lvf.iterate(f, z0, max_norm=1e3)
    assert it.diverged.all()


def test_descent_on_a_contraction_reaches_its_attractor():
    A = torch.tensor([[0.3, 0.1], [0.0, 0.5]], dtype=torch.float64)
    b = torch.tensor([1.0, -1.0], dtype=torch.float64)

    def f(z):
        return z @ A.T + b

    z_star = torch.linalg.solve(torch.eye(2, dtype=A.dtype) - A, b)
    res = descend(f, torch.zeros(3, 2, dtype=torch.float64), lr=0.3, steps=3000, grad_tol=1e-20)
    torch.testing.assert_close(res.final, z_star.expand(3, 2), atol=1e-5, rtol=0)
    assert res.steps < 3000
