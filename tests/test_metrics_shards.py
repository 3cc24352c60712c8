"""Synthetic sample shards in the sampling stage's format, for the metric tests."""
import torch


def make_shard(n=4, k=2, seed=0, size=16, channels=3, noise=0.1, method="eps", nfe=20):
    """A shard dict: random ``x0`` in [-1, 1] and K samples scattered around it with std ``noise``."""
    g = torch.Generator().manual_seed(seed)
    x0 = torch.rand(n, channels, size, size, generator=g) * 2 - 1
    samples = (x0[:, None] + noise * torch.randn(n, k, channels, size, size, generator=g)).clamp(-1, 1)
    return {"x0": x0, "y": x0.clone(), "samples": samples, "nfe": nfe, "vjp": 0,
            "seconds": 2.0 * n * k, "seconds_uncond": 1.6 * n * k,
            "meta": {"dataset": "toy", "task": "sr4", "method": method, "nfe": nfe, "seed": seed, "sigma_y": 0.05}}


def write_shard(path, **kwargs):
    torch.save(make_shard(**kwargs), path)
    return path


# --- shard and reference reading: one clear error per bad input ---------------------------------------------------
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from eps.metrics.shards import load_reference, load_shard  # noqa: E402


def test_load_shard_accepts_the_sampling_format(tmp_path):
    shard = load_shard(write_shard(tmp_path / "a.pt", n=3, k=2))
    assert shard["samples"].shape == (3, 2, 3, 16, 16)


@pytest.mark.parametrize("corrupt, message", [
    (lambda s: s.pop("seconds_uncond"), "missing seconds_uncond"),
    (lambda s: s["meta"].pop("sigma_y"), "missing meta.sigma_y"),
    (lambda s: s.update(samples=s["samples"][:, :, :, :8]), "same N, C, H, W"),
    (lambda s: s["samples"].view(-1).__setitem__(0, float("nan")), "NaN"),
    (lambda s: s.update(seconds_uncond=0.0), "seconds_uncond"),
])
def test_load_shard_rejects_bad_shards(tmp_path, corrupt, message):
    shard = make_shard()
    corrupt(shard)
    torch.save(shard, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match=message):
        load_shard(tmp_path / "bad.pt")


def test_load_shard_unreadable_and_absent(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match="shard .* is corrupt or not a torch file"):
        load_shard(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_shard(tmp_path / "absent.pt")


def test_reference_formats_agree(tmp_path):
    from PIL import Image
    import zipfile
    images = torch.randint(0, 256, (3, 8, 8, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    expected = images.permute(0, 3, 1, 2).float() / 127.5 - 1
    np.savez(tmp_path / "ref.npz", images=images.numpy())
    torch.save({"x0": expected}, tmp_path / "ref.pt")
    with zipfile.ZipFile(tmp_path / "ref.zip", "w") as archive:
        for i, image in enumerate(images.numpy()):
            path = tmp_path / f"{i}.png"
            Image.fromarray(image).save(path)
            archive.write(path, f"{i:05d}.png")
    for name in ("ref.npz", "ref.pt", "ref.zip"):
        torch.testing.assert_close(load_reference(tmp_path / name), expected)
    np.savez(tmp_path / "two.npz", a=images.numpy(), b=images.numpy())
    with pytest.raises(ValueError, match="name the images"):
        load_reference(tmp_path / "two.npz")
    (tmp_path / "ref.txt").write_text("x")
    with pytest.raises(ValueError, match="unsupported format"):
        load_reference(tmp_path / "ref.txt")


def test_reference_npz_with_mu_and_sigma_is_feature_statistics(tmp_path):
    """EDM's published FID references are ``np.savez(mu=(2048,), sigma=(2048, 2048))``; a local stand-in."""
    from eps.metrics.frechet import FeatureStatistics, frechet_distance
    g = torch.Generator().manual_seed(0)
    f1, f2 = torch.randn(40, 6, generator=g).double(), (torch.randn(50, 6, generator=g) + 0.5).double()
    stats = FeatureStatistics.of(f2)
    np.savez(tmp_path / "fid-ref.npz", mu=stats.mu, sigma=stats.sigma)
    loaded = load_reference(tmp_path / "fid-ref.npz")
    assert isinstance(loaded, FeatureStatistics)
    np.testing.assert_array_equal(loaded.sigma, np.cov(f2.numpy(), rowvar=False))
    assert frechet_distance(f1, loaded) == pytest.approx(frechet_distance(f1, f2), rel=1e-12)
    np.savez(tmp_path / "bad.npz", mu=stats.mu, sigma=stats.sigma[:5])
    with pytest.raises(ValueError, match=r"bad\.npz.*mu \(d,\) and sigma \(d, d\)"):
        load_reference(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="dimension 6 against 5"):
        frechet_distance(f1, FeatureStatistics(stats.mu[:5], stats.sigma[:5, :5]))
