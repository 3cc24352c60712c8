"""Training of the prior, EPS and Palette networks: EDM loss, L_EPS, EMA, resumable checkpoints, DDP."""
from .loop import TrainState, new_state, run_steps
from .objectives import KINDS, denoising_loss, edm_weight, network_inputs, sample_sigma
from .trainer import TrainConfig, train

__all__ = ["TrainConfig", "train", "TrainState", "new_state", "run_steps", "KINDS", "denoising_loss", "edm_weight",
           "network_inputs", "sample_sigma"]
