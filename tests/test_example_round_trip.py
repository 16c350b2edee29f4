"""Smoke test of examples/round_trip.py: its quick form runs end to end, writes every figure and a
summary whose table has a row per activation, with spiking accuracies exactly for those that have a
twin. (The numbers of a quick run mean nothing; the example's full run is what the README quotes.)"""

import importlib.util
import re
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


def test_quick_round_trip_writes_figures_and_a_table(round_trip, tmp_path, capsys):
    assert round_trip.main([str(tmp_path), "--quick"]) == 0
    for name in ("rate_curves", "accuracy", "accuracy_time", "diagnostics"):
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    rows = [line.split("|")[1:-1] for line in summary.splitlines() if line.startswith("| ") and "±" in line]
    assert [row[0].strip() for row in rows] == list(round_trip.ACTIVATIONS)
    for row in rows:
        spiking = [cell.strip() for cell in row[2:5]]
        has_twin = row[0].strip() != "sigmoid"
        assert all(re.fullmatch(r"\d\.\d{3} ± \d\.\d{3}", cell) for cell in spiking) == has_twin
    assert "hidden activation" in capsys.readouterr().out


def test_round_trip_refuses_unknown_data_and_seeds(round_trip, tmp_path):
    with pytest.raises(SystemExit):
        round_trip.parse_args([str(tmp_path), "--data", "cifar"])
    with pytest.raises(SystemExit):
        round_trip.parse_args([str(tmp_path), "--seeds", "0"])
