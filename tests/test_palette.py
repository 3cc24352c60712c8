"""Palette: the backbone sampler with the conditional denoiser, counted NFE, clear error without a network, the EPS
paper's conditioning (the observation image) and the released one (the degraded image), fine-tuning from the prior."""
import pytest
import torch

from eps.methods import Problem, get_method
from eps.nn import NetworkPrior, UNetConfig, build_network, degraded_image
from eps.nn.checkpoint import save_network
from eps.training.trainer import TrainConfig, build_model
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


def test_degraded_image_is_the_released_conditioning():
    """Spec transcribed from the release (Janspiry/Palette-Image-to-Image-Diffusion-Models@136b29f, data/dataset.py:
    ``cond_image = img * (1 - mask) + mask * randn``, hole = 1 there): observed pixels keep the measurement, the
    hole gets fresh N(0, 1) draws; a measurement on the image grid is used as is; SR gets ``A^+ y``."""
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(2, 3, 8, 8, generator=g, dtype=torch.float64) * 2 - 1
    op = make_operator("inpaint_random", (3, 8, 8), 2, g).to(dtype=torch.float64)
    y = op.measure(x0, 0.05, g)
    hole = torch.randn(y.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    m = op.mask
    expected = y * m + (1 - m) * hole
    assert torch.equal(degraded_image(op, y, torch.Generator().manual_seed(1)), expected)
    blur = make_operator("deblur_gauss", (3, 8, 8)).to(dtype=torch.float64)
    y = blur.measure(x0, 0.05, g)
    assert torch.equal(degraded_image(blur, y, g), y)
    sr = make_operator("sr4", (3, 8, 8)).to(dtype=torch.float64)
    y = sr.measure(x0, 0.05, g)
    up = degraded_image(sr, y, g)
    assert up.shape == x0.shape and torch.allclose(sr.A(up), y, atol=1e-12)  # A A^+ y = y (A has full row rank)


@pytest.mark.parametrize("conditioning", ["observation", "degraded"])
def test_palette_samples_with_the_conditioning_it_was_trained_on(conditioning):
    """The network's saved conditioning decides what it is fed: a recording network sees exactly the observation
    image (the EPS paper's Palette) or the degraded image drawn first from the sampling generator (Saharia)."""
    from eps.nn.conditioning import observation_image

    seen = []

    class Recording(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net
            self.model = net.model

        def forward(self, x, sigma, cond, class_labels=None):
            seen.append(cond.clone())
            return self.net(x, sigma, cond, class_labels=class_labels)

    palette = build_network(UNetConfig(**TINY, cond_channels=3, conditioning=conditioning))
    prior = NetworkPrior(build_network(UNetConfig(**TINY)), palette_net=Recording(palette))
    assert prior.palette_conditioning == conditioning
    g = torch.Generator().manual_seed(0)
    op = make_operator("inpaint_random", (3, 8, 8), 2, g)
    y = op.measure(torch.rand(2, 3, 8, 8, generator=g) * 2 - 1, 0.05, g)
    with torch.no_grad():
        get_method("palette", solver="euler").run(Problem(op, y, 0.05), prior, nfe=3,
                                                  generator=torch.Generator().manual_seed(5))
    expected = observation_image(op, y) if conditioning == "observation" else \
        degraded_image(op, y, torch.Generator().manual_seed(5))
    assert len(seen) == 3 and all(torch.equal(c, expected) for c in seen)


@pytest.mark.parametrize("conditioning", ["observation", "degraded"])
def test_palette_finetune_step0_is_the_prior_denoiser(tmp_path, conditioning):
    """Fine-tuned from the prior like EPS: the zero-initialised condition channels make step 0 the prior."""
    prior = build_network(UNetConfig(**TINY))
    with torch.no_grad():
        for p in prior.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    save_network(prior, tmp_path / "prior.pt")
    net = build_model(TrainConfig(kind="palette", init=str(tmp_path / "prior.pt"), conditioning=conditioning), (3, 8, 8))
    assert net.model.config.cond_channels == 3 and net.model.config.conditioning == conditioning
    g = torch.Generator().manual_seed(2)
    x, cond = torch.randn(4, 3, 8, 8, generator=g), torch.randn(4, 3, 8, 8, generator=g)
    sigma = torch.tensor([0.1, 1.0, 5.0, 30.0])
    with torch.no_grad():
        assert torch.equal(net(x, sigma, cond), prior(x, sigma))
