"""``make demo``: train the VAE, the GAN and PixelCNN on the embedded digits, about a minute each,
then write each run's report and ``runs/demo/index.html`` comparing them.

A run that already finished in the demo folder is reused, never overwritten.

    python -m dgm.demo --out runs/demo [--seconds 55]
"""

import argparse
import sys
import time
from pathlib import Path

from . import api
from .core.errors import DgmError
from .report.html import write_index
from .train import latest_checkpoint

# model -> (config overrides, step cap); the wall-time budget usually stops training first.
DEMO_RUNS = {
    "vae": ([], 50_000),
    "gan": ([], 20_000),
    "pixelcnn": ([], 5_000),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/demo"))
    parser.add_argument("--seconds", type=float, default=55.0, help="training budget per model")
    args = parser.parse_args(argv)
    run_dirs = []
    try:
        for name, (overrides, steps) in DEMO_RUNS.items():
            run_dir = args.out / name
            run_dirs.append(run_dir)
            if latest_checkpoint(run_dir) is not None:
                print(f"{name}: reusing the finished run in {run_dir}")
                continue
            print(f"{name}: training on digits for up to {args.seconds:.0f} s -> {run_dir}")
            started = time.perf_counter()
            if (run_dir / "config.json").exists():  # an earlier demo was stopped before its checkpoint
                result = api.resume(run_dir, progress=True)
            else:
                result = api.train_model(
                    name, "digits", steps=steps, out=run_dir, overrides=overrides, seed=0,
                    max_time=args.seconds, eval_every=0, checkpoint_every=0, progress=True,
                )  # fmt: skip
            print(f"{name}: {result.step} steps in {time.perf_counter() - started:.0f} s ({result.status})")
            api.report(run_dir)
    except DgmError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    index = write_index(run_dirs, args.out / "index.html", title="dgm demo: three families on the 8×8 digits")
    print(f"open {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
