"""Palette: the backbone sampler with the conditional denoiser, counted NFE, clear error without a network."""
import pytest
import torch

from eps.methods import Problem, get_method
from eps.nn import NetworkPrior, UNetConfig, build_network
from eps.operators import make_operator
from eps.priors import random_gmm

TINY = dict(img_resolution=8, model_channels=8, channel_mult=(1, 2), num_blocks=1, attn_resolutions=(4,))


def test_palette_samples_with_counted_network_calls():
    g = torch.Generator().manual_seed(0)
    prior = NetworkPrior(build_network(UNetConfig(**TINY)), palette_net=build_network(UNetConfig(**TINY, cond_channels=3)))
    op = make_operator("inpaint_box", (3, 8, 8))
    x0 = torch.rand(2, 3, 8, 8, generator=g) * 2 - 1
    problem = Problem(op, op.measure(x0, 0.05, g), 0.05)
    with torch.no_grad():
        out = get_method("palette").run(problem, prior, nfe=5, generator=g)
    assert out.x.shape == (2, 3, 8, 8) and torch.isfinite(out.x).all()
    assert out.nfe == 5 and out.vjp == 0  # Heun with 3 steps: 2 * 3 - 1 network calls


def test_palette_needs_a_palette_network():
    gmm = random_gmm((1, 4, 4), generator=torch.Generator().manual_seed(0))
    op = make_operator("sr4", (1, 4, 4))
    with pytest.raises(ValueError, match="Palette network"):
        get_method("palette").run(Problem(op, torch.zeros(1, 1, 1, 1), 0.05), gmm, nfe=3)
