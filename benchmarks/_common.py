"""What every benchmark script shares: the flat results file, a timer, and training through the public API.

Scripts run as ``python benchmarks/NAME.py``, so this module is imported as ``_common``; the underscore
keeps it out of ``dgm bench``'s list.
"""

import json
import time
from pathlib import Path

import torch

import dgm

STEPS_CAP = 10**8  # training stops on the time budget, not on steps


class Results(dict):
    """The flat figures of this run, merged into the JSON file after every row."""

    def __init__(self, path: Path, threads: int, precision: str) -> None:
        super().__init__()
        self.path, self.threads, self.precision = path, threads, precision

    def settings(self, key: str, precision: str | None = None) -> dict[str, float]:
        """The settings a row was measured with, recorded beside its figures: torch threads, 1 if it trained
        in bf16-mixed (0: 32-true; ``precision`` defaults to the run's), and ``simd_bits``, the vector width
        of the CPU kernels torch dispatched to. Training is chaotic, so a rerun reproduces a figure bit for
        bit only with the same threads and kernels: another CPU sums in another order and diverges."""
        bf16 = (precision or self.precision) == "bf16-mixed"
        return {
            f"{key}_threads": float(self.threads),
            f"{key}_bf16_mixed": float(bf16),
            f"{key}_simd_bits": float(simd_bits()),
        }

    def record(self, figures: dict[str, float], forget: tuple[str, ...] = ()) -> None:
        """Merge ``figures`` into the file, dropping the ``forget`` keys: figures this run did not measure
        (say a step count for a target it did not meet), which an earlier run's must not stand in for."""
        self.update(figures)
        saved = json.loads(self.path.read_text()) if self.path.is_file() else {}
        saved.update(figures)
        for key in forget:
            saved.pop(key, None)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(saved, indent=2) + "\n")


def simd_bits() -> int:
    """The vector width torch's CPU dispatch names here: 512 (AVX-512), 256 (AVX2, SVE256), 0 where it names
    none ("DEFAULT", which aarch64's NEON also reports; "ZVECTOR", "VSX"). The BLAS libraries choose their own
    kernels, so the figure tells machines apart, not every kernel."""
    return {"AVX2": 256, "AVX512": 512, "SVE256": 256}.get(torch.backends.cpu.get_cpu_capability(), 0)


BF16_CHECKS = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")  # torch.cpu's, private in torch 2.13


def bf16_pays() -> bool:
    """Whether this CPU has bf16 matrix units, where bf16-mixed training is faster: AMX tiles (measured: the
    benchmarks' bf16 rows made 1.1-3.3× float32's steps) or AVX512-BF16 (assumed, not measured). Without them
    torch's bf16 kernels are slow: a DCGAN step at 28×28 (batch 128, 1 thread) took 6.7 s in bf16-mixed against
    0.63 s in float32 on an AVX2 AMD EPYC."""
    return any(getattr(torch.cpu, name, lambda: False)() for name in BF16_CHECKS)


def training_precision(choice: str) -> str:
    """A benchmark's ``--precision``: ``auto`` is bf16-mixed where ``bf16_pays()``, else 32-true."""
    if choice != "auto":
        return choice
    return "bf16-mixed" if bf16_pays() else "32-true"


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - start


def train_and_score(
    model: str, data: str, overrides: dict, budget: float, folder: Path, precision: str, importance_samples: int = 1000
) -> tuple[dict, Path]:
    """Train for ``budget`` seconds through the public API, then evaluate (in float32) on the whole test split."""
    run = folder / f"{model}-{data}-{int(budget)}s"
    result = dgm.train_model(
        model, data, steps=STEPS_CAP, out=run, overrides=overrides, max_time=budget, precision=precision
    )
    metrics = dgm.evaluate(run, importance_samples=importance_samples)
    trained = dgm.load(run)
    metrics["params"] = float(sum(p.numel() for p in trained.parameters()))
    metrics["train_steps"] = float(result.step)
    metrics["train_s"] = budget
    return metrics, run
