import math

import pytest
import torch
from maps import A_TANH2, affine, random_contraction, tanh2

from lvf import LatentMap, iterate
from lvf.convergence import linear_rate_steps, refine_fixed_points, steps_to_reach


def test_newton_reaches_the_fixed_point_of_a_slow_affine_map():
    Q = torch.linalg.qr(random_contraction(3, rho=1.0, seed=1)).Q
    A = Q @ torch.diag(torch.tensor([0.999, 0.5, -0.3], dtype=torch.float64)) @ Q.T
    f = affine(A, torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64))
    # iterate stops on the step length: with rho close to 1 it stops far from z*
    res = iterate(f, torch.zeros(2, 3, dtype=torch.float64), tol=1e-6)
    z_star = f.fixed_point.expand(2, 3)
    assert (res.final - z_star).norm(dim=1).min() > 1e-3
    refined = refine_fixed_points(f, res.final)
    torch.testing.assert_close(refined, z_star, atol=1e-10, rtol=0)


def test_newton_on_tanh_keeps_each_point_in_its_own_basin():
    z = torch.tensor([[0.8, -1.3], [-0.7, 0.6]], dtype=torch.float64)
    refined = refine_fixed_points(tanh2, z)
    torch.testing.assert_close(refined, A_TANH2 * z.sign(), atol=1e-12, rtol=0)


def test_newton_through_a_latent_map_in_float32():
    torch.manual_seed(0)
    enc = torch.nn.Linear(4, 2)
    dec = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Tanh())
    f = LatentMap(enc, dec)
    res = iterate(f, torch.randn(5, 2), tol=1e-4)
    refined = refine_fixed_points(f, res.final)
    assert refined.dtype == torch.float32 and refined.shape == (5, 2)
    assert (f(refined) - refined).norm(dim=1).max() < 1e-5


def test_a_point_that_cannot_improve_is_left_alone():
    z = torch.tensor([[0.0, 0.0]], dtype=torch.float64)  # the repeller of tanh2 is a fixed point
    torch.testing.assert_close(refine_fixed_points(tanh2, z), z)


def test_steps_to_reach_matches_the_geometric_count_and_the_linear_estimate():
    rho, eps = 0.8, 1e-3
    z0 = torch.tensor([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0005]], dtype=torch.float64)
    res = iterate(lambda z: rho * z, z0, tol=1e-14, record="trajectory")
    target = torch.zeros_like(z0)
    steps = steps_to_reach(res, target, eps)
    e0 = z0.norm(dim=1)
    expected = [math.ceil(math.log(eps / float(e)) / math.log(rho)) for e in e0[:2]]
    assert steps.tolist() == [*map(float, expected), 0.0]
    est = linear_rate_steps(e0, torch.full((3,), rho), eps)
    # for a pure scaling map the estimate is exact: the measured count is its ceiling
    assert torch.equal(steps[:2], est[:2].ceil())
    assert est[2] == 0


def test_strided_counts_are_the_next_recorded_multiple():
    rho, eps = 0.8, 1e-3
    z0 = torch.tensor([[3.0, 4.0]], dtype=torch.float64)
    exact = steps_to_reach(
        iterate(lambda z: rho * z, z0, tol=1e-14, record="trajectory"), torch.zeros_like(z0), eps
    )
    res = iterate(lambda z: rho * z, z0, tol=1e-14, record="trajectory", stride=5)
    strided = steps_to_reach(res, torch.zeros_like(z0), eps, stride=5)
    assert strided.item() % 5 == 0 and 0 <= strided.item() - exact.item() < 5


def test_never_reached_is_nan_and_the_last_iterate_counts_at_its_step():
    z0 = torch.tensor([[3.0, 4.0]], dtype=torch.float64)
    res = iterate(lambda z: 0.8 * z, z0, max_steps=7, record="trajectory", stride=3)
    assert torch.isnan(steps_to_reach(res, torch.zeros_like(z0), 1e-3)).all()
    # the final iterate (step 7, recorded after columns 0, 3, 6) is within 4
    assert steps_to_reach(res, torch.zeros_like(z0), 5 * 0.8**7 * 1.0001, stride=3).item() == 7


def test_linear_rate_steps_edge_cases():
    est = linear_rate_steps(torch.tensor([1.0, 1.0, 1e-4, 1.0]), torch.tensor([0.5, 1.0, 0.5, 0.0]))
    assert est[0].item() == pytest.approx(math.log(1e-3) / math.log(0.5))
    assert math.isnan(est[1]) and est[2] == 0 and math.isnan(est[3])


def test_bad_inputs():
    res = iterate(lambda z: 0.5 * z, torch.ones(2, 2))
    with pytest.raises(ValueError, match="record='trajectory'"):
        steps_to_reach(res, torch.zeros(2, 2))
    res = iterate(lambda z: 0.5 * z, torch.ones(2, 2), record="trajectory")
    with pytest.raises(ValueError, match="one attractor per start"):
        steps_to_reach(res, torch.zeros(3, 2))
    with pytest.raises(ValueError, match="non-empty batch"):
        refine_fixed_points(tanh2, torch.zeros(0, 2))
