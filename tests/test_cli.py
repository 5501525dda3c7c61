"""The command line: exact resume across processes, every command on a real run, and user errors
(one line, exit code 2, no traceback, nothing already saved touched)."""

import json

import numpy as np
import pytest

from dgm.models import CATALOGUE
from helpers import dgm, dgm_process, folder_fingerprint, same_tensors, train_losses

SMALL = {
    "vae": ["--set", "learning_rate_half_life=10"],  # the step size changes at every step: its clock must resume
    "gan": [  # the power iteration's vectors, the averaged generator and the schedule's clock must all resume
        *["--set", "critic=spectral", "--set", "generator_average=0.99", "--set", "learning_rate_half_life=10"],
    ],
    "pixelcnn": ["--set", "channels=16", "--set", "num_residual_blocks=1"],
}


@pytest.mark.slow
@pytest.mark.parametrize(("model", "run"), [("vae", dgm_process), ("gan", dgm), ("pixelcnn", dgm)])
def test_resume_is_bit_exact(tmp_path, model, run):
    """Issue item 5: 40 steps in one go equal 20 steps, then a resume to 40 (for the VAE in fresh processes)."""
    common = ["--data", "digits", "--checkpoint-every", "20", "--seed", "0", "--quiet", *SMALL[model]]
    straight, split = tmp_path / "a", tmp_path / "b"
    assert run("train", model, "--steps", "40", "--out", straight, *common).returncode == 0
    assert run("train", model, "--steps", "20", "--out", split, *common).returncode == 0
    resumed = run("resume", split, "--steps", "40", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert same_tensors(
        straight / "checkpoints/step-40/model.safetensors", split / "checkpoints/step-40/model.safetensors"
    )
    assert same_tensors(
        straight / "checkpoints/step-40/optim.safetensors", split / "checkpoints/step-40/optim.safetensors"
    )
    assert train_losses(straight, first=21) == train_losses(split, first=21)
    assert len(train_losses(split)) == 40


@pytest.fixture(scope="module")
def trained_vae(tmp_path_factory):
    run = tmp_path_factory.mktemp("cli") / "vae"
    result = dgm("train", "vae", "--data", "digits", "--steps", "60", "--out", run, "--eval-every", "30", "--quiet")
    assert result.returncode == 0, result.stderr
    return run


def test_sample_writes_png_and_npy_in_unit_interval(trained_vae, tmp_path):
    assert dgm("sample", trained_vae, "-n", "16", "--out", tmp_path / "grid.png").returncode == 0
    assert (tmp_path / "grid.png").stat().st_size > 0
    assert dgm("sample", trained_vae, "-n", "5", "--out", tmp_path / "x.npy").returncode == 0
    array = np.load(tmp_path / "x.npy")
    assert array.shape == (5, 1, 8, 8) and array.dtype == np.float32
    assert array.min() >= 0 and array.max() <= 1


def test_eval_json_is_one_object_with_bounds_in_order(trained_vae):
    result = dgm("eval", trained_vae, "--json", "--k", "50")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["iwae_k"] == 50 and metrics["step"] == 60
    # ELBO <= IWAE-k estimate of log p, i.e. nll_nats <= -elbo_nats.
    assert metrics["nll_nats"] <= -metrics["elbo_nats"] + 0.5
    assert metrics["bits_per_dim"] == pytest.approx(metrics["nll_nats"] / (64 * np.log(2)))


def test_report_and_run_folder_layout(trained_vae):
    assert dgm("report", trained_vae).returncode == 0
    html = (trained_vae / "report.html").read_text()
    assert "nll_nats" in html and "data:image/png;base64" in html
    figures = ("interpolation.png", "interpolation_slerp.png", "traversal.png")
    for name in ("config.json", "metrics.jsonl", "samples/step-30.png", "samples/step-60.png", *figures):
        assert (trained_vae / name).exists(), name
    for heading in ("Latent interpolation (linear)", "Latent interpolation (spherical)", "Latent traversals"):
        assert heading in html, heading
    assert {p.name for p in (trained_vae / "checkpoints/step-60").iterdir()} == {
        "model.safetensors",
        "optim.safetensors",
        "state.json",
    }


def test_autoencoder_run_reports_reconstructions_and_a_rate_distortion_curve(tmp_path):
    run = tmp_path / "ae"
    result = dgm("train", "autoencoder", "--data", "digits", "--steps", "40", "--out", run, "--quiet")
    assert result.returncode == 0, result.stderr
    rows = json.loads((run / "rate_distortion.json").read_text())
    assert [row["code_dims"] for row in rows] == [1, 2, 4, 8, 16]
    assert dgm("report", run).returncode == 0
    html = (run / "report.html").read_text()
    assert "Rate–distortion" in html and "reconstructions" in html and "reconstruction_squared_error" in html
    before = {p.name for p in tmp_path.iterdir()}
    refused = dgm("sample", run, "-n", "4", "--out", tmp_path / "x.png")
    assert refused.returncode == 2 and "does not sample" in refused.stderr
    assert {p.name for p in tmp_path.iterdir()} == before


def test_list_names_every_model_with_family_and_paper():
    out = dgm("list").stdout
    for name, family in [("vae", "latent"), ("gan", "adversarial"), ("pixelcnn", "autoregressive")]:
        assert any(line.split()[:2] == [name, family] for line in out.splitlines()), out


def _assert_user_error(result, expected: str):
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    assert expected in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["train", "vea", "--steps", "1"], "expected one of: " + ", ".join(sorted(CATALOGUE))),
        (["train", "vae", "--data", "cifar10", "--steps", "1"], "expected one of: digits"),
        (["train", "vae", "--set", "latnet_dim=3", "--steps", "1"], "expected one of: latent_dim"),
        (["train", "vae", "--set", "latent_dim=three", "--steps", "1"], "expected int"),
        (["train", "vae", "--set", "latent_dim=0", "--steps", "1"], "latent_dim must be >= 1"),
        (["train", "vae", "--set", "decoder=poisson", "--steps", "1"], "expected one of auto, bernoulli, gaussian"),
        (["train", "vae", "--set", "latent_dim", "--steps", "1"], "expected key=value"),
        (["train", "pixelcnn", "--data", "ring8", "--steps", "1"], "expects image data"),
        (["train", "vae", "--steps", "0"], "--steps must be >= 1"),
        (["train", "vae", "--steps", "many"], "'--steps'"),
        (["train", "vae", "--data", "mnist", "--steps", "1"], "--data-dir"),
        (["train", "vae", "--accelerator", "tpu", "--steps", "1"], "cannot run accelerator=tpu"),
        (["resume", "no/such/run"], "expected a run folder"),
        (["sample", "no/such/run"], "expected a run folder"),
        (["eval", "no/such/run"], "expected a run folder"),
        (["report", "no/such/run"], "expected a run folder"),
    ],
)
def test_user_errors_exit_2_with_one_line(tmp_path, args, expected):
    result = dgm(*args, "--out", tmp_path / "new") if args[0] == "train" else dgm(*args)
    _assert_user_error(result, expected)
    assert not (tmp_path / "new").exists()


def test_out_holding_another_run_is_refused_untouched(trained_vae):
    """In a real process: exit code 2, one line on stderr, no traceback, the run unchanged."""
    before = folder_fingerprint(trained_vae)
    _assert_user_error(dgm_process("train", "gan", "--steps", "1", "--out", trained_vae), "already holds a run of vae")
    assert folder_fingerprint(trained_vae) == before


def test_errors_on_an_existing_run_leave_it_untouched(trained_vae, tmp_path):
    before = folder_fingerprint(trained_vae)
    _assert_user_error(dgm("resume", trained_vae, "--steps", "10"), "pass --steps larger than 60")
    _assert_user_error(dgm("sample", trained_vae, "--out", tmp_path / "x.jpg"), "must end in .png or .npy")
    _assert_user_error(dgm("sample", trained_vae, "-n", "0", "--out", tmp_path / "x.png"), "-n must be >= 1")
    _assert_user_error(dgm("eval", trained_vae, "--k", "0"), "--k must be >= 1")
    assert folder_fingerprint(trained_vae) == before


def _copy_run(source, run):
    for path in source.rglob("*"):
        if path.is_file():
            target = run / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    return run


def test_state_without_data_position_fails_before_config_is_rewritten(trained_vae, tmp_path):
    run = _copy_run(trained_vae, tmp_path / "copy")
    state_path = run / "checkpoints/step-60/state.json"
    state = json.loads(state_path.read_text())
    del state["data"]
    state_path.write_text(json.dumps(state))
    before = folder_fingerprint(run)
    _assert_user_error(dgm("resume", run, "--steps", "80"), "state.json lacks data")
    assert folder_fingerprint(run) == before


def test_corrupt_checkpoint_is_a_user_error(trained_vae, tmp_path):
    run = _copy_run(trained_vae, tmp_path / "copy")
    weights = run / "checkpoints/step-60/model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    before = folder_fingerprint(run)
    for args in (["sample", run, "--out", tmp_path / "s.png"], ["eval", run], ["resume", run, "--steps", "80"]):
        _assert_user_error(dgm(*args), "missing or corrupt")
    assert folder_fingerprint(run) == before
    (run / "config.json").write_text("{not json")
    _assert_user_error(dgm("eval", run), "is corrupt")


def test_out_that_is_a_file_is_refused_untouched(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    _assert_user_error(dgm("train", "vae", "--steps", "1", "--out", target), "is a file")
    assert target.read_text() == "keep me"


def test_negative_schedules_are_refused(tmp_path):
    _assert_user_error(dgm("train", "vae", "--eval-every", "-1", "--out", tmp_path / "x"), "--eval-every must be >= 0")
    _assert_user_error(dgm("train", "vae", "--max-time", "0", "--out", tmp_path / "x"), "--max-time must be > 0")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("model", ["vae", "gan"])
@pytest.mark.parametrize("data", ["grid25", "ring8", "spiral", "moons"])
def test_point_models_run_every_command_on_the_toy_sets(tmp_path, model, data):
    run = tmp_path / "run"
    assert dgm("train", model, "--data", data, "--steps", "3", "--out", run, "--quiet").returncode == 0
    assert dgm("sample", run, "-n", "7", "--out", tmp_path / "points.npy").returncode == 0
    assert np.load(tmp_path / "points.npy").shape == (7, 2)
    metrics = json.loads(dgm("eval", run, "--json", "--k", "5").stdout)
    assert ("nll_nats" in metrics) == (model == "vae")
    assert ("modes_covered" in metrics) == (model == "gan" and data in {"grid25", "ring8"})
    assert dgm("report", run).returncode == 0


def test_bench_with_an_unknown_name_lists_the_benchmarks():
    result = dgm("bench", "nope")
    assert result.returncode == 2
    assert "unknown benchmark 'nope'; expected one of: adversarial, autoregressive, foundation, latent" in result.stderr


def test_bench_forwards_options_after_the_double_dash_and_its_exit_code():
    result = dgm("bench", "autoregressive", "--", "--only", "bogus")
    assert result.returncode == 2  # the script's argparse refusal, passed through


def test_eval_ood_prints_aurocs_and_writes_histograms_and_refuses_other_shapes(tmp_path):
    run = tmp_path / "moons"
    assert dgm("train", "vae", "--data", "moons", "--steps", "200", "--out", run, "--quiet").returncode == 0
    result = dgm("eval", run, "--ood", "ring8", "--json")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["ood_data"] == "ring8"
    assert {"auroc_neg_elbo", "auroc_neg_likelihood_ratio"} <= set(metrics)
    assert all(0.0 <= metrics[k] <= 1.0 for k in metrics if k.startswith("auroc"))
    assert metrics["auroc_neg_elbo"] > 0.7  # the ring's points lie mostly off the two moons
    assert (run / "ood-ring8.png").stat().st_size > 0 and (run / "ood-ring8.json").exists()

    before = folder_fingerprint(run)
    refused = dgm("eval", run, "--ood", "digits")
    assert refused.returncode == 2 and "example shape (2,)" in refused.stderr
    assert folder_fingerprint(run) == before
