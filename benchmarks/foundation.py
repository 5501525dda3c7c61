"""How much throughput does dgm's training loop cost over a bare PyTorch loop of the same model?

Trains the default VAE on the embedded 8×8 digits twice per repeat:

- **loop**: ``dgm.train_model("vae", "digits", ...)`` — the public API, which runs the one training loop
  (``fit`` in ``dgm/train/loop.py``: Fabric, the resumable batch stream, ``train_step``, the
  non-finite guard, ``metrics.jsonl``, the progress bookkeeping) exactly as ``dgm train --quiet``.
- **bare**: the same model (``build_model("vae", {}, (1, 8, 8))``, same seed, so the same initial
  weights), the same Adam, batch size, epoch permutations and per-batch dynamic binarisation drawn
  from a generator seeded the same way, written as the plain PyTorch loop one would write by hand.

Both see identical random numbers, so their losses must agree bit for bit on the CPU; the script
checks that (``max_abs_loss_diff``), which proves the two timings measure the same arithmetic.

Both sides time the same steps (after a warm-up of a tenth of the run) cut into ten chunks; a run's
throughput is its median chunk, so a burst of load from another process does not move it. Runs
alternate (bare-loop, loop-bare, …) so slow drift of a shared machine hits both sides equally, and
the median over repeats is reported. The thread count is the same for both (default 1: on a small
MLP extra threads buy little and, on a busy machine, make timings erratic; ``--threads`` sets it).

Absolute throughput falls as training goes on (on x86, Adam's second-moment estimates drift into
denormal floats, which are slow), so ``--quick`` reports higher examples/s than the full run; the
ratio is unaffected because both sides run the identical arithmetic.

Usage::

    python benchmarks/foundation.py            # full: 5 repeats of 2000 steps, about two minutes
    python benchmarks/foundation.py --quick    # 3 repeats of 400 steps, about 15 seconds

Writes a flat ``{name: number}`` JSON to ``benchmarks/results/foundation.json``.
"""

import argparse
import itertools
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

import dgm
from dgm.data import load_dataset
from dgm.models import build_model, make_config

MODEL, DATA = "vae", "digits"
SEED = 0
TARGET_RATIO = 0.9  # the target for loop / bare throughput
NUM_CHUNKS = 10  # the timed steps of a run are cut into this many chunks; a run's rate is their median
RESULTS = Path(__file__).parent / "results" / "foundation.json"


def chunk_bounds(steps: int, warmup: int) -> list[int]:
    """Step numbers ``warmup = b0 < b1 < … < b_NUM_CHUNKS = steps`` cutting the timed steps into chunks."""
    return [warmup + (steps - warmup) * i // NUM_CHUNKS for i in range(NUM_CHUNKS + 1)]


def median_chunk_rate(bounds: list[int], clock: list[float], batch_size: int) -> float:
    """Examples/s of the median chunk, given the clock (seconds) at each chunk bound (a step number).

    The median over chunks, rather than the mean over the whole run, keeps a burst of load from
    another process in one chunk from moving the figure.
    """
    steps_per_chunk = [b - a for a, b in itertools.pairwise(bounds)]
    seconds_per_chunk = [t_b - t_a for t_a, t_b in itertools.pairwise(clock)]
    return statistics.median(batch_size * n / t for n, t in zip(steps_per_chunk, seconds_per_chunk, strict=True))


def time_loop(steps: int, warmup: int) -> tuple[float, float, list[float]]:
    """Train through ``dgm.train_model``; returns (examples/s, seconds spent outside the steps, losses).

    Timing comes from ``metrics.jsonl`` rather than a clock around ``dgm.train_model``: ``elapsed_s`` is
    logged after every step and measures from the start of the loop to the end of that step (to the
    millisecond, well below a chunk's length). The span between the ``elapsed_s`` of two steps covers
    exactly the complete loop iterations in between — batch, ``train_step``, non-finite check,
    metrics line, progress update — and nothing else: Fabric setup, model construction, the first
    ``warmup`` (slower) steps and the final evaluation, sample figure and checkpoint are one-off
    costs that do not grow with a run's length, so they stay out of the throughput and are reported
    apart (the second value returned).
    """
    batch_size = make_config(MODEL, {}).batch_size
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        dgm.train_model(MODEL, DATA, steps=steps, out=Path(tmp) / "run", seed=SEED, progress=False)
        wall = time.perf_counter() - started
        lines = (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()
    train = [record for record in map(json.loads, lines) if record["kind"] == "train"]
    elapsed = {record["step"]: record["elapsed_s"] for record in train}
    bounds = chunk_bounds(steps, warmup)
    rate = median_chunk_rate(bounds, [elapsed[step] for step in bounds], batch_size)
    return rate, wall - elapsed[steps], [record["loss"] for record in train]


def time_bare(train_data: torch.Tensor, steps: int, warmup: int) -> tuple[float, list[float]]:
    """The same training written as a plain PyTorch loop; returns (examples/s, losses)."""
    config = make_config(MODEL, {})
    torch.manual_seed(SEED)
    model = build_model(MODEL, config, tuple(train_data.shape[1:]))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate, fused=True)  # as VAE.optimizers()
    generator = torch.Generator().manual_seed(SEED)
    batch_size, num_examples = config.batch_size, len(train_data)
    order, position = torch.randperm(num_examples, generator=generator), 0
    bounds = chunk_bounds(steps, warmup)
    clock, losses = {}, []
    model.train()
    for step in range(1, steps + 1):
        if position + batch_size > num_examples:  # a new epoch: reshuffle, drop the last partial batch
            order, position = torch.randperm(num_examples, generator=generator), 0
        batch = train_data[order[position : position + batch_size]]  # (B, 1, 8, 8) in [0, 1]
        position += batch_size
        batch = (torch.rand(batch.shape, generator=generator) < batch).to(batch.dtype)  # dynamic binarisation
        optimizer.zero_grad()
        loss = -model.elbo(batch).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if step in bounds:
            clock[step] = time.perf_counter()
    return median_chunk_rate(bounds, [clock[step] for step in bounds], batch_size), losses


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats of 400 steps (smoke run)")
    parser.add_argument("--steps", type=int, help="training steps per measurement")
    parser.add_argument("--repeats", type=int, help="measurements of each side (median reported)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both sides")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON file to write")
    args = parser.parse_args()
    steps = args.steps or (400 if args.quick else 2000)
    repeats = args.repeats or (3 if args.quick else 5)
    warmup = max(20, steps // 10)
    if steps < warmup + NUM_CHUNKS:
        parser.error(f"--steps must be at least {warmup + NUM_CHUNKS}")

    torch.set_num_threads(args.threads)
    train_data = load_dataset(DATA).train  # (N, 1, 8, 8)
    batch_size = make_config(MODEL, {}).batch_size
    benchmark_started = time.perf_counter()
    loop_rates, bare_rates, loop_overheads, loss_diffs = [], [], [], []
    peak_after_first_bare = None
    for repeat in range(repeats):
        order = ("bare", "loop") if repeat % 2 == 0 else ("loop", "bare")
        for side in order:
            torch.set_num_threads(args.threads)  # the same threads every time, whatever ran before
            if side == "bare":
                rate, bare_losses = time_bare(train_data, steps, warmup)
                bare_rates.append(rate)
                if peak_after_first_bare is None:
                    peak_after_first_bare = peak_rss_mib()
            else:
                rate, overhead, loop_losses = time_loop(steps, warmup)
                loop_rates.append(rate)
                loop_overheads.append(overhead)
            print(f"  repeat {repeat + 1}/{repeats} {side:<4} {rate:10.0f} examples/s", flush=True)
        loss_diffs.append(max(abs(a - b) for a, b in zip(loop_losses, bare_losses, strict=True)))
    if torch.get_num_threads() != args.threads:
        raise RuntimeError(f"thread count changed during the run: {torch.get_num_threads()} != {args.threads}")

    loop_rate, bare_rate = statistics.median(loop_rates), statistics.median(bare_rates)
    pair_ratios = [loop / bare for loop, bare in zip(loop_rates, bare_rates, strict=True)]
    results = {
        "loop_vs_bare_throughput_ratio": loop_rate / bare_rate,
        "loop_examples_per_s": loop_rate,
        "bare_examples_per_s": bare_rate,
        "pair_ratio_min": min(pair_ratios),
        "pair_ratio_max": max(pair_ratios),
        "loop_setup_and_final_eval_s": statistics.median(loop_overheads),
        "max_abs_loss_diff": max(loss_diffs),
        "peak_rss_mib": peak_rss_mib(),
        "peak_rss_before_loop_mib": peak_after_first_bare,
        "steps": steps,
        "warmup_steps": warmup,
        "repeats": repeats,
        "batch_size": batch_size,
        "threads": args.threads,
        "cpu_count": os.cpu_count() or 0,
        "quick": int(args.quick),
        "benchmark_wall_s": time.perf_counter() - benchmark_started,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")

    verdict = "meets" if results["loop_vs_bare_throughput_ratio"] >= TARGET_RATIO else "BELOW"
    rows = [
        ("dgm loop (dgm.train_model)", f"{loop_rate:,.0f} examples/s"),
        ("bare PyTorch loop", f"{bare_rate:,.0f} examples/s"),
        ("ratio loop / bare", f"{loop_rate / bare_rate:.3f} ({verdict} target {TARGET_RATIO})"),
        ("per-repeat ratios", f"{min(pair_ratios):.3f} .. {max(pair_ratios):.3f}"),
        ("loop setup + final eval", f"{results['loop_setup_and_final_eval_s']:.2f} s per run (not in throughput)"),
        ("max |loss loop - bare|", f"{results['max_abs_loss_diff']:.3g} (0: identical arithmetic)"),
        ("peak RSS", f"{results['peak_rss_mib']:.0f} MiB (before any loop run: {peak_after_first_bare:.0f} MiB)"),
        ("workload", f"{MODEL} on {DATA}, batch {batch_size}, {steps} steps ({warmup} warm-up), {repeats} repeats"),
        ("torch", f"{torch.__version__}, {args.threads} thread(s) of {os.cpu_count()} CPUs"),
        ("CPU", cpu_model()),
        ("benchmark wall time", f"{results['benchmark_wall_s']:.1f} s"),
    ]
    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
