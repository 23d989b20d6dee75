import math

import pytest
import torch
from maps import A_TANH2, affine, random_contraction, steps_for_scaling, tanh2

from lvf import find_attractors, iterate


def test_affine_contraction_lands_on_its_exact_fixed_point():
    A = random_contraction(6, rho=0.8, seed=1)
    b = torch.randn(6, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    f = affine(A, b)
    z0 = 5 * torch.randn(200, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    res = iterate(f, z0, tol=1e-14, max_steps=3000)
    assert res.converged.all() and not res.diverged.any()
    err = (res.final - f.fixed_point).norm(dim=1)
    assert err.max() < 1e-5
    # the criterion itself: the last step was below tol, the one before was not
    assert ((f(res.final) - res.final).norm(dim=1) ** 2 < 1e-14).all()


def test_step_count_matches_the_analytic_count():
    rho, tol = 0.5, 1e-6
    z0 = torch.tensor([[1.0, 0.0], [3.0, 4.0], [0.0, 100.0]], dtype=torch.float64)
    res = iterate(lambda z: rho * z, z0, tol=tol)
    expected = [steps_for_scaling(rho, float(n), tol) for n in z0.norm(dim=1)]
    assert res.steps.tolist() == expected
    torch.testing.assert_close(res.final, z0 * rho ** res.steps[:, None].double())


def test_two_attractors_and_their_basins():
    # an even count keeps the origin, an unstable fixed point of its own, out of the starts
    z0 = torch.linspace(-3, 3, 600, dtype=torch.float64)[:, None]
    res = iterate(tanh2, z0, tol=1e-12)
    assert res.converged.all()
    # error bound rho/(1 - rho) * sqrt(tol) with rho = 2(1 - a²) ≈ 0.17
    torch.testing.assert_close(res.final[:, 0], A_TANH2 * torch.sign(z0[:, 0]), atol=1e-6, rtol=0)
    att = find_attractors(res.final, eps=1e-3)
    assert len(att) == 2
    # basins: the sign of the start
    first_label = att.labels[0]
    assert (att.labels[z0[:, 0] < 0] == first_label).all()
    assert (att.labels[z0[:, 0] > 0] != first_label).all()
    assert sorted(att.counts.tolist()) == [300, 300]


def test_divergence_is_flagged_per_point_and_nothing_non_finite_leaks():
    z0 = torch.tensor([[0.5], [-0.9], [1.0], [1.5], [-3.0]], dtype=torch.float64)
    res = iterate(lambda z: z * z, z0, tol=1e-12, max_steps=500)
    assert res.converged.tolist() == [True, True, True, False, False]
    assert res.diverged.tolist() == [False, False, False, True, True]
    assert torch.isfinite(res.final).all()
    assert res.final[:3, 0].tolist() == [0.0, 0.0, 1.0] or torch.allclose(
        res.final[:3, 0], torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64), atol=1e-6
    )
    assert (res.final[3:].abs() <= 1e6).all()


def test_nan_from_the_map_marks_only_that_point_diverged():
    def f(z):
        return torch.where(z > 0, 0.5 * z, torch.full_like(z, math.nan))

    z0 = torch.tensor([[1.0], [-1.0], [2.0]])
    res = iterate(f, z0, tol=1e-10, record="norms")
    assert res.diverged.tolist() == [False, True, False]
    assert res.converged.tolist() == [True, False, True]
    assert res.final[1, 0] == -1.0  # the last finite iterate: the start
    assert res.steps[1] == 1
    assert torch.isnan(res.norms[1]).all()  # no step of it was finite
    assert not torch.isnan(res.norms[0, : res.steps[0]]).any()


@pytest.mark.parametrize("shape", [(7, 5), (7, 3, 4, 4), (7, 6, 8)])
def test_latent_shapes(shape):
    c = torch.randn(shape[1:])
    z0 = torch.randn(shape)
    res = iterate(lambda z: 0.5 * z + c, z0, tol=1e-12)
    assert res.final.shape == shape
    assert res.steps.shape == res.converged.shape == res.diverged.shape == (7,)
    torch.testing.assert_close(res.final, (2 * c).expand(shape), atol=1e-5, rtol=0)


def test_early_exit_gives_the_same_attractors_as_iterating_everything_to_max_steps():
    g = torch.Generator().manual_seed(0)
    z0 = 2 * torch.randn(500, 3, generator=g, dtype=torch.float64)
    z0[z0.abs() < 1e-3] = 0.1
    res = iterate(tanh2, z0, tol=1e-10, max_steps=300, batch_size=64)
    z = z0.clone()
    for _ in range(300):
        z = tanh2(z)
    torch.testing.assert_close(res.final, z, atol=1e-5, rtol=0)
    a, b = find_attractors(res.final, eps=1e-2), find_attractors(z, eps=1e-2)
    assert len(a) == len(b) == 8
    assert torch.equal(a.labels, b.labels)


def test_results_do_not_depend_on_the_pool_size():
    g = torch.Generator().manual_seed(1)
    z0 = torch.randn(300, 4, generator=g)
    ref = iterate(tanh2, z0, tol=1e-8)
    for bs in (1, 7, 64, 1000):
        res = iterate(tanh2, z0, tol=1e-8, batch_size=bs)
        assert torch.equal(res.final, ref.final)
        assert torch.equal(res.steps, ref.steps)


def test_max_steps_stops_slow_points_unconverged():
    z0 = torch.tensor([[1.0], [1e-30]])
    res = iterate(lambda z: 0.999 * z, z0, tol=1e-12, max_steps=10)
    assert res.steps.tolist() == [10, 1]
    assert res.converged.tolist() == [False, True]
    assert not res.diverged.any()


def test_recorded_norms_and_trajectory():
    rho = 0.5
    z0 = torch.tensor([[2.0, 0.0], [0.0, 8.0]], dtype=torch.float64)
    res = iterate(lambda z: rho * z, z0, tol=1e-8, record="norms")
    for i in range(2):
        t = torch.arange(int(res.steps[i]), dtype=torch.float64)
        expected = (rho**t * (1 - rho) * z0[i].norm()) ** 2
        torch.testing.assert_close(res.norms[i, : len(t)], expected)
        assert torch.isnan(res.norms[i, len(t) :]).all()

    res = iterate(lambda z: rho * z, z0, tol=1e-8, record="trajectory", stride=3)
    for i in range(2):
        T = int(res.steps[i])
        ts = list(range(0, T + 1, 3))
        if ts[-1] != T:
            ts.append(T)
        traj = res.trajectory_of(i)
        assert int(res.lengths[i]) == len(ts)
        expected = torch.stack([z0[i] * rho**t for t in ts])
        torch.testing.assert_close(traj, expected)
        torch.testing.assert_close(traj[-1], res.final[i])
    assert res.trajectory.device.type == "cpu"


def test_works_in_the_dtype_of_the_input():
    for dtype in (torch.float32, torch.float64):
        res = iterate(lambda z: 0.5 * z, torch.ones(3, 2, dtype=dtype))
        assert res.final.dtype == dtype


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((torch.zeros(3),), {}, ValueError, "shape \\(N, \\*latent_shape\\)"),
        ((torch.zeros(0, 2),), {}, ValueError, "empty batch"),
        ((torch.tensor([[0.0, math.nan]]),), {}, ValueError, "non-finite"),
        (([[0.0, 1.0]],), {}, TypeError, "torch.Tensor"),
        ((torch.zeros(2, 2, dtype=torch.long),), {}, TypeError, "floating-point"),
        ((torch.zeros(2, 2),), {"tol": 0}, ValueError, "tol"),
        ((torch.zeros(2, 2),), {"max_steps": 0}, ValueError, "max_steps"),
        ((torch.zeros(2, 2),), {"record": "all"}, ValueError, "record"),
    ],
)
def test_bad_inputs_raise_clear_errors(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        iterate(lambda z: z, *args, **kwargs)


def test_non_callable_and_shape_changing_maps_are_rejected():
    with pytest.raises(TypeError, match="callable"):
        iterate("not a map", torch.zeros(2, 2))
    with pytest.raises(ValueError, match="preserve the shape"):
        iterate(lambda z: z[:, :1], torch.zeros(2, 2))
