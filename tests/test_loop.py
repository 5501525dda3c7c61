"""The training loop on its own: crash safety, signals, time budgets, the non-finite guard, and
2-process DDP on CPU keeping replicas equal."""

import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest
import torch
from safetensors.torch import load_file

import dgm
from dgm.core.errors import NonFiniteLossError
from dgm.train import LoopOptions, fit, latest_checkpoint
from dgm.train.checkpoint import list_checkpoints
from helpers import dgm_process, train_losses


@dataclass
class _Linear(torch.nn.Module):
    """A least-squares model whose loss turns infinite at a chosen step (for the non-finite guard)."""

    blow_up_at: int = 0

    def __post_init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(3))
        self.batch_size = 4
        self.calls = 0

    def optimizers(self) -> dict:
        return {"sgd": torch.optim.SGD(self.parameters(), lr=0.1)}

    def train_step(self, batch, optimizers, backward) -> dict[str, float]:
        self.calls += 1
        optimizers["sgd"].zero_grad()
        loss = (batch - self.weight).square().mean()
        if self.calls == self.blow_up_at:
            loss = loss * float("inf")
        backward(loss)
        optimizers["sgd"].step()
        return {"loss": loss.item()}

    __hash__ = torch.nn.Module.__hash__


def _no_eval(model, samples_path):
    return {}


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    options = LoopOptions(steps=20, checkpoint_every=2, progress=False)
    data = torch.randn(64, 3)
    with pytest.raises(NonFiniteLossError, match="non-finite loss at step 5"):
        fit(tmp_path, lambda: _Linear(blow_up_at=5), data, 0, options, _no_eval)
    assert [step for step, _ in list_checkpoints(tmp_path)] == [2, 4]
    assert train_losses(tmp_path)[-1]["step"] == 4


def test_max_time_stops_with_a_final_checkpoint(tmp_path):
    result = dgm.train_model("vae", "digits", steps=10**7, out=tmp_path / "run", max_time=1.5)
    assert result.status == "time budget spent"
    assert 0 < result.step < 10**7
    assert latest_checkpoint(tmp_path / "run").name == f"step-{result.step}"
    records = [json.loads(line) for line in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    elapsed = [r for r in records if r["kind"] == "train"][-1]["elapsed_s"]
    assert 1.5 <= elapsed < 3.0


_CRASHING_TRAIN = """
import os, signal, sys
import dgm.train.checkpoint as checkpoint
real_save = checkpoint.save_file
calls = []
def save_then_die(tensors, path):
    calls.append(path)
    if len(calls) == 3:  # the second checkpoint's model file: write half of it, then die
        real_save(tensors, path)
        with open(path, "r+b") as handle:
            handle.truncate(os.path.getsize(path) // 2)
        os.kill(os.getpid(), signal.SIGKILL)
    real_save(tensors, path)
checkpoint.save_file = save_then_die
import dgm
dgm.train_model("vae", "digits", steps=100, out=sys.argv[1], checkpoint_every=10)
"""


def test_kill_during_checkpoint_write_keeps_the_previous_checkpoint(tmp_path):
    run = tmp_path / "run"
    process = subprocess.run([sys.executable, "-c", _CRASHING_TRAIN, str(run)], capture_output=True, timeout=300)
    assert process.returncode == -signal.SIGKILL
    assert [step for step, _ in list_checkpoints(run)] == [10]
    assert any(p.name.startswith(".tmp-step-20") for p in (run / "checkpoints").iterdir())
    model = dgm.load(run)  # the previous checkpoint loads
    assert torch.isfinite(model.elbo(torch.zeros(2, 1, 8, 8))).all()
    assert dgm.resume(run, steps=30).step == 30


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_stop_signal_saves_a_checkpoint_and_exits_cleanly(tmp_path, stop_signal):
    run = tmp_path / "run"
    command = [sys.executable, "-m", "dgm.cli", "train", "vae", "--steps", "10000000", "--out", str(run), "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (
        (run / "metrics.jsonl").exists() and len((run / "metrics.jsonl").read_text().splitlines()) > 20
    ):
        time.sleep(0.2)
    process.send_signal(stop_signal)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert f"interrupted by {stop_signal.name}" in stderr and "Traceback" not in stderr
    last = train_losses(run)[-1]["step"]
    assert latest_checkpoint(run).name == f"step-{last}"


@pytest.mark.slow
def test_two_process_ddp_keeps_replicas_equal(tmp_path):
    run = tmp_path / "ddp"
    result = dgm_process(
        "train", "vae", "--steps", "12", "--checkpoint-every", "6", "--devices", "2", "--strategy", "ddp",
        "--accelerator", "cpu", "--out", run, "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for step in (6, 12):
        state = json.loads((run / f"checkpoints/step-{step}/state.json").read_text())
        assert state["world_size"] == 2
        first, second = state["replica_param_checksums"]
        assert first == second  # bitwise-equal parameter sums on both ranks
    single = tmp_path / "single"
    assert dgm.train_model("vae", "digits", steps=12, out=single).step == 12
    single_state = json.loads((single / "checkpoints/step-12/state.json").read_text())
    assert single_state["replica_param_checksums"][0] != first  # DDP saw twice the data per step


def test_resume_drops_lines_after_the_checkpoint_and_a_line_cut_by_a_crash(tmp_path):
    data = torch.randn(64, 3)
    fit(tmp_path, _Linear, data, 0, LoopOptions(steps=5, checkpoint_every=2, progress=False), _no_eval)
    (tmp_path / "checkpoints/step-5").rename(tmp_path / "checkpoints/.tmp-step-5-killed")  # as if killed at 5
    with open(tmp_path / "metrics.jsonl", "a") as handle:
        handle.write('{"step": 6, "kind": "tra')
    fit(tmp_path, _Linear, data, 0, LoopOptions(steps=6, checkpoint_every=2, progress=False), _no_eval, resume=True)
    assert [r["step"] for r in train_losses(tmp_path)] == [1, 2, 3, 4, 5, 6]


def test_evaluation_does_not_disturb_the_training_random_stream(tmp_path):
    """Run a evaluates at step 5 mid-run; run b checkpoints at 5 before its evaluation, then resumes."""
    dgm.train_model("vae", "digits", steps=10, out=tmp_path / "a", eval_every=5)
    dgm.train_model("vae", "digits", steps=5, out=tmp_path / "b")
    dgm.resume(tmp_path / "b", steps=10)
    assert train_losses(tmp_path / "a") == train_losses(tmp_path / "b")


@pytest.mark.parametrize(("precision", "dtype"), [("64-true", torch.float64), ("bf16-mixed", torch.float32)])
def test_precisions_train_and_evaluate(tmp_path, precision, dtype):
    result = dgm.train_model("vae", "digits", steps=5, out=tmp_path / "run", precision=precision)
    assert result.step == 5
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in train_losses(tmp_path / "run"))
    weights = load_file(tmp_path / "run/checkpoints/step-5/model.safetensors")
    assert weights["encoder.1.0.weight"].dtype == dtype  # Flatten, then the MLP's first Linear
    assert torch.isfinite(dgm.load(tmp_path / "run").elbo(torch.zeros(2, 1, 8, 8))).all()


def test_a_run_killed_before_its_first_checkpoint_resumes_from_scratch(tmp_path):
    dgm.train_model("vae", "digits", steps=6, out=tmp_path / "whole")
    dgm.train_model("vae", "digits", steps=6, out=tmp_path / "killed")
    for path in (tmp_path / "killed/checkpoints").iterdir():  # as if SIGKILLed before any checkpoint
        path.rename(path.with_name(".tmp-" + path.name))
    assert dgm.resume(tmp_path / "killed").step == 6
    assert train_losses(tmp_path / "whole") == train_losses(tmp_path / "killed")
    assert not [p for p in (tmp_path / "killed/checkpoints").iterdir() if p.name.startswith(".tmp")]
