"""Shared by every test: matplotlib draws off-screen (Agg), and the figures a test made are closed
after it, so that a long run does not accumulate them."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")
