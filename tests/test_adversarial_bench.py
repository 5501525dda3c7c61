"""The adversarial benchmark's mode runs: killed after a checkpoint and resumed, a run ends bit for bit where an
uninterrupted one does (the 40,000- and 60,000-step target runs outlast a session). Each target row's own budget and key
names. And its peer row: our FIDs over the peer's, in two feature networks, with nothing stale left in the
results."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from dgm.core.errors import CheckpointError
from dgm.data import load_dataset
from dgm.eval.features import FeatureNetConfig, feature_net_for
from dgm.eval.quality import frechet_distance
from dgm.train.checkpoint import list_checkpoints

STEPS, KILLED_AFTER = 12, 5  # evaluations (and checkpoints) every 5 steps and at the last

pytestmark = pytest.mark.slow


class Killed(Exception):
    pass


@pytest.fixture
def bench(bench_module, monkeypatch):
    """``benchmarks/adversarial.py`` on a tiny MLP pair, evaluated every 5 steps on 200 samples, where every
    evaluation meets the target (so the first step that met it is 5, and a resume must carry it)."""
    module = bench_module("adversarial")
    small = {"generator_hidden_dim": 16, "generator_hidden_layers": 2, "hidden_dim": 16, "batch_size": 32}
    monkeypatch.setattr(module, "MLP", module.MLP | small)
    monkeypatch.setattr(module, "EVAL_EVERY", 5)
    monkeypatch.setattr(module, "NUM_MODE_SAMPLES", 200)
    monkeypatch.setattr(module, "JACOBIAN_TRUNCATIONS", (0.2,))
    monkeypatch.setattr(module, "target_met", lambda data, coverage: True)
    return module


def saved_steps(bench, monkeypatch, kill_after: int | None = None) -> list[int]:
    """Record the steps ``bench.save_run`` saves from now on, raising ``Killed`` after saving ``kill_after``."""
    steps, save_run = [], getattr(bench.save_run, "recorded", bench.save_run)  # the benchmark's own

    def save_and_record(folder, step, *args):
        save_run(folder, step, *args)
        steps.append(step)
        if step == kill_after:
            raise Killed

    save_and_record.recorded = save_run
    monkeypatch.setattr(bench, "save_run", save_and_record)
    return steps


def final_weights(folder: Path) -> dict[str, torch.Tensor]:
    """The model of the one checkpoint left in ``folder``, which must be the last step's."""
    [(step, path)] = list_checkpoints(folder)  # only the latest is kept
    assert step == STEPS
    return load_file(path / "model.safetensors")


def assert_same_figures(run: tuple, expected: tuple) -> None:
    """``mode_run``'s (coverage, first step meeting the target, JBT coverage, seconds) but the seconds."""
    assert run[0] == expected[0] and run[1] == expected[1] == KILLED_AFTER and run[2] == expected[2]


@pytest.mark.parametrize("row", ["dudley", "sn"])  # Adam with β2 = 0.9 and 5 critic steps; power iterations
def test_a_killed_mode_run_resumes_bit_for_bit(bench, tmp_path, monkeypatch, row):
    overrides = bench.MODE_ROWS[row]
    plain = bench.mode_run("grid25", overrides, STEPS, seed=3)
    straight = bench.mode_run("grid25", overrides, STEPS, seed=3, checkpoints=tmp_path / "straight")

    killed = saved_steps(bench, monkeypatch, kill_after=KILLED_AFTER)
    with pytest.raises(Killed):
        bench.mode_run("grid25", overrides, STEPS, seed=3, checkpoints=tmp_path / "killed")
    resumed_saves = saved_steps(bench, monkeypatch)
    resumed = bench.mode_run("grid25", overrides, STEPS, seed=3, checkpoints=tmp_path / "killed")

    assert killed == [5] and resumed_saves == [10, 12]  # the resumed run trained steps 6-12 only
    assert_same_figures(straight, plain)
    assert_same_figures(resumed, plain)
    weights, resumed_weights = final_weights(tmp_path / "straight"), final_weights(tmp_path / "killed")
    assert weights.keys() == resumed_weights.keys()
    for name, tensor in weights.items():
        assert torch.equal(tensor, resumed_weights[name]), name


def test_a_finished_run_reports_from_its_checkpoint_and_another_runs_checkpoint_is_refused(
    bench, tmp_path, monkeypatch
):
    overrides = bench.MODE_ROWS["gan"]
    first = bench.mode_run("grid25", overrides, STEPS, seed=0, checkpoints=tmp_path)
    [(_, path)] = list_checkpoints(tmp_path)
    saved = {file.name: file.read_bytes() for file in path.iterdir()}
    saves = saved_steps(bench, monkeypatch)
    again = bench.mode_run("grid25", overrides, STEPS, seed=0, checkpoints=tmp_path)
    assert saves == []  # nothing trained
    assert_same_figures(again, first)
    with pytest.raises(CheckpointError, match="is a checkpoint of another run .*differs in seed\\)") as error:
        bench.mode_run("grid25", overrides, STEPS, seed=1, checkpoints=tmp_path)
    assert "\n" not in str(error.value)
    assert {file.name: file.read_bytes() for file in path.iterdir()} == saved  # left as it was
    state = json.loads(saved["state.json"])
    del state["stream"]
    (path / "state.json").write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match="is corrupt: bad state.json"):
        bench.mode_run("grid25", overrides, STEPS, seed=0, checkpoints=tmp_path)


TINY_NET = FeatureNetConfig(num_epochs=1, min_steps=20)


@pytest.fixture
def adversarial(bench_module, tmp_path, monkeypatch):
    """``benchmarks/adversarial.py`` as it is, its feature networks cached in ``tmp_path``."""
    monkeypatch.setenv("DGM_CACHE", str(tmp_path / "cache"))
    return bench_module("adversarial")


def test_fids_over_the_peer_are_one_for_the_peers_own_images_and_grow_with_noise(adversarial):
    digits = load_dataset("digits")
    net = feature_net_for(digits, TINY_NET)
    real, peer = digits.test[:150], digits.test[150:]  # (150, 1, 8, 8) each
    noise = torch.rand(peer.shape, generator=torch.Generator().manual_seed(0))
    ours = {"same": peer, "noisy": (0.7 * peer + 0.3 * noise), "noise": noise}
    peer_fid, ratios = adversarial.fids_over_peer(net, net.features(real), peer, ours)
    assert peer_fid == pytest.approx(frechet_distance(net.features(real), net.features(peer)))
    assert ratios["same"] == pytest.approx(1.0)
    assert 1.0 < ratios["noisy"] < ratios["noise"]
    assert ratios["noise"] == pytest.approx(frechet_distance(net.features(real), net.features(noise)) / peer_fid)


def test_the_peer_row_saves_its_samples_scores_both_networks_in_8_bits_and_forgets_stale_ratios(
    adversarial, tmp_path, monkeypatch
):
    digits = load_dataset("digits")  # 8×8 images stand in for Fashion-MNIST's, the peer's resizes for identities
    peer_images = torch.rand(2000, 1, 8, 8, generator=torch.Generator().manual_seed(1))  # not on 8-bit levels
    monkeypatch.setattr(adversarial, "train_peer", lambda images, generator, steps: "the peer's network")
    sample = lambda network, n, generator: peer_images[n * generator.initial_seed() :][:n]  # noqa: E731
    monkeypatch.setattr(adversarial, "sample_peer", sample)  # seeds 0-3: the 2,000 in order
    monkeypatch.setattr(adversarial, "resize_to_32", lambda images: images)
    monkeypatch.setattr(adversarial, "resize_to_28", lambda images: images)
    second_config = replace(TINY_NET, width=8, seed=1)
    first, second = feature_net_for(digits, TINY_NET), feature_net_for(digits, second_config)
    scorer = (digits, first, digits.test[-150:])
    ours = {"gan": digits.test[:150], "sn": peer_images[:300]}
    path = tmp_path / "results.json"
    stale = {"fashion_dcgan_pearson_fid_over_peer", "fashion_dcgan_pearson_fid_over_peer_second_net"}
    path.write_text(json.dumps(dict.fromkeys(stale, 0.5)))
    adversarial.peer_row(scorer, 3, adversarial.Results(path, 1, "32-true"), ours, tmp_path / "samples", second_config)
    saved = np.load(tmp_path / "samples" / "peer_torchgan_dcgan.npz")["images"]
    assert saved.dtype == np.uint8 and torch.equal(torch.from_numpy(saved), (peer_images * 255).round().byte()[:, 0])
    assert torch.equal(adversarial.to_8_bit(peer_images), torch.from_numpy(saved).float().div(255).unsqueeze(1))
    figures = json.loads(path.read_text())
    assert not stale & figures.keys()  # pearson had no samples here: its ratios were to another peer
    for suffix, net in {"": first, "_second_net": second}.items():
        peer_fid, ratios = adversarial.fids_over_peer(
            net, net.features(digits.test[-150:]), adversarial.to_8_bit(peer_images), ours
        )
        assert figures[f"fashion_peer_torchgan_dcgan_fid_8bit{suffix}"] == pytest.approx(peer_fid, rel=1e-12)
        assert peer_fid != pytest.approx(figures["fashion_peer_torchgan_dcgan_fid"], rel=1e-9)  # unrounded
        for name, ratio in ratios.items():
            assert figures[f"fashion_dcgan_{name}_fid_over_peer{suffix}"] == pytest.approx(ratio, rel=1e-12)
        assert figures[f"fashion_best_over_peer_fid{suffix}"] == pytest.approx(min(ratios.values()), rel=1e-12)
    assert figures["fashion_feature_net_test_accuracy_second_net"] == second.test_accuracy
    adversarial.peer_row(scorer, 3, adversarial.Results(path, 1, "32-true"), {})  # --quick: no samples of ours
    assert not {key for key in json.loads(path.read_text()) if "over_peer" in key or "fid_8bit" in key}


def test_each_target_row_trains_its_own_budget_named_as_the_full_runs_keys(bench, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "TARGET_STEPS", {"wgan_gp": 40_000, "sn": 40_000, "dudley": 60_000})
    calls = []
    monkeypatch.setattr(bench, "mode_rows", lambda data, rows, steps, *rest: calls.append((list(rows), steps, rest)))
    out, folder = tmp_path / "quick.json", tmp_path / "checkpoints"
    common = ["--only", "targets", "--out", str(out), "--first-seed", "2", "--seeds", "1", "--checkpoints", str(folder)]
    for options in (["--quick"], ["--quick", "--target-steps", "40000"], ["--target-steps", "50"]):
        monkeypatch.setattr("sys.argv", ["adversarial.py", *common, *options])
        bench.main()
    assert [(rows, steps) for rows, steps, _ in calls] == [
        (["wgan_gp_long", "sn_long"], {"grid25": 100}),  # --quick: 100 steps, under the full budgets' names
        (["dudley_long60000"], {"grid25": 100}),  # whose runs resume from .../grid25_dudley_long60000_seed2
        (["wgan_gp_long", "sn_long", "dudley_long"], {"grid25": 40_000}),
        (["wgan_gp_long50", "sn_long50", "dudley_long50"], {"grid25": 50}),
    ]
    for seeds, results, progress, checkpoints in (rest for _, _, rest in calls):
        assert (seeds, results.path, progress, checkpoints) == (range(2, 3), out, False, folder)
    figures = json.loads(out.read_text())
    assert figures["grid25_dudley_long60000_learning_rate_hold"] == 90  # 0.9 of the 100 steps trained
    assert figures["grid25_wgan_gp_long50_penalty_weight"] == 1.0  # the target runs' own setting
