"""lvf.protocols.backbones: rows, modes and the cache of the Fig. 6 protocol."""

import pytest

from lvf.protocols.backbones import backbone_gains


def test_backbone_gains_rows_modes_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LVF_CACHE", str(tmp_path))
    kw = dict(seeds=[0], n_inputs=4, image_size=32, cache=True)
    rows = backbone_gains(["resnet18"], modes=("eval", "batch"), batch_size=2, **kw)
    assert [(r["architecture"], r["mode"], r["cached"]) for r in rows] == [
        ("resnet18", "eval", False),
        ("resnet18", "batch", False),
    ]
    for r in rows:
        assert r["ratio"] > 0 and r["ratio_pooled"] > 0 and r["ratio_features"] > 0
        assert not r["head_zero"] and r["params"] > 1e7 and not r["same_as_eval"]
    assert rows[0]["ratio"] != pytest.approx(rows[1]["ratio"], rel=1e-3)  # BN batch statistics
    assert len(list((tmp_path / "contraction").glob("resnet18-*.pt"))) == 2
    again = backbone_gains(["resnet18"], modes=("batch",), batch_size=2, **kw)
    assert again[0]["cached"] and again[0]["ratio"] == rows[1]["ratio"]
    # eval mode: the inputs and the result do not depend on the batching
    other = backbone_gains(["resnet18"], batch_size=4, **kw)
    assert not other[0]["cached"] and other[0]["ratio"] == pytest.approx(rows[0]["ratio"], rel=1e-5)


def test_backbone_without_batch_norm_has_one_deterministic_result(tmp_path, monkeypatch):
    monkeypatch.setenv("LVF_CACHE", str(tmp_path))
    kw = dict(seeds=[0], n_inputs=4, image_size=64, modes=("eval", "batch"))
    first = backbone_gains(["alexnet"], **kw)  # has dropout, no batch norm
    assert first[1]["same_as_eval"] and first[1]["ratio"] == first[0]["ratio"]
    assert backbone_gains(["alexnet"], **kw)[0]["ratio"] == first[0]["ratio"]
