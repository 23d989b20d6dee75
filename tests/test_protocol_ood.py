"""lvf.protocols.ood: the Sec. 4.2 protocol on a map with a known attractor, and on a ViT-MAE."""

from __future__ import annotations

import os

import pytest
import torch

from lvf.protocols.ood import run

C = torch.tensor([1.0, -1.0, 0.5, 2.0])


def _encode(x):
    return x.flatten(1)


def _decode(z):  # f(z) = 0.5 z + 0.5 C: one attractor, at C
    return (0.5 * z + 0.5 * C).view(-1, 1, 2, 2)


def test_separable_sets_give_perfect_scores():
    g = torch.Generator().manual_seed(0)
    near = lambda n: (C + 0.1 * torch.randn(n, 4, generator=g)).view(-1, 1, 2, 2)  # noqa: E731
    far = (C + 5.0 + 0.1 * torch.randn(30, 4, generator=g)).view(-1, 1, 2, 2)
    out = run(
        _encode, _decode, near(50), {"id": near(40), "far": far},
        knn_k=(50, 5, 500), tol=1e-10, batch_size=16,
    )  # fmt: skip
    assert out.train_iteration.converged.all()
    assert torch.allclose(out.train_attractors, C.expand(50, 4), atol=1e-4)
    assert out.methods == ["trajectory", "KNN (K=50)", "KNN (K=5)", "Mahalanobis", "reconstruction"]
    metrics = out.metrics()
    for m in out.methods:
        assert metrics["far"][m]["AUROC"] == 100.0
        assert metrics["far"][m]["FPR95"] == 0.0
    table = out.table()
    assert table.shape == (5, 2) and ("far", "AUROC") in table.columns
    # one attractor at C and f(z) - C = 0.5 (z - C): the score is the mean of |z0 - C| / 2^t
    z0 = _encode(far)[:1]
    steps = int(out.steps["far"][0])
    dists = [(z0 - C).norm() * 0.5**t for t in range(steps + 1)]
    assert out.scores["far"]["trajectory"][0] == pytest.approx(
        float(sum(dists) / len(dists)), rel=1e-4
    )
    with pytest.raises(ValueError, match="id_name"):
        run(_encode, _decode, near(5), {"a": near(3)}, id_name="b")


def test_runs_on_a_tiny_vit_mae_adapter():
    os.environ["HF_HUB_OFFLINE"] = "1"
    transformers = pytest.importorskip("transformers")
    from lvf.models.adapters import vit_mae

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        cfg = transformers.ViTMAEConfig(
            hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
            decoder_hidden_size=16, decoder_num_hidden_layers=1, decoder_num_attention_heads=2,
            decoder_intermediate_size=32, image_size=16, patch_size=8,
        )  # fmt: skip
        ad = vit_mae(transformers.ViTMAEForPreTraining(cfg))
        sets = {"id": torch.rand(4, 3, 16, 16), "noise": torch.rand(3, 3, 16, 16)}
        out = run(
            ad.encode, ad.decode, torch.rand(6, 3, 16, 16), sets,
            preprocess=ad.preprocess, max_steps=3, knn_k=(6,), tol=1e12,
        )  # fmt: skip
        # a tolerance this loose converges every start at the first step: all are attractors
        assert out.converged_fraction == 1.0
        assert out.train_attractors.shape[1:] == (5, 16)  # CLS + 4 patches, width 16
        assert 1 <= len(out.train_attractors) <= 6
        assert out.scores["noise"]["trajectory"].shape == (3,)
        assert set(out.metrics()["noise"]) == set(out.methods)
    finally:
        torch.set_num_threads(n)
