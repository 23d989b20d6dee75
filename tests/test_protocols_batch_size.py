"""Every protocol that runs a network honours its ``batch_size``.

The networks below raise as soon as they are handed more rows than the protocol was asked to
use, so a protocol that sends a whole data set (or all 4,096 starts of a Stable Diffusion
probe) through the model at once fails here instead of running out of GPU memory.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lvf.measures.ood import trajectory_scores
from lvf.protocols import dictionary, memorization, norms, ood

B = 5  # the batch size every protocol is asked for; the data sets are larger


class Guarded(nn.Module):
    """A contracting linear autoencoder on (N, 1, 4, 4) images with a k = 16 latent, whose
    ``encode`` and ``decode`` refuse batches larger than ``limit`` and count the calls."""

    def __init__(self, limit: int):
        super().__init__()
        torch.manual_seed(0)
        self.enc = nn.Linear(16, 16)
        self.dec = nn.Linear(16, 16)
        with torch.no_grad():  # f(z) = E(D(z)) contracts: the product of the norms is < 1
            self.enc.weight.mul_(0.5 / torch.linalg.matrix_norm(self.enc.weight, 2))
            self.dec.weight.mul_(1.0 / torch.linalg.matrix_norm(self.dec.weight, 2))
        self.limit, self.calls, self.largest = limit, 0, 0

    def _check(self, x: torch.Tensor) -> None:
        self.calls += 1
        self.largest = max(self.largest, x.shape[0])
        if x.shape[0] > self.limit:
            raise AssertionError(
                f"got a batch of {x.shape[0]} rows, asked for at most {self.limit}"
            )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        return self.enc(x.flatten(1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        self._check(z)
        return torch.sigmoid(self.dec(z)).view(-1, 1, 4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def latent_map(self):
        from lvf import LatentMap

        return LatentMap(self.encode, self.decode)


def _images(n: int, seed: int) -> torch.Tensor:
    return torch.rand(n, 1, 4, 4, generator=torch.Generator().manual_seed(seed))


@pytest.fixture
def model() -> Guarded:
    return Guarded(limit=B)


def test_the_guard_fires(model):
    with pytest.raises(AssertionError, match="at most 5"):
        model.encode(_images(B + 1, 0))


def test_memorization_protocol(model):
    out = memorization.probe_attractors(
        model, _images(23, 0), _images(17, 1), batch_size=B, max_steps=200
    )
    assert len(out.final) == 23 and model.largest == B


def test_dictionary_protocol(model):
    starts = dictionary.orthogonal_starts((16,), n=12, seed=0)
    out = dictionary.probe(
        model.encode, model.decode, starts, {"a": _images(13, 2)}, [1, 2], batch_size=B
    )
    assert out.errors["a"]["attractors"].shape == (2, 13) and model.largest == B


@pytest.mark.parametrize("keep", [False, True])
def test_ood_protocol(model, keep):
    out = ood.run(
        model.encode, model.decode, _images(21, 3), {"id": _images(12, 4), "ood": _images(9, 5)},
        knn_k=(7,), tol=1e-8, max_steps=100, batch_size=B, keep_trajectories=keep,
    )  # fmt: skip
    assert set(out.scores) == {"id", "ood"} and model.largest == B


def test_norms_protocol_and_trajectory_scores(model):
    z0 = torch.randn(14, 16, generator=torch.Generator().manual_seed(6))
    trace = norms.track_norms(model.latent_map(), z0, 4, decode=model.decode, batch_size=B)
    assert trace.embedding.shape == (14, 5)
    scores, steps = trajectory_scores(model.latent_map(), z0, z0[:2], chunk=B)
    assert scores.shape == (14,) and model.largest == B
