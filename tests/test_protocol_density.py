"""lvf.protocols.density: the checks of chapter 4 on constructions with known answers."""

import math

import pytest
import torch

from lvf import LatentMap
from lvf.data import GaussianMixture2D
from lvf.models import MLPAE
from lvf.models.tied import TiedAE
from lvf.protocols import density

CENTERS = torch.tensor([[-2.0, 0.0], [2.0, 0.0]])


def _two_blobs(n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    return CENTERS[labels] + 0.2 * torch.randn(n, 2, generator=g)


class _MeanShiftModel:
    """A stand-in autoencoder: E is the identity and f pulls every latent to the kernel mean
    of the two blob centres, so its attractors are (close to) the centres."""

    def encode(self, x):
        return x

    def latent_map(self):
        def pull(z):
            w = torch.softmax(-torch.cdist(z, CENTERS.to(z)).square() / (2 * 0.5**2), dim=1)
            return w @ CENTERS.to(z)

        return LatentMap(encode=pull, decode=lambda z: z)


def test_mode_match_known_answers():
    modes = torch.tensor([[0.0, 0.0], [4.0, 0.0]])
    assert density.mode_match(modes + 0.1, modes, radius=1.0) == 1.0
    assert density.mode_match(modes[:1], modes, radius=1.0) == 0.5  # one mode missed
    extra = torch.cat([modes, torch.tensor([[9.0, 9.0]])])
    assert density.mode_match(extra, modes, radius=1.0) == pytest.approx(2 / 3)  # one stray
    assert density.mode_match(modes[:0], modes, radius=1.0) == 0.0


def test_mode_radius_is_not_decided_by_one_split_mode():
    """Eight modes on a circle, attractors 0.3 off each: a quarter of the spacing matches
    all of them. When the KDE splits one blob into two peaks 0.2 apart, the radius stays a
    quarter of the typical spacing and the match stays 1 (the smallest distance would give a
    radius of 0.05, and no match at all)."""
    angle = torch.arange(8.0) * math.tau / 8
    modes = 4 * torch.stack([angle.cos(), angle.sin()], dim=1)  # spacing 4 * 2 sin(pi / 8)
    spacing = 8 * math.sin(math.pi / 8)
    assert density.mode_radius(modes) == pytest.approx(spacing / 4)
    centers = modes + torch.tensor([0.3, 0.0])
    split = torch.cat([modes, modes[:1] + torch.tensor([0.0, 0.2])])
    assert density.mode_radius(split) == pytest.approx(spacing / 4)
    # both peaks of the split blob lie within the radius of its attractor
    assert density.mode_match(centers, split, density.mode_radius(split)) == 1.0
    assert density.mode_match(centers, split, 0.25 * float(torch.pdist(split).min())) == 0.0
    assert density.mode_radius(modes[:1]) == math.inf


def test_study_finds_converged_attractors_at_the_modes():
    x = _two_blobs()
    st = density.study(_MeanShiftModel(), x, grid_n=8, tol=1e-10, max_steps=500)
    assert st["converged"] == 1.0
    assert len(st["modes"]) == 2 and len(st["centers"]) == 2
    radius = 0.25 * float(torch.pdist(st["modes"]).min())
    assert density.mode_match(st["centers"], st["modes"], radius) == 1.0
    cos = density.on_data_cos(st)
    assert cos.shape == (len(x),) and float(cos.mean()) > 0.5  # the field points up q̂


def test_study_keeps_no_unconverged_end_point():
    st = density.study(_MeanShiftModel(), _two_blobs(), grid_n=4, tol=1e-30, max_steps=1)
    assert st["converged"] == 0.0 and len(st["centers"]) == 0 and len(st["att"]) == 0


def test_linear_fixed_point_matches_the_analytic_fixed_point():
    model = MLPAE(in_dim=2, k=2, hidden=())
    with torch.no_grad():
        model.encoder[0].weight.copy_(torch.tensor([[0.5, 0.0], [0.0, 0.8]]))
        model.encoder[0].bias.copy_(torch.tensor([1.0, -1.0]))
        model.decoder[0].weight.copy_(torch.eye(2))
        model.decoder[0].bias.zero_()
    # f(z) = A z + b with A = diag(0.5, 0.8), b = (1, -1): z* = (2, -5)
    lin = density.linear_fixed_point(model, torch.randn(16, 2), steps=50)
    assert lin["z_star"].tolist() == pytest.approx([2.0, -5.0])
    assert lin["rho"] == pytest.approx(0.8) and lin["gap"] == pytest.approx(0.2)
    assert lin["deviation"] < 1e-12
    assert float(lin["ratio"].max()) <= 0.8**50 * (1 + 1e-9)


def test_pca_field_vanishes():
    pc = density.pca_field(_two_blobs().double())
    assert pc["latent"] < 1e-12 and pc["subspace"] < 1e-12 and pc["decades"] > 10
    assert pc["U"].shape == (1, 2)


def test_tied_potential_integrates_to_the_closed_form():
    torch.manual_seed(0)
    model = TiedAE(in_dim=2, hidden=8, activation="tanh", tied=True).eval()
    mix = GaussianMixture2D.three()
    pt = density.tied_potential(model, mix, mix, ((-3.0, 3.0), (-3.0, 3.0)), n=60)
    assert pt["psi"].shape == (60, 60) and pt["error"] < 1e-2
    assert -1 <= pt["rho_p"] <= 1 and pt["rho_p"] == pt["rho_ps"]  # same density given twice


def test_gd_versus_iteration_at_a_repeller():
    f = LatentMap(encode=lambda z: 2 * z, decode=lambda z: z)  # J = 2I: 0 repels
    z0 = torch.tensor([[0.5, 0.0], [0.0, -0.3], [0.2, 0.2]])
    w = density.gd_versus_iteration(f, z0, near=0.1, lr=0.1, steps=500, max_steps=100)
    sh = w["shares"]
    assert w["cos"] == pytest.approx([-1.0, -1.0, -1.0])  # −∇L = −2v
    assert sh["share cos < 0.9"] == 1.0
    assert sh["GD ends at an unstable fixed point"] == 1.0
    assert sh["GD ends at a stable attractor"] == 0.0
    assert sh["iteration converges to a stable attractor"] == 0.0


class _Overshoot:
    """E(x) = −x/2, D(z) = z on the plane: F overshoots the prototype D(0) = 0."""

    def encode(self, x):
        return -0.5 * x

    def decode(self, z):
        return z


def test_prototype_bound_printed_fails_when_the_reconstruction_overshoots():
    x = torch.randn(50, 2, generator=torch.Generator().manual_seed(0))
    pb = density.prototype_bound(_Overshoot(), torch.zeros(1, 2), x)
    assert pb["L_D estimate"] == pytest.approx(1.0)
    assert pb["printed bound holds (global L_D)"] == 0.0
    assert pb["printed bound holds (tight L_i)"] == 0.0
    assert pb["factor-2 bound holds (global L_D)"] == 1.0


def test_overshoot_counterexample_known_answer():
    r = density.overshoot_counterexample(0.5, torch.tensor([1.0, -2.0]))
    assert r["error"].tolist() == [2.25, 9.0] and r["printed"].tolist() == [1.25, 5.0]
    assert r["printed holds"] == 0.0 and r["corrected holds"] == 1.0


def test_claim_effects_one_number_per_claim():
    st = density.study(_MeanShiftModel(), _two_blobs(), grid_n=8, tol=1e-10, max_steps=500)
    walks = {"shares": {"share cos < 0.9": 0.3, "GD ends at a stable attractor": 0.6}}
    eff = density.claim_effects(
        blobs=st,
        datasets={"blobs": st},
        pca={"decades": 7.0},
        linear=[{"deviation": 1e-10}, {"deviation": 1e-12}],
        potential={"error": 1e-3, "rho_p": 0.9},
        walks=walks,
        prototypes=None,
        seed=0,
    )
    assert eff["modes"] == 1.0 and eff["cos blobs"] > 0.5
    assert eff["linear decades"] == pytest.approx(10.0)
    assert eff["potential decades"] == pytest.approx(3.0)
    assert eff["descent misses"] == pytest.approx(0.4)
    assert math.isnan(eff["printed DAE"]) and eff["printed overshoot"] == 0.0
