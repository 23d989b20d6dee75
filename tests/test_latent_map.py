import pytest
import torch

from lvf import LatentMap


def test_composes_encode_after_decode():
    # decode adds one, encode doubles: f(z) = 2(z + 1), not 2z + 1
    f = LatentMap(encode=lambda x: 2 * x, decode=lambda z: z + 1)
    z = torch.tensor([[0.0, 1.0], [2.0, -1.0]])
    torch.testing.assert_close(f(z), 2 * (z + 1))
    torch.testing.assert_close(f.residual(z), 2 * (z + 1) - z)


@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3, 3), (2, 7, 6)])
def test_any_latent_shape_and_dtype(shape):
    f = LatentMap(encode=lambda x: x.tanh(), decode=lambda z: 0.5 * z)
    z = torch.randn(shape, dtype=torch.float64)
    out = f(z)
    assert out.shape == z.shape and out.dtype == torch.float64
    torch.testing.assert_close(out, torch.tanh(0.5 * z))


def test_no_gradients_when_called_but_raw_keeps_them():
    lin = torch.nn.Linear(2, 2)
    f = LatentMap(encode=lin, decode=torch.nn.Identity())
    z = torch.randn(4, 2, requires_grad=True)
    assert not f(z).requires_grad
    assert f.raw(z).requires_grad


def test_errors_are_clear():
    with pytest.raises(TypeError, match="callable encode"):
        LatentMap(encode=3, decode=lambda z: z)
    f = LatentMap(encode=lambda x: x[:, :1], decode=lambda z: z)
    with pytest.raises(ValueError, match="shape of its input"):
        f(torch.zeros(2, 3))
