"""ADM (EDM's ImageNet-64 architecture) and the EDM converter: parity with NVlabs/edm's own network code.

The fixtures ``tests/fixtures/edm_{ddpmpp,adm}_tiny.pt`` hold only numbers: the constructor arguments, the
random weights, seeded inputs ``(x, sigma, class labels)`` and the outputs ``F`` (raw network) and ``D``
(EDMPrecond) of NVlabs/edm ``training/networks.py`` at commit 008a4e5316c8e3bfe61a62f874bddba254295afb, run
in a scratch folder outside the project on 8x8 configurations (8 channels, multipliers (1, 2), 2 blocks;
DDPM++ with attention at 4 px and augment_dim 9 as in the FFHQ-64 network; ADM with 10 classes, attention at
8 and 4 px and EDM's block built with 4 channels per head so that 2 and 4 heads run at this width).
"""
import dataclasses
import pickle

import pytest
import torch
from torch import nn

from eps.nn.adm import ADMConfig, ADMUNet
from eps.nn.conditioning import CONDITIONINGS
from eps.nn.checkpoint import build_network, edm_network_config, edm_weights, load_network, save_network
from eps.nn.unet import UNetConfig, num_parameters
from eps.training.trainer import TrainConfig, build_model

FIXTURES = "tests/fixtures"
# Float32 parity bound. Both codes evaluate the same equations with differently ordered float32 sums (conv
# vs conv_transpose up-sampling, the attention scale on k or on q.k, addcmul): every one of the L <= 40 layers
# on the path adds a relative rounding error of about sqrt(n) u with n <= 9 * 24 terms per output and
# u = 2^-24 = 6e-8, i.e. ~1e-6, so the output differs by at most L sqrt(n) u ~ 4e-5 even if every layer's
# error added up coherently (measured: 2e-7 for both). A wrong equation (head split, label, embedding order)
# moves the output by O(1) (checked below).
RTOL = 1e-4


def relative_error(a, b):
    return float((a - b).norm() / b.norm())


def fixture_network(name):
    f = torch.load(f"{FIXTURES}/{name}", weights_only=True)
    config = edm_network_config(f["precond_class"], f["init_kwargs"], name)
    if f["channels_per_head"]:  # the reference ran EDM's block with fewer channels per head (see docstring)
        config = dataclasses.replace(config, channels_per_head=f["channels_per_head"])
    net = build_network(config).eval()
    net.load_state_dict(edm_weights(config, f["state"], name))
    return net, f


def raw_output(net, f, class_labels):
    s = f["sigma"].reshape(-1, 1, 1, 1)
    return net.model(f["x"] / (0.25 + s**2).sqrt(), (s.log() / 4).flatten(), None, class_labels)


@pytest.mark.parametrize("name, architecture", [("edm_ddpmpp_tiny.pt", "ddpmpp"), ("edm_adm_tiny.pt", "adm")])
@torch.no_grad()
def test_converted_networks_match_nvlabs_edm(name, architecture):
    net, f = fixture_network(name)
    assert net.model.config.architecture == architecture
    assert relative_error(net(f["x"], f["sigma"], class_labels=f["class_labels"]), f["D"]) <= RTOL
    assert relative_error(raw_output(net, f, f["class_labels"]), f["F"]) <= RTOL


@torch.no_grad()
def test_the_parity_check_can_fail():
    """A wrong class label, or a wrong split into attention heads, is far outside the bound."""
    net, f = fixture_network("edm_adm_tiny.pt")
    wrong_labels = f["class_labels"].roll(1, dims=1)
    assert relative_error(raw_output(net, f, wrong_labels), f["F"]) > 100 * RTOL
    config = dataclasses.replace(net.model.config, channels_per_head=8)
    one_head_fewer = build_network(config).eval()
    one_head_fewer.load_state_dict(net.state_dict())
    assert relative_error(raw_output(one_head_fewer, f, f["class_labels"]), f["F"]) > 100 * RTOL


def test_published_architectures_have_edms_parameter_counts():
    """EDM's ImageNet-64 ADM (label_dim 1000) and FFHQ-64 DDPM++ (less ``map_augment``, dropped on conversion):
    295,899,267 and 61,805,571 - 1,152 parameters, as NVlabs/edm's own classes count them (built on the meta
    device; 295.90M is also EDM's paper figure)."""
    with torch.device("meta"):
        adm = build_network(ADMConfig(label_dim=1000))
        ddpmpp = build_network(UNetConfig(img_resolution=64, model_channels=128, channel_mult=(1, 2, 2, 2),
                                          num_blocks=4, attn_resolutions=(16,)))
    assert num_parameters(adm) == 295_899_267
    assert num_parameters(ddpmpp) == 61_805_571 - 1_152
    names = dict(adm.named_parameters())
    assert names["model.map_label.weight"].shape == (768, 1000) and "model.map_label.bias" not in names
    assert names["model.enc.32x32_block0.affine.weight"].shape == (2 * 384, 768)  # [scale | shift]
    assert "model.enc.32x32_down.skip.weight" not in names  # bare resampling skip at unchanged width
    assert "model.dec.8x8_block3.qkv.weight" in names and "model.out_conv.weight" in names


BASE = dict(img_resolution=8, img_channels=3, model_channels=8, channel_mult=[1, 2], num_blocks=1,
            attn_resolutions=[4])
SONG = dict(BASE, model_type="SongUNet")


@pytest.mark.parametrize("precond, kwargs, match", [
    ("VPPrecond", SONG, "VPPrecond is not EDMPrecond"),
    ("VEPrecond", SONG, "VEPrecond is not EDMPrecond"),
    ("iDDPMPrecond", dict(BASE, model_type="DhariwalUNet"), "iDDPMPrecond is not EDMPrecond"),
    ("EDMPrecond", dict(SONG, sigma_data=1.0), "sigma_data"),
    ("EDMPrecond", dict(SONG, embedding_type="fourier"), "embedding_type"),
    ("EDMPrecond", dict(SONG, channel_mult_noise=2), "channel_mult_noise"),
    ("EDMPrecond", dict(SONG, encoder_type="residual"), "encoder_type"),
    ("EDMPrecond", dict(SONG, decoder_type="skip"), "decoder_type"),
    ("EDMPrecond", dict(SONG, resample_filter=[1, 3, 3, 1]), "resample_filter"),
    ("EDMPrecond", dict(SONG, label_dim=10), "label_dim"),
    ("EDMPrecond", dict(BASE, model_type="ResNet"), "neither SongUNet"),
    ("EDMPrecond", dict(SONG, fancy_option=1), "unknown SongUNet setting"),
])
def test_converter_refuses_what_it_cannot_reproduce(precond, kwargs, match):
    with pytest.raises(ValueError, match=match) as err:
        edm_network_config(precond, kwargs, "net.pkl")
    assert len(str(err.value).splitlines()) == 1 and "net.pkl" in str(err.value)


def test_converter_reads_edm_defaults():
    """Absent keys take NVlabs/edm's constructor defaults (EDMPrecond: model_type DhariwalUNet)."""
    config = edm_network_config("EDMPrecond", dict(img_resolution=64, img_channels=3, label_dim=1000))
    assert config == ADMConfig(label_dim=1000)


class VPPrecond(nn.Module):
    """Stands in for an unpickled NVlabs/edm VPPrecond (same class name, DDPM++ weights)."""

    def __init__(self, net):
        super().__init__()
        self.model = net.model
        self.init_kwargs = dict(SONG, label_dim=0, dropout=0.0)


def test_a_vp_pickle_is_refused_and_nothing_is_written(tmp_path, capsys):
    from eps.cli import main
    net = build_network(UNetConfig(img_resolution=8, model_channels=8, channel_mult=(1, 2), attn_resolutions=(4,)))
    with open(tmp_path / "vp.pkl", "wb") as f:
        pickle.dump({"ema": VPPrecond(net)}, f)
    assert main(["convert-edm", "--pkl", str(tmp_path / "vp.pkl"), "--out", str(tmp_path / "vp.pt"),
                 "--allow-unverified"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "VPPrecond is not EDMPrecond" in err
    assert not (tmp_path / "vp.pt").exists()


TINY_ADM = dict(img_resolution=8, model_channels=8, channel_mult=(1, 2), num_blocks=1, attn_resolutions=(4,),
                channels_per_head=4, dropout=0.0)


def test_class_labels_route():
    """Trained without label dropout (the published ImageNet-64 network): labels are required. With label
    dropout the zero vector is the unconditional route. Unconditional networks refuse labels."""
    x, c_noise = torch.randn(2, 3, 8, 8), torch.tensor([0.1, -0.5])
    no_dropout = ADMUNet(ADMConfig(**TINY_ADM, label_dim=5)).eval()
    with pytest.raises(ValueError, match="without label dropout"):
        no_dropout(x, c_noise)
    dropout = ADMUNet(ADMConfig(**TINY_ADM, label_dim=5, label_dropout=0.1)).eval()
    with torch.no_grad():
        assert torch.equal(dropout(x, c_noise), dropout(x, c_noise, class_labels=torch.zeros(2, 5)))
    with pytest.raises(ValueError, match="unconditional"):
        ADMUNet(ADMConfig(**TINY_ADM))(x, c_noise, class_labels=torch.zeros(2, 5))
    with pytest.raises(ValueError, match="unconditional"):
        build_network(UNetConfig(img_resolution=8, model_channels=8, channel_mult=(1, 2)))(
            x, torch.tensor([1.0]), class_labels=torch.zeros(2, 5))


def test_adm_network_file_round_trip_and_eps_finetune_identity(tmp_path):
    """An ADM backbone saves and loads as ``adm``; the EPS network fine-tuned from it is the same architecture
    with zero ``cond_conv``, so at step 0 it is the backbone queried at the pivot (same labels)."""
    g = torch.Generator().manual_seed(0)
    prior = build_network(ADMConfig(**TINY_ADM, label_dim=5))
    with torch.no_grad():
        for p in prior.parameters():
            p.copy_(0.2 * torch.randn(p.shape, generator=g))
    save_network(prior, tmp_path / "adm.pt")
    loaded = load_network(tmp_path / "adm.pt")
    assert loaded.model.config == prior.model.config
    eps_net = build_model(TrainConfig(kind="eps", init=str(tmp_path / "adm.pt")), (3, 8, 8)).eval()
    cond = 3 * CONDITIONINGS["observation"]  # the paper's [mu_star, observation image]: 3 -> 6 input channels
    assert eps_net.model.config.architecture == "adm" and eps_net.model.config.cond_channels == cond
    x, sigma, labels = torch.randn(2, 3, 8, 8, generator=g), torch.tensor([0.3, 4.0]), torch.eye(5)[[1, 3]]
    with torch.no_grad():
        assert torch.equal(loaded(x, sigma, class_labels=labels), prior.eval()(x, sigma, class_labels=labels))
        assert torch.equal(eps_net(x, sigma, torch.randn(2, cond, 8, 8, generator=g), class_labels=labels),
                           loaded(x, sigma, class_labels=labels))


def saved_tiny_adm(path, label_dim=3):
    g = torch.Generator().manual_seed(2)
    net = build_network(ADMConfig(**TINY_ADM, label_dim=label_dim))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.2 * torch.randn(p.shape, generator=g))
    save_network(net, path)
    return net


def test_every_denoiser_call_gets_the_true_class_of_its_row(tmp_path):
    """run_shard binds each test image's class to its K rows, for the method and the timed bare sampler."""
    from eps.image_bench import run_shard
    from eps.methods import get_method
    from eps.nn import load_prior
    saved_tiny_adm(tmp_path / "adm.pt")
    prior = load_prior(tmp_path / "adm.pt")
    seen = []
    prior.net.register_forward_pre_hook(lambda m, args, kw: seen.append(kw["class_labels"]), with_kwargs=True)
    x0, labels, K = torch.rand(3, 3, 8, 8) * 2 - 1, torch.tensor([2, 0, 1]), 2
    shard = run_shard(x0, "inpaint_random", get_method("eps_zeroshot"), prior, 3, 0, num_samples=K, batch_size=2,
                      progress=False, class_labels=labels)
    assert shard["meta"]["class_labels"] == "true_label" and len(seen) >= 4
    for rows in seen:  # one-hot rows of batches of 2 images (then 1), K rows each
        assert rows.sum(1).eq(1).all()
        assert rows.argmax(1).tolist() in ([2, 2, 0, 0], [1, 1])
    with pytest.raises(ValueError, match="without label dropout"):
        run_shard(x0, "inpaint_random", get_method("eps_zeroshot"), prior, 1, 0, num_samples=K, progress=False)
    with pytest.raises(ValueError, match=r"must lie in \[0, 3\)"):
        prior.with_class_labels(torch.tensor([3]))


def test_eps_sample_cli_label_errors_are_one_line(tmp_path, capsys):
    import numpy as np

    from eps.cli import main
    from eps.data import write_image_zip
    saved_tiny_adm(tmp_path / "adm.pt")
    images = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    write_image_zip(images, tmp_path / "unlabelled.zip")
    write_image_zip(images, tmp_path / "labelled.zip", labels=[1, 2])
    args = ["sample", "--prior", str(tmp_path / "adm.pt"), "--task", "inpaint_random", "--method", "eps_zeroshot",
            "--nfe", "1", "--count", "2", "--num-samples", "2", "--device", "cpu", "--out", str(tmp_path / "s.pt")]
    assert main([*args, "--data", str(tmp_path / "labelled.zip")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--class-labels true_label" in err and "label dropout" in err
    assert main([*args, "--data", str(tmp_path / "unlabelled.zip"), "--class-labels", "true_label"]) == 2
    assert "holds no class labels" in capsys.readouterr().err
    assert main([*args, "--data", str(tmp_path / "labelled.zip"), "--class-labels", "true_label"]) == 0
    assert torch.load(tmp_path / "s.pt", weights_only=True)["meta"]["class_labels"] == "true_label"


def test_eps_finetune_from_the_conditional_backbone_trains_with_true_labels(tmp_path):
    from eps.training.trainer import train
    saved_tiny_adm(tmp_path / "adm.pt")
    images, labels = torch.rand(4, 3, 8, 8) * 2 - 1, torch.tensor([0, 1, 2, 1])
    cfg = dict(kind="eps", init=str(tmp_path / "adm.pt"), steps=1, batch=2, tasks=["inpaint_random"])
    state = train(TrainConfig(**cfg, class_labels="true_label"), tmp_path / "eps.pt", images=images, labels=labels)
    assert state.step == 1 and state.net.model.config.label_dim == 3
    with pytest.raises(ValueError, match="without label dropout"):
        train(TrainConfig(**cfg), tmp_path / "eps_nolabels.pt", images=images, labels=labels)
    with pytest.raises(ValueError, match="holds no class labels"):
        train(TrainConfig(**cfg, class_labels="true_label"), tmp_path / "eps_missing.pt", images=images)
