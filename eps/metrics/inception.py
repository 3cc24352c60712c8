"""Inception pool features (2048-d) from torch-fidelity's InceptionV3 (the TF FID network).

The extractor is torch-fidelity's ``inception-v3-compat`` built with
``feature_extractor_weights_path`` = the offline file ``weights-inception-2015-12-05-6726825d.pth``
(looked up and verified by :func:`eps.metrics.weights.find_weights`, never downloaded here; its verified bytes
are what is loaded), ``cuda=False``; it is
then moved to ``device``. Images in [-1, 1] are quantised to 8 bits (``round((x + 1) * 127.5)``, the
input torch-fidelity expects) and one-channel images repeated to RGB; torch-fidelity resizes to 299 px.
"""
from __future__ import annotations

import io
import os

import torch
from torch_fidelity.utils import create_feature_extractor

from eps.metrics.pixel import to_uint8
from eps.metrics.weights import find_weights

Tensor = torch.Tensor

FEATURE = "2048"  # pool3 features, the FID layer


def load_inception(weights_dir: str | os.PathLike | None = None,
                   device: str | torch.device = "cpu") -> torch.nn.Module:
    """torch-fidelity InceptionV3 (pool features) on ``device``; ``WeightsMissing`` if the file is absent,
    ``ValueError`` if it is unreadable."""
    path, data = find_weights("inception", weights_dir)
    try:  # the verified bytes themselves: checked to hold tensors only, then handed to torch-fidelity's loader
        torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        model = create_feature_extractor("inception-v3-compat", [FEATURE], cuda=False,
                                         feature_extractor_weights_path=io.BytesIO(data), verbose=False)
    except Exception as err:  # corrupt or foreign file: one clear error naming it
        raise ValueError(f"cannot load Inception weights {path}: {err}") from err
    return model.to(device)


@torch.no_grad()
def inception_features(model: torch.nn.Module, x: Tensor, batch_size: int = 64) -> Tensor:
    """Pool features ``(B, 2048)`` float64 of images ``(B, C, H, W)`` in [-1, 1]."""
    device = next(model.parameters()).device
    chunks = []
    for batch in x.split(batch_size):
        if batch.shape[1] == 1:
            batch = batch.expand(-1, 3, -1, -1)
        (features,) = model(to_uint8(batch).to(device))
        chunks.append(features.double().cpu())
    return torch.cat(chunks)
