"""The adversarial benchmark's mode runs: killed after a checkpoint and resumed, a run ends bit for bit where an
uninterrupted one does (the 40,000-step target runs outlast a session)."""

import importlib
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from dgm.train.checkpoint import list_checkpoints

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"
STEPS, KILLED_AFTER = 12, 5  # evaluations (and checkpoints) every 5 steps and at the last


class Killed(Exception):
    pass


@pytest.fixture
def bench(monkeypatch):
    """``benchmarks/adversarial.py`` on a tiny MLP pair, evaluated every 5 steps on 200 samples, without JBT."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    module = importlib.import_module("adversarial")
    small = {"generator_hidden_dim": 16, "generator_hidden_layers": 2, "hidden_dim": 16, "batch_size": 32}
    monkeypatch.setattr(module, "MLP", module.MLP | small)
    monkeypatch.setattr(module, "EVAL_EVERY", 5)
    monkeypatch.setattr(module, "NUM_MODE_SAMPLES", 200)
    monkeypatch.setattr(module, "JACOBIAN_TRUNCATIONS", (0.2,))
    return module


def final_weights(folder: Path) -> dict[str, torch.Tensor]:
    """The model of the one checkpoint left in ``folder``, which must be the last step's."""
    [(step, path)] = list_checkpoints(folder)  # only the latest is kept
    assert step == STEPS
    return load_file(path / "model.safetensors")


def assert_same_figures(run: tuple, expected: tuple) -> None:
    """``mode_run``'s (coverage, first step meeting the target or NaN, JBT coverage, seconds) but the seconds."""
    assert run[0] == expected[0] and run[2] == expected[2]
    assert math.isnan(run[1]) == math.isnan(expected[1]) and (math.isnan(run[1]) or run[1] == expected[1])


@pytest.mark.parametrize("row", ["dudley", "sn"])  # Adam with β2 = 0.9 and 5 critic steps; power iterations
def test_a_killed_mode_run_resumes_bit_for_bit(bench, tmp_path, monkeypatch, row):
    overrides = bench.MODE_ROWS[row]
    plain = bench.mode_run("grid25", overrides, STEPS, seed=3)
    straight = bench.mode_run("grid25", overrides, STEPS, seed=3, checkpoints=tmp_path / "straight")

    save_run = bench.save_run

    def save_then_die(folder, step, *args):
        save_run(folder, step, *args)
        if step == KILLED_AFTER:
            raise Killed

    monkeypatch.setattr(bench, "save_run", save_then_die)
    with pytest.raises(Killed):
        bench.mode_run("grid25", overrides, STEPS, seed=3, checkpoints=tmp_path / "killed")
    monkeypatch.setattr(bench, "save_run", save_run)
    torch.manual_seed(1234)  # the resumed process's RNG starts elsewhere: the checkpoint must restore it
    resumed = bench.mode_run("grid25", overrides, STEPS, seed=3, checkpoints=tmp_path / "killed")

    assert_same_figures(straight, plain)
    assert_same_figures(resumed, plain)
    weights, resumed_weights = final_weights(tmp_path / "straight"), final_weights(tmp_path / "killed")
    assert weights.keys() == resumed_weights.keys()
    for name, tensor in weights.items():
        assert torch.equal(tensor, resumed_weights[name]), name


def test_a_finished_run_reports_from_its_checkpoint_and_another_runs_checkpoint_is_refused(bench, tmp_path, capsys):
    overrides = bench.MODE_ROWS["gan"]
    first = bench.mode_run("grid25", overrides, STEPS, seed=0, checkpoints=tmp_path)
    again = bench.mode_run("grid25", overrides, STEPS, seed=0, checkpoints=tmp_path)  # trains nothing
    assert_same_figures(again, first)
    with pytest.raises(SystemExit) as exit_info:
        bench.mode_run("grid25", overrides, STEPS, seed=1, checkpoints=tmp_path)
    assert exit_info.value.code == 2
    assert "is a checkpoint of another run" in capsys.readouterr().err
    assert final_weights(tmp_path).keys()  # the checkpoint is left as it was
