"""lvf.protocols.ood: converged training attractors, the trajectory score taken apart, and the
effects and verdicts over seeds (known answers on hand-made maps and scores)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lvf.iterate import iterate
from lvf.measures.ood import auroc, roc
from lvf.protocols.ood import (
    PAPER_FIG5A,
    OODResult,
    across_seeds,
    describe_gaps,
    gaps,
    judge_gaps,
    mean_sd,
    paper_table,
    run,
    trajectory_parts,
)

C = torch.tensor([1.0, -1.0, 0.5, 2.0])


def _encode(x):
    return x.flatten(1)


def _decode(z):  # f(z) = C + 0.5 (z - C): one attractor at C, the distance halves each step
    return (0.5 * z + 0.5 * C).view(-1, 1, 2, 2)


def _images(z):
    return z.view(-1, 1, 2, 2)


def test_only_converged_end_points_are_training_attractors():
    # near starts converge within 12 steps at tol 1e-8; far ones (distance 1e3) cannot
    near = C + 1e-3 * torch.ones(3, 4)
    far = C + 1e3 * torch.ones(2, 4)
    out = run(
        _encode, _decode, _images(torch.cat([near, far])), {"id": _images(near), "x": _images(far)},
        knn_k=(5,), tol=1e-8, max_steps=12,
    )  # fmt: skip
    assert out.converged_fraction == pytest.approx(3 / 5)
    assert out.attractors.labels.tolist() == [0, 0, 0, -1, -1]
    assert len(out.attractors) == 1
    assert torch.allclose(out.train_attractors[0], C, atol=1e-3)
    assert out.converged["id"].all() and not out.converged["x"].any()


def test_no_converged_start_gives_an_undefined_score():
    far = C + 1e3 * torch.ones(4, 4)
    with pytest.warns(RuntimeWarning, match="no training attractor"):
        out = run(
            _encode, _decode, _images(far), {"id": _images(far), "x": _images(far + 1)},
            knn_k=(4,), tol=1e-8, max_steps=3,
        )  # fmt: skip
    assert len(out.attractors) == 0 and out.converged_fraction == 0.0
    assert torch.isnan(out.scores["x"]["trajectory"]).all()
    assert math.isnan(out.metrics()["x"]["trajectory"]["AUROC"])
    assert not math.isnan(out.metrics()["x"]["Mahalanobis"]["AUROC"])


def test_trajectory_parts_on_a_halving_map():
    z0 = C + torch.tensor([[3.0, 4.0, 0.0, 0.0], [0.0, 0.0, 0.0, 8.0]])
    res = iterate(lambda z: 0.5 * z + 0.5 * C, z0, tol=1e-6, max_steps=100, record="trajectory")
    parts = trajectory_parts(res, C[None])
    assert parts["start"].tolist() == pytest.approx([5.0, 8.0])
    assert parts["end"].max() < 1e-2
    for i, d0 in enumerate([5.0, 8.0]):
        n = int(res.lengths[i])
        dists = [d0 * 0.5**t for t in range(n)]
        assert parts["mean"][i] == pytest.approx(sum(dists) / n)
        assert parts["sum"][i] == pytest.approx(sum(dists))
        assert parts["steps"][i] == res.steps[i]
    assert parts["distances"].shape == res.trajectory.shape[:2]
    with pytest.raises(ValueError, match="record='trajectory'"):
        trajectory_parts(iterate(lambda z: 0.5 * z, z0), C[None])


def _result(shift_traj: float, shift_base: float) -> OODResult:
    """ID scores 0..9; the OOD set's trajectory scores are shifted by ``shift_traj``, its
    baseline scores by ``shift_base`` (a shift of 10 separates perfectly, 0 is chance)."""
    ids = torch.arange(10.0, dtype=torch.float64)
    return OODResult(
        id_name="id",
        scores={
            "id": {"trajectory": ids, "KNN (K=20)": ids, "KNN (K=5)": ids, "other": ids},
            "ood": {"trajectory": ids + shift_traj, "KNN (K=20)": ids + shift_base,
                    "KNN (K=5)": ids, "other": ids - 10},
        },
    )  # fmt: skip


def test_gaps_and_verdicts_over_seeds():
    # AUROC of ids + 10 against ids: 100; of ids + 0: 50; of ids + 5: 87.5 (of the 100 pairs,
    # 85 have the OOD score above and 5 are ties, counted half)
    results = {0: _result(10, 0), 1: _result(10, 5)}
    auc5 = 100 * auroc(np.arange(10.0), np.arange(10.0) + 5)
    assert auc5 == pytest.approx(87.5)
    assert results[0].knn_paper == "KNN (K=20)"
    g = gaps(results, ["KNN (K=20)", "other"])
    assert g["reference"].tolist() == ["KNN (K=20)", "KNN (K=20)"]
    assert g["gap"].tolist() == pytest.approx([50.0, 12.5])
    chance = gaps(results, "chance")
    assert chance["gap"].tolist() == pytest.approx([50.0, 50.0])
    v = judge_gaps(chance, smallest=2.0, measure="AUROC − 50")
    assert v.label == "reproduced" and set(v.parts) == {"ood"}
    assert v.parts["ood"].effects == (50.0, 50.0)
    # a baseline that wins on both seeds: the trajectory loses by 50 points
    lose = gaps({0: _result(0, 10), 1: _result(0, 10)}, ["KNN (K=20)"])
    assert judge_gaps(lose, smallest=2.0, measure="gap").label == "not reproduced"
    assert describe_gaps(lose) == "ood -50.0 ± 0.0 (AUROC points, 2 seeds)"


def test_tables_over_seeds_and_the_papers_numbers():
    results = {0: _result(10, 0), 1: _result(10, 0)}
    long = across_seeds(results)
    assert len(long) == 2 * 4 and set(long.columns) == {"seed", "set", "method", "AUROC", "FPR95"}
    assert long.query("method == 'trajectory'")["AUROC"].tolist() == [100.0, 100.0]
    table = mean_sd(results)
    assert table.loc["trajectory", "ood"] == "100.0 ± 0.0"
    assert table.loc["KNN (K=20)", "ood"] == "50.0 ± 0.0"
    paper = paper_table()
    assert (
        paper.loc["d(attractors)", ("SUN397", "AUROC")]
        == PAPER_FIG5A["d(attractors)"]["SUN397"]["AUROC"]
    )
    assert paper.shape == (2, 8)


def test_roc_curve_of_separated_scores():
    fpr, tpr = roc([0.0, 1.0, 2.0], [5.0, 6.0])
    assert fpr[0] == 0.0 and tpr[-1] == 1.0
    assert np.trapezoid(tpr, fpr) == pytest.approx(1.0)
    out = _result(10, 0)
    f2, t2 = out.roc("ood", "KNN (K=20)")
    assert np.trapezoid(t2, f2) == pytest.approx(0.5)
    empty = roc([0.0, float("nan")], [1.0])
    assert len(empty[0]) == 0
