"""Fixtures for the model tests: the loaded network and the reference's raw weights."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def models(model_data_dir):
    from backend.models.loading import load_models

    return load_models(model_data_dir, "cpu", backbone=True)


@pytest.fixture(scope="session")
def gen_state(model_data_dir):
    from tests.model.reference import load_gen_state

    return load_gen_state(model_data_dir / "tcmr_demo_model.pth.tar")


@pytest.fixture(scope="session")
def j_extra(model_data_dir):
    return np.load(model_data_dir / "J_regressor_extra.npy")


def make_features(num_frames: int, seed: int = 0) -> np.ndarray:
    """Non-negative (F,2048) float32, like post-ReLU average-pooled ResNet features."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 1.0, (num_frames, 2048)).astype(np.float32)
