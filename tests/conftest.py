"""Shared fixtures: tests run single-threaded (2-core CI machines shared by pytest workers)."""
import torch

torch.set_num_threads(1)
