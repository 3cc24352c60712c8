"""Learned denoisers: EDM-preconditioned UNets (DDPM++, ADM), EPS and Palette conditioning, a network-backed prior."""
from .adm import ADMConfig, ADMUNet
from .checkpoint import build_network, load_network, save_network
from .conditioning import CONDITIONINGS, degraded_image, eps_condition, observation_image, palette_condition
from .precond import EDMPrecond
from .prior import NetworkPrior, load_prior
from .unet import UNet, UNetConfig, num_parameters

__all__ = ["UNet", "UNetConfig", "ADMUNet", "ADMConfig", "EDMPrecond", "build_network", "load_network", "save_network",
           "eps_condition", "CONDITIONINGS", "degraded_image", "observation_image", "palette_condition", "NetworkPrior", "load_prior", "num_parameters"]
