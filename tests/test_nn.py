"""UNet, EDM preconditioning, network files, EPS fine-tuning identity, network-backed prior."""
import copy
import pickle

import pytest
import torch
from torch import nn

from eps.nn import NetworkPrior, UNetConfig, build_network, eps_condition, load_network, load_prior, save_network
from eps.nn.checkpoint import convert_edm_pickle
from eps.operators import DEFAULTS, make_operator
from eps.posterior import make_pivot
from eps.training.objectives import training_pivot
from eps.training.trainer import TrainConfig, build_model

TINY = dict(img_resolution=8, model_channels=8, channel_mult=(1, 2), num_blocks=1, attn_resolutions=(4,))


def perturbed(net):
    """Random non-zero weights everywhere (so zero-initialised layers cannot hide mistakes)."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.2 * torch.randn(p.shape, generator=g))
    return net


def test_unet_shapes_and_published_parameter_names():
    net = build_network(UNetConfig(**TINY, cond_channels=6))
    out = net(torch.randn(2, 3, 8, 8), torch.tensor([0.3, 2.0]), torch.randn(2, 6, 8, 8))
    assert out.shape == (2, 3, 8, 8)
    names = set(net.state_dict())
    for key in ("model.map_layer0.weight", "model.enc.8x8_conv.weight", "model.enc.4x4_down.conv0.weight",
                "model.enc.4x4_block0.qkv.weight", "model.dec.4x4_in0.proj.weight", "model.dec.8x8_up.skip.weight",
                "model.dec.8x8_block1.conv1.weight", "model.dec.8x8_aux_conv.bias"):
        assert key in names, key


def test_missing_conditioning_is_an_error():
    with pytest.raises(ValueError, match="conditioning channels"):
        build_network(UNetConfig(**TINY, cond_channels=6))(torch.randn(1, 3, 8, 8), torch.tensor([1.0]))


class Zero(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))

    def forward(self, x, c_noise, cond, class_labels):
        self.c_noise = c_noise
        return torch.zeros_like(x) + self.w


def test_edm_preconditioning_constants():
    from eps.nn import EDMPrecond
    net, x = EDMPrecond(Zero()), torch.randn(2, 1, 2, 2)
    sigma = torch.tensor([0.5, 2.0])
    out = net(x, sigma)
    c_skip = 0.25 / (sigma**2 + 0.25)  # sigma_data = 0.5
    torch.testing.assert_close(out, c_skip[:, None, None, None] * x)
    torch.testing.assert_close(net.model.c_noise, sigma.log() / 4)


@pytest.mark.parametrize("conditioning, channels", [("observation", 3), ("operator", 9), ("pixel", 6), ("certainty", 3),
                                                    ("none", 0)])
def test_eps_finetune_step0_is_pretrained_denoiser_at_the_pivot(tmp_path, conditioning, channels):
    """The paper's widened first convolution ([mu_star, observation image], App. B) and the project's options: the
    zero-initialised channels make step 0 exactly the pretrained denoiser at the pivot (bitwise)."""
    prior = perturbed(build_network(UNetConfig(**TINY)))
    save_network(prior, tmp_path / "prior.pt")
    eps_net = build_model(TrainConfig(kind="eps", init=str(tmp_path / "prior.pt"), conditioning=conditioning), (3, 8, 8))
    assert eps_net.model.config.cond_channels == channels and eps_net.model.config.conditioning == conditioning
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(4, 3, 8, 8, generator=g) * 2 - 1
    for task in ("inpaint_random", "deblur_motion", "sr4"):
        for sigma in (torch.tensor([0.7]), torch.tensor([0.1, 1.0, 5.0, 30.0])):  # shared (1,) and per-sample (B,)
            pivot = training_pivot(x0, sigma.expand(4), g, 0.05, {task: DEFAULTS[task]})
            with torch.no_grad():
                assert torch.equal(eps_net(pivot.mu_star, pivot.sigma, eps_condition(pivot, conditioning)),
                                   prior(pivot.mu_star, pivot.sigma))


class EDMPrecond(nn.Module):
    """Stands in for an unpickled official EDMPrecond (same class name, constructor arguments and state-dict
    names, plus the entries we drop)."""

    def __init__(self, net):
        super().__init__()
        self.model = net.model
        self.model.map_augment = nn.Linear(9, 8, bias=False)
        self.model.enc["4x4_down"].conv0.register_buffer("resample_filter", torch.ones(1, 1, 2, 2) / 4)
        self.init_kwargs = dict(img_resolution=8, img_channels=3, label_dim=0, model_type="SongUNet",
                                model_channels=8, channel_mult=[1, 2], num_blocks=1, attn_resolutions=[4],
                                encoder_type="standard", dropout=0.0, augment_dim=9)


FakeEDM = EDMPrecond  # the converter checks the class name


def test_converted_edm_checkpoint_loads_one_to_one(tmp_path):
    net = perturbed(build_network(UNetConfig(**TINY)))
    with open(tmp_path / "edm.pkl", "wb") as f:
        pickle.dump({"ema": FakeEDM(net)}, f)
    convert_edm_pickle(tmp_path / "edm.pkl", tmp_path / "edm.pt", allow_unverified=True)
    state = torch.load(tmp_path / "edm.pt", weights_only=True)
    assert state["format"] == "eps-net-v1" and not any("resample_filter" in k for k in state["model"])
    loaded, x, sigma = load_network(tmp_path / "edm.pt"), torch.randn(2, 3, 8, 8), torch.tensor([0.2, 3.0])
    with torch.no_grad():
        assert torch.equal(loaded(x, sigma), net(x, sigma))


def test_corrupt_and_mismatched_network_files_are_one_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_network(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pt.*corrupt"):
        load_network(tmp_path / "junk.pt")
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="other.pt.*format"):
        load_network(tmp_path / "other.pt")
    net = build_network(UNetConfig(**TINY))
    bad = {"format": "eps-net-v1", "net": {**UNetConfig(**TINY).to_dict(), "model_channels": 16},
           "model": net.state_dict()}
    torch.save(bad, tmp_path / "shape.pt")
    with pytest.raises(ValueError, match="shape.pt.*cannot build"):
        load_network(tmp_path / "shape.pt")


def test_network_prior_denoisers_and_gradients(tmp_path):
    for name, cond in (("prior", 0), ("eps", 9), ("palette", 3)):
        save_network(perturbed(build_network(UNetConfig(**TINY, cond_channels=cond))), tmp_path / f"{name}.pt")
    prior = load_prior(tmp_path / "prior.pt", tmp_path / "eps.pt", tmp_path / "palette.pt")
    assert isinstance(prior, NetworkPrior) and prior.image_shape == (3, 8, 8)
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    prior.denoise(x, torch.tensor([1.0])).sum().backward()  # DPS-style baselines differentiate through it
    assert x.grad is not None and x.grad.abs().sum() > 0
    # ... and the gradient is the derivative: in float64, along a random direction v, against the central difference
    # (f(x + h v) - f(x - h v)) / 2h, whose error is h^2 |f_vvv| / 6 + u |f| / h. At h = 1e-4, with |f_vvv| < 1 (the
    # difference at h = 1e-3 is ~5e-8), |f| < 400 (384 outputs of magnitude < 1) and u = 1.1e-16: < 2e-9, so rel 1e-7.
    # The float32 gradient then matches the float64 one to float32 round-off through a few hundred operations
    # (~1e2 * 6e-8 on gradient entries < 1): atol 1e-5.
    prior64 = copy.deepcopy(prior)
    prior64.net.double()
    x64, sigma64 = x.detach().double().requires_grad_(True), torch.tensor([1.0], dtype=torch.float64)
    prior64.denoise(x64, sigma64).sum().backward()
    v, h = torch.randn(x.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64), 1e-4
    with torch.no_grad():
        fd = (prior64.denoise(x64 + h * v, sigma64).sum() - prior64.denoise(x64 - h * v, sigma64).sum()) / (2 * h)
    assert float((x64.grad * v).sum()) == pytest.approx(float(fd), rel=1e-7)
    torch.testing.assert_close(x.grad.double(), x64.grad, rtol=0, atol=1e-5)
    op = make_operator("sr4", (3, 8, 8))
    pivot = make_pivot(op, x.detach(), op.A(x.detach()), torch.tensor([1.0]), 0.05)
    assert prior.denoise_pivot(pivot).shape == (2, 3, 8, 8)
    assert prior.denoise_palette(x, torch.tensor([1.0]), torch.zeros(2, 3, 8, 8)).shape == (2, 3, 8, 8)
    with pytest.raises(ValueError, match="no EPS network"):
        load_prior(tmp_path / "prior.pt").denoise_pivot(pivot)


def test_convert_edm_cli_and_the_edm_source_route(tmp_path, capsys):
    """``eps convert-edm`` on the fake pickle; a pickle needing NVlabs/edm modules is one clear line without
    ``--edm-source``, and loads with it (a stand-in clone whose ``torch_utils.persistence`` rebuilds the net)."""
    import sys

    from eps.cli import main
    net = perturbed(build_network(UNetConfig(**TINY)))
    with open(tmp_path / "edm.pkl", "wb") as f:
        pickle.dump({"ema": FakeEDM(net)}, f)
    assert main(["convert-edm", "--pkl", str(tmp_path / "edm.pkl"), "--out", str(tmp_path / "new" / "net.pt"),
                 "--allow-unverified"]) == 0
    x, sigma = torch.randn(2, 3, 8, 8), torch.tensor([0.2, 3.0])
    with torch.no_grad():
        assert torch.equal(load_network(tmp_path / "new" / "net.pt")(x, sigma), net(x, sigma))

    # protocol-0 pickle: call torch_utils.persistence.rebuild() (a module only an NVlabs/edm clone provides)
    (tmp_path / "needs_edm.pkl").write_bytes(b"ctorch_utils.persistence\nrebuild\n(tR.")
    capsys.readouterr()
    args = ["convert-edm", "--pkl", str(tmp_path / "needs_edm.pkl"), "--out", str(tmp_path / "e.pt"),
            "--allow-unverified"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "git clone https://github.com/NVlabs/edm" in err and "edm_source" in err
    assert main([*args, "--edm-source", str(tmp_path / "nowhere")]) == 2
    assert "is not an NVlabs/edm clone" in capsys.readouterr().err
    clone = tmp_path / "edm" / "torch_utils"
    clone.mkdir(parents=True)
    (clone / "__init__.py").write_text("")
    (clone / "persistence.py").write_text(
        "import pickle, pathlib\n\ndef rebuild():\n"
        f"    return pickle.loads(pathlib.Path({str(tmp_path / 'edm.pkl')!r}).read_bytes())\n")
    path_before = list(sys.path)
    try:
        assert main([*args, "--edm-source", str(tmp_path / "edm")]) == 0
    finally:
        for name in ("torch_utils.persistence", "torch_utils"):
            sys.modules.pop(name, None)
    assert sys.path == path_before and not (tmp_path / "e.pt.tmp").exists()
    with torch.no_grad():
        assert torch.equal(load_network(tmp_path / "e.pt")(x, sigma), net(x, sigma))
