"""examples/round_trip.py's command line (its quick form runs in tests/test_examples.py)."""

import importlib.util
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "round_trip.py"


@pytest.fixture(scope="module")
def round_trip():
    spec = importlib.util.spec_from_file_location("example_round_trip", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_round_trip_refuses_unknown_data_and_seeds(round_trip, tmp_path):
    with pytest.raises(SystemExit):
        round_trip.parse_args([str(tmp_path), "--data", "cifar"])
    with pytest.raises(SystemExit):
        round_trip.parse_args([str(tmp_path), "--seeds", "0"])
