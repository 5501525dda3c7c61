"""Adversarial objectives and critics on one footing: mode coverage on 2-D mixtures, and FID, KID,
precision and recall of DCGANs on Fashion-MNIST, each with the same architecture and budget.

1. **Mode coverage** (PacGAN's protocol, Lin et al. 2018, §5.1 and Table 1): ``grid25`` (25 Gaussians on
   {−4, −2, 0, 2, 4}², σ = 0.05) and ``ring8`` (8 on a circle of radius 2, σ = 0.02). Every objective trains
   the same MLP generator and critic (PacGAN's generator) for the same number of generator steps (10,000 on the
   grid, 5,000 on the ring), with 3 seeds, its step sizes halving every quarter of them (settings per row in
   ``MODE_ROWS``). From 2,500 samples: modes covered (a mode with at least one sample within 3σ), the share of
   such high-quality samples, and the reverse KL of the high-quality samples' mode histogram to uniform. Every
   ``EVAL_EVERY`` steps the coverage is measured, and the first step that meets the target (all modes, ≥ 95%
   high quality and KL ≤ 0.05 on the grid; all 8 modes on the ring) is recorded, and whether the last step
   still meets it (the figures the row reports). PacGAN's Table 1 (10 trials): grid25 GAN 17.3
   modes / 94.8% / 0.70, ALI 24.1 / 95.7% / 0.14, PacGAN4 24.8 / 93.6% / 0.04; ring8 GAN 6.3 / 98.2% / 0.45,
   PacGAN2 7.9 / 95.6% / 0.07. The ``js`` and ``gan`` rows train identically: their f differ by the
   affine (u + 1)·log 2, so their losses differ by constants. The ``reverse_kl``, ``neyman`` and
   ``total_variation`` rows lose the modes; ``dgm.losses.fgan`` explains why. The lecture's table has two α
   rows, with their own g_f: ``alpha`` trains α = 0.5 (α < 1) and ``alpha_above_1`` α = 1.5: both cover every
   mode of the grid on every seed, at 73–76% and 66–72%.

   The high-quality share is what the budget limits. A continuous generator of a Gaussian z has connected
   support, so it must put mass on the paths between modes (Tanielian et al. 2020, "Learning disconnected
   manifolds: a no GAN's land"); that share shrinks only as the generator grows steeper between its latent
   cells. WGAN-GP: 77–81% at 10,000 steps (the table). On seed 0, with overrides: 89% at 20,000 steps
   (``learning_rate_half_life=5000``), where 11% of the samples lay 0.15–1 from a mode, spread along the paths;
   with ``final_learning_rate=1.25e-4`` as well, 89% again at 22,000; with the schedule stretched to 40,000
   steps (``learning_rate_half_life=10000``, on an AVX2 machine) it held 90–91% from step 21,000 to 29,000,
   with 25 modes and KL ≤ 0.008, where the run was stopped. A larger z, where 25 cells can share less boundary
   (Issenhuth et al. 2023), trained slower: with ``latent_dim=32``, 23% at 3,000 steps, against 43% with
   ``latent_dim=2``. SN (K = 10, below) on seed 0, the row's 10,000 steps at 1 thread on an AVX2 AMD EPYC
   (``mode_run``): 75.7% high quality, KL 0.096, with 18% of the samples 0.3–1 from a mode and 6% at 0.15–0.3,
   the paths again. With overrides: ``batch_size=1024`` (3.2× the time) 86.4% and KL 0.033;
   ``generator_average=0.999`` 74.8%; ``learning_rate=2e-3`` 63%; ``learning_rate_half_life=0`` (a constant
   step size) 83% at step 9,000 and 47% at 10,000; ``generator_batch_norm=false``: no sample within 3σ of a
   mode at step 2,000, where the run was stopped.

   **A long run at the full step size, then a short cool-down** does better than halving every quarter: with
   ``learning_rate_hold=9000``, ``learning_rate_half_life=200`` and ``final_learning_rate=6.25e-5`` (1/16 of
   the first, where the table's schedule ends), on the AVX2 AMD EPYC at 1 thread, SN had 87.7/86.2/89.2% high
   quality on seeds 0/1/2, with 25 modes and KL 0.019/0.024/0.049 (the table's schedule on that
   machine: 75.7/70.2/78.8%, KL 0.096/0.109/0.039; ``mode_run`` with these overrides reproduces seed 0's 87.72%
   and KL 0.0193); WGAN-GP had 84.0/90.5/85.5% and KL 0.009/0.006/0.006, and Dudley 84.5/82.1/83.8% and
   KL 0.022/0.022/0.009, all with 25 modes (the table, measured on another CPU: WGAN-GP 77.4/81.2/77.8%
   and 0.008/0.005/0.010, Dudley 69.9/77.1/73.2% and 0.078/0.089/0.124). Over 20,000
   steps (``learning_rate_hold=19000``) SN had 94.2/93.2% high quality on seeds 0/1, KL 0.027/0.011 and 25
   modes, 0.8 and 1.8 points short of the target; with G's batch norm frozen at its running statistics through
   seed 0's cool-down, 94.0% and KL 0.024. At the full step size the share climbs but swings as generator and
   critic chase each other (the constant-step run above: 66% at step 7,000, 52% at 7,500, 83% at 9,000, 47%
   at 10,000); the cool-down (half-life 200) settles it within 500 steps. From that constant-step run's 47% at
   step 10,000, with a fresh Adam, 3,000 more steps at 6.25e-5 gave 89.3% and KL 0.016, and 91.7% and 0.012
   with G's batch norm frozen. Holding 8,000 steps, SN seed 0 had 85.8%; holding 9,000 with
   ``batch_size=1024`` (3.4× the time), 92.9% but KL 0.075. CycleGAN (Zhu et al. 2017) trains on a similar
   plan: a constant step size for the first 100 epochs, then a linear decay to 0 over the next 100 epochs. The
   table still halves every quarter: adopting the cool-down means rerunning every row.

   **The target runs** (``--only targets``) train the three rows the grid's target is set for, WGAN-GP, SN and Dudley,
   each for its budget in ``TARGET_STEPS`` (40,000 generator steps for WGAN-GP and SN, 60,000 for Dudley) on that
   cool-down schedule (``cool_down``: for 40,000 steps the first step size for 36,000, then halving every 800, down
   to 1/16 of it), 3 seeds each, with WGAN-GP's penalty weight at λ = 1 (``TARGET_OVERRIDES``), and record the table's
   figures under ``grid25_<row>_long_...`` for a budget of 40,000 (``LONG_STEPS``), under ``grid25_<row>_long<N>_...``
   for another budget N (set there, or for every row with ``--target-steps N``; ``--quick`` trains 100 steps under the
   full budget's names), with the schedule and the changed settings, the first evaluation (every ``EVAL_EVERY`` steps)
   that met the target and whether the last step still met it. On the AVX2 AMD EPYC at 1 thread, one seed per process
   and two processes at a time (``--first-seed S --seeds 1 --out F``, then merged; ``seconds_per_seed`` is the mean of
   the processes' figures): SN ends at 96.3/95.7/95.6% high quality on seeds 0/1/2, KL 0.013/0.009/0.019, 25 modes,
   beating PacGAN4 on all three measures, about 30 minutes per seed. It first met the target at
   steps 29,000/32,500/37,000, but that is where the target was first seen, not where a shorter run could stop: at the
   full step size the share swings (seed 0: 95% at 29,000, 76% at 33,000), and every seed held 95–97% only over the
   cool-down's last 1,000 steps (seed 1 dipped to 89% at 38,500). WGAN-GP at the table's λ = 0.1 fell short on
   seed 0: 93.7% high quality, KL 0.008, 25 modes (72 minutes); at the full step size it swung between 72% and 91% from
   step 25,000 on, and the cool-down lifted it to 92–94%. At λ = 1 it swung less, 77.4–93.5% from step 25,000 on over
   three seeds, and met the target on all three: 95.4/95.2/96.2% high quality, KL 0.006/0.005/0.006, 25 modes, first at
   steps 37,000/37,000/38,000 and at every evaluation after it (79/85/75 minutes). Over 40,000 steps Dudley met it on
   seed 0 only: 96.0% high quality, KL 0.008, 25 modes, first at step 37,500 (80 minutes; 77–94% at the full step size
   from step 25,000 on). On seeds 1 and 2 it ended 0.6 and 0.3 points short: 94.4/94.7% high quality, KL 0.007/0.009, 25
   modes; seed 1 met the target only at step 38,500 (95.0%), seed 2 first at step 39,000 (95.1%) (70.5–91.9%
   and 75.2–92.3% at the full step size from step 25,000 on, 92.5–95.0% and 92.6–95.1% in the cool-down; 84 and 80
   minutes). Dudley trails SN at every length measured: 84.5/82.1/83.8% against 87.7/86.2/89.2% at 10,000 steps on the
   cool-down schedule, 96.0/94.4/94.7% against 96.3/95.7/95.6% at 40,000. Over 10,000 steps of seed 1 neither a longer
   floor phase (a hold of 8,000 steps: 80.7% against 82.1%) nor ``learning_rate=5e-4``, half the step size,
   helped (78.2%, 24 modes). Longer does, and Dudley's budget is 60,000 steps (keys ``grid25_dudley_long60000_...``: the
   first step size for 54,000, then halving every 1,200): it met the target on all three seeds, with 96.2/96.1/95.8%
   high quality, KL 0.007/0.004/0.005 and 25 modes, first at steps 56,000/55,500/56,000, in the cool-down. Seed 1 held
   it at every evaluation after that; seed 0 dipped to 92.5% at step 57,500, seed 2 to 94.8% and 92.8% at steps 56,500
   and 57,500. At the full step size, from step 40,000 to 54,000, seeds 0/1/2 had 87.0–94.7%, 83.7–94.1%
   and 78.5–93.4% (seed 2's low at step 53,000, with 24 modes and KL 0.12). At step 60,000, JBT at r = 0.1–0.3 kept 25
   modes at 99.3–100% high quality. Up to step 36,000 the two schedules are the same, and seeds 1 and 2, killed and
   resumed several times, reproduced the 40,000-step runs' evaluations there bit for bit (72 per seed); seed 0's were
   not compared (that run's log is gone), but its range from step 25,000 to 36,000, 77.2–93.7%, is the 40,000-step
   run's 77–94%. The time depends on what else the cores run: at one thread, seed 0 took 81 minutes beside one other
   single-thread job most of the time, 1.35 minutes per 1,000 steps; seeds 1 and 2, side by side, took about 2 minutes
   per 1,000 steps, as the 40,000-step runs did, and spent hours beside tests and other jobs, so the recorded
   ``seconds_per_seed``, the mean of the three, is 160 minutes.

   **Jacobian-based truncation** (``GAN.sample(..., jacobian_truncation=r)``, Tanielian et al. 2020) rejects
   those path samples after training: it draws ⌈N/(1 − r)⌉ latents from the plain samples' seed and keeps the N
   where ‖∂G/∂z‖_F is smallest. Each row reports it for r in ``JACOBIAN_TRUNCATIONS``, indented under the row
   with its gain in high-quality share; it is a sampler, not training, so the target and its step are judged on
   the plain samples only. On grid25 at r = 0.2 WGAN-GP keeps 25/25/25 modes at 96/99/95% high quality and
   KL 0.007/0.004/0.010, the target on every seed; SN to 94/98/97% with 25 modes and KL 0.049/0.023/0.052, the
   target on seed 1, short of it on seed 0 by 1% of high quality and on seed 2 by a KL of 0.002; GAN rises
   to 86–96% but keeps 21–22 modes (its thin modes are steep too), Dudley to 86–94% with 23–24 modes. Rows
   whose plain mode histogram is uneven tend to lose modes the same way (weighted_js, reverse
   KL 0.18–0.32: 25/23/24 modes become 22/19/19 at 95–99%; gan_minimax, KL 0.05–0.36: 25/25/24 at 60–78%
   become 24/25/22 at 73–97%), while the ``kl`` row, whose histogram is nearly even (reverse KL 0.04–0.08),
   has 25/24/25 modes at 87–90%.

   SN-GAN's discriminator is the spectral critic times K = 10 (``lipschitz_constant``; ``dgm.nn.lipschitz``
   explains why): at K = 1 it had 41/62/58% high quality on the grid and KL 0.28/0.12/0.13, at K = 10
   78/80/79% and 0.048/0.023/0.051, WGAN-GP's level; on the ring 77–79% became 90–94%. K = 30 on seed 0 gave
   80% and KL 0.15. Trained 40,000 steps (seed 0, the same schedule stretched), it reached 93% high quality at
   step 40,000, but with KL 0.10 and 24 modes; the same 40,000 steps on the cool-down schedule meet the grid's
   target (the target runs, above). PacGAN's runs trained far longer: 400 epochs of 100,000 points in batches
   of 100, 400,000 steps.

   ``pacgan4`` (Lin et al.'s PacGAN4, ``pack=4``) is the ``gan`` row with its critic on packs of 4: the same
   256 generated samples per step, in 64 packs. In this budget it did worse than the ``gan`` row on the grid
   (15–17 modes at 2–3% high quality, against 23–25 at 70–79%) and on the ring (7–8 modes at 49–74%, against
   8 at 93–95%): the critic's gradient for one sample depends on the other three of its pack. In 5,000-step
   runs of seed 0 neither packs of 2 (128 of them) nor 256 packs of 4 reached 3% high quality; the ``gan``
   row had 44%. PacGAN's runs (Table 1: PacGAN4 on the grid, PacGAN2 on the ring) trained far longer, with
   a maxout critic.
2. **Fashion-MNIST**: the DCGAN architecture (``dgm train dcgan``) for the same wall-clock budget per objective
   at 2 threads, trained in bf16-mixed where the CPU has bf16 units, AMX or AVX512-BF16, and in float32
   elsewhere (``--precision auto``; on the AMX machines of the committed rows the f-GAN rows' steps
   took 0.12–0.14 s in the full 480 s runs against float32's 0.17–0.19 s, and every row made 1.2–1.6× the steps
   it made in float32; on an AVX2 AMD EPYC a step took ten times as long in bf16-mixed, ``_common.bf16_pays``),
   then FID, KID and precision/recall (k = 3) of 2,000 samples, scored in float32, against 2,000 test images,
   in the features of a classifier trained in-repo on Fashion-MNIST (``dgm.eval.features``; its test accuracy
   is reported). Each row also scores 2,000 Jacobian-truncated samples (``FASHION_JACOBIAN_TRUNCATION`` of the
   latents rejected; its sampling time is reported: z has 100 values, so each sample costs 100 forward-mode
   passes), under the row as "JBT" (only the first row, 500 samples, with ``--quick``). In the full run
   of 2026-11-28 JBT lowered FID for gan 30.6 → 27.8, pearson 30.0 → 28.7, sn 51.0 → 49.8 and dudley 70.3
   → 68.1, with precision up 0.02–0.04 and recall down 0.01–0.02; it left wgan_gp at 81.1 and made hellinger
   worse (164 → 175), whose generator had not learnt the data. The budget is wall-clock, so the steps and the
   plain FIDs move between full runs (gan 33.2 and 30.6, wgan_gp 76.4 and 81.1 in two of them). Sampling a
   moving average of G's weights instead (``generator_average=0.999``) did not help in this budget: FID 32.5
   for gan and 32.1 for pearson, one 480 s run each; nor did the two time-scale update rule (Heusel et
   al. 2017: G at 1e-4, the critic at 4e-4), FID 43.8 for gan in 4,474 steps. The sn row keeps K = 1
   here (images in [0, 1]: neighbouring images are several units apart, where the grid's modes are 0.05 wide):
   K = 2 for the row's 3,621 steps gave FID 53.1.

   **The peer baseline.** A peer's DCGAN (torchgan 0.1.0), trained 8 minutes (3,000 steps) on these machines, scored
   FID 24.1 with an independent Fashion-MNIST feature network, which is not ours. So the benchmark retrains that
   peer (``_peer_dcgan``: its tutorial's DCGAN rewritten in plain torch; compared once by hand, with the wheel's weights
   copied in, its networks gave the wheel's outputs exactly, and the tests pin its layers, initialisation and training
   step; 3,000 steps in float32, 100 with ``--quick``), scores it like our rows and reports each row's FID over the
   peer's in the same features (``fashion_dcgan_<row>_fid_over_peer``, the best as ``fashion_best_over_peer_fid``): the
   target's 0.7×, on our scorer. It also scores 2,000 other test images, as they are and through the peer's 28 → 32 → 28
   resizes (``fashion_test_images[_resized]_fid``): the scorer's floor and what the resizes alone cost the peer.
   ``--only peer`` retrains the peer and compares it with the samples the last full run saved. Measured
   on 2026-11-30 (``--only peer``, 2 threads; the rows' samples of 2026-11-28, rescored in a rebuilt feature network,
   test accuracy 0.890, where the rows' own FIDs above are from the 0.8902 one): the peer trained its 3,000 steps
   in 488 s and in 524 s in two runs, the issue's 8 minutes, and has FID 103.9, precision 0.50 and recall 0.21 in both;
   over it, pearson 0.31 (FID 32.2 here), gan 0.33, sn 0.53, dudley 0.75, wgan_gp 0.86, hellinger 1.75. The other test
   images have FID 3.4, and 10.0 through the resizes, so the resizes explain little of the peer's gap. An earlier run of
   the peer, its RNG seeded otherwise, had FID 97.6 (pearson 0.33×). The peer varies with its seed more than that:
   trained from seeds 1 and 2 (``train_peer``'s generator; measured once on 2026-11-30, at 1 thread beside other jobs,
   not recorded in the JSON), it had FID 85.0 and 134.3 against seed 0's 103.9, and pearson over it 0.38× and 0.24×; the
   benchmark's ratios are over seed 0's, the middle of the three. Whether the ratios carry over to the independent
   scorer is not known: two feature networks can weigh texture and shape differently. As a second opinion the full run
   scores the same samples in a second in-repo network, twice as wide, with 256 features, from another
   seed (``SECOND_NET``, keys ending in ``_second_net``; 150 s to train at 2 threads the first time, then cached): test
   accuracy 0.894, the peer's FID 272.7 in its features, and over it pearson 0.34, gan 0.35, sn 0.54, dudley 0.73,
   wgan_gp 0.82, hellinger 1.39: the same order, and the best 0.34× against 0.31×. (The ratios are over the peer's FID
   of its samples rounded to 8-bit pixels as ours are, ``fashion_peer_torchgan_dcgan_fid_8bit[_second_net]``: 103.8 in
   the first network.)
3. **The bilinear game** min_x max_y x·y (``dgm.eval.games``): the distance to the Nash equilibrium
   (0, 0) after 100 steps of size 0.2 from (1, 1) under simultaneous, alternating, extragradient and
   optimistic gradient play, and their plot, ``benchmarks/results/bilinear_game.png``.

Usage::

    python benchmarks/adversarial.py               # 3 seeds × 2 mixtures × every row, the target runs, then
                                                   # 8 min per DCGAN and about 2 min of truncated sampling each
                                                   # and the peer baseline's 3,000 steps
    python benchmarks/adversarial.py --quick       # one seed, 100 steps, 20 s per DCGAN: under 10 minutes
    python benchmarks/adversarial.py --only modes  # or: --only targets, --only fashion, --only peer, --only game
    python benchmarks/adversarial.py --only fashion --precision 32-true  # the DCGANs in float32
    python benchmarks/adversarial.py --only modes --mixtures ring8 --rows wgan_gp sn dudley --threads 1
    python benchmarks/adversarial.py --only targets --rows sn --first-seed 2 --seeds 1 --progress  # one target run
    python benchmarks/adversarial.py --only targets --rows dudley --checkpoints runs/targets  # resumable: rerun
                                                   # the same command after a kill to continue, bit for bit
    python benchmarks/adversarial.py --only targets --rows sn --target-steps 60000  # every row given trains
                                                   # 60,000 steps, recorded as grid25_sn_long60000_...

The full run into ``adversarial.json`` (not with ``--out``) also saves each Fashion-MNIST row's 2,000 scored
samples as uint8 images in ``benchmarks/results/fashion-samples/dcgan_<row>.npz`` (key ``images``, shape
(2000, 28, 28)), for an independent scorer, the truncated ones as ``dcgan_<row>_jbt20.npz``, and the peer
baseline's as ``peer_torchgan_dcgan.npz``.

Every figure is merged into ``benchmarks/results/adversarial.json`` (``adversarial-quick.json`` for
``--quick``) as soon as it is measured, e.g. ``grid25_wgan_gp_modes_seed0``, ``fashion_dcgan_sn_fid``, with
the settings it was measured with: ``<mixture>_<row>_threads`` and ``<mixture>_<row>_bf16_mixed`` (0: the
mode rows train in float32; rows measured before 2026-11-29 have only ``modes_threads``, 1),
``fashion_dcgan_<row>_threads``, ``fashion_dcgan_<row>_bf16_mixed`` (1: trained in bf16-mixed, 0: float32), and
``<key>_simd_bits``, the vector width of the CPU kernels torch used (256: AVX2, 512: AVX-512). A rerun
reproduces a row bit for bit only on the same threads and kernels: GAN training is chaotic, and another CPU's
kernels sum in another order. Measured: grid25 ``sn`` seed 0 had 78.1% high quality and KL 0.048 on the
machine of the committed row, 75.7% and 0.096 on an AVX2 AMD EPYC; ``pearson`` 71.6% and 0.044 on the
machine of its row, 49.3% and 0.162 on another (the AMD EPYC reproduced the committed ring8 ``pearson`` seed 0
exactly: 90.9% high quality, target at step 2,500).
"""

import argparse
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import dgm
from _common import STEPS_CAP, Results, timed, training_precision
from _peer_dcgan import PEER_STEPS, resize_to_28, resize_to_32, sample_peer, train_peer
from dgm.core.errors import CheckpointError, DataError, DgmError
from dgm.core.seed import capture_rng_state, restore_rng_state
from dgm.data import BatchStream, Dataset, load_dataset
from dgm.eval.coverage import mode_coverage
from dgm.eval.features import FeatureNet, FeatureNetConfig, feature_net_for
from dgm.eval.games import save_bilinear_game_plot
from dgm.eval.quality import NUM_FID_IMAGES, frechet_distance, implicit_metrics
from dgm.losses.fgan import F_DIVERGENCES
from dgm.models import build_model
from dgm.train.checkpoint import (
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    load_model_state,
    remove_unfinished_checkpoints,
    restore_optimizer_state,
    save_checkpoint,
)

RESULTS = Path(__file__).parent / "results" / "adversarial.json"
QUICK_RESULTS = RESULTS.with_name("adversarial-quick.json")
SAMPLES = RESULTS.with_name("fashion-samples")  # dcgan_<row>.npz: the 2,000 scored samples of each full-budget row

# one MLP pair for every row: PacGAN's generator (z of 2 values, 4 hidden layers of 400 with batch norm and ReLU),
# a critic of 2 hidden layers of 256 (LeakyReLU or MaxMin), batches of 256. Every step size halves 4 times over
# the budget (every MODE_STEPS / 4 generator steps). With VEEGAN's 2 × 256 ReLU generator and z of 16, no
# Lipschitz critic got more than 16% of grid25's samples within 3σ of a mode (the f-GANs 36%): the samples filled
# the square between the modes.
MLP = {
    "latent_dim": 2, "generator_hidden_dim": 400, "generator_hidden_layers": 4, "generator_batch_norm": True,
    "hidden_dim": 256, "num_hidden_layers": 2, "batch_size": 256,
}  # fmt: skip
F_GAN = {"learning_rate": 1e-3}  # Adam(1e-3, β = (0.5, 0.999)), one critic step per generator step
# Gulrajani et al.'s toy settings: 5 critic steps, Adam β = (0.5, 0.9), λ = 0.1 (10 for images); at 1e-4 and
# λ = 10, WGAN-GP had not left a blob after 1,000 steps. Spectral and Dudley critics use MaxMin activations
# (Anil et al. 2019): with LeakyReLU the spectral critic's gradients fade and the generator collapsed to one mode.
# SN-GAN's discriminator is 10-Lipschitz: its logit should change by nats within a mode's 3σ (0.15 on the grid),
# which a 1-Lipschitz logit cannot (grid25 at K = 1: 41/62/58% high quality, KL 0.28/0.12/0.13). For wgan_sn K would
# only scale the loss, which Adam's steps ignore; the Dudley ball at K = 10 did worse on seed 0 (64%, KL 0.23; K = 1:
# 70%, 0.08).
IPM = {"objective": "wasserstein", "num_critic_steps": 5, "learning_rate": 1e-3, "beta2": 0.9}
NORMALISED = {"critic_activation": "maxmin"}
MODE_ROWS: dict[str, dict] = {
    **{name: F_GAN | {"objective": name} for name in F_DIVERGENCES},  # alpha: α = 0.5, the default
    "alpha_above_1": F_GAN | {"objective": "alpha", "alpha": 1.5},  # the table's other alpha row
    "gan_minimax": F_GAN | {"objective": "gan", "generator_update": "single_step"},
    "wgan": IPM | {"critic": "clip", "optimizer": "rmsprop", "learning_rate": 5e-5},  # Arjovsky et al., Algorithm 1
    "wgan_gp": IPM | {"critic": "gradient_penalty", "penalty_weight": 0.1},
    "sn": F_GAN | NORMALISED | {"objective": "gan", "critic": "spectral", "lipschitz_constant": 10},  # SN-GAN
    "wgan_sn": IPM | NORMALISED | {"critic": "spectral"},
    "dudley": IPM | NORMALISED | {"critic": "dudley"},
    "pacgan4": F_GAN | {"objective": "gan", "pack": 4, "batch_size": 64},  # the gan row's 256 samples, in 64 packs
}
MODE_DATA = ("grid25", "ring8")
MODE_STEPS = {"grid25": 10_000, "ring8": 5000}  # generator steps
QUICK_MODE_STEPS = 100
NUM_MODE_SAMPLES = 2500
JACOBIAN_TRUNCATIONS = (0.1, 0.2, 0.3)  # shares of latents rejected after training (Tanielian et al. 2020)
FASHION_JACOBIAN_TRUNCATION = 0.2  # one share: a DCGAN's z has 100 values, so 100 forward passes per sample
EVAL_EVERY = 500
QUICK_PEER_STEPS = 100  # the torchgan baseline's steps with --quick (PEER_STEPS, 3,000, in the full run)
PEER = "fashion_peer_torchgan_dcgan"  # the peer baseline's keys
PEER_BEST = "fashion_best_over_peer_fid"
# a second opinion on the ratios to the peer, as the target's scorer is another network: the same recipe at twice
# the width and features, from another seed (``dgm.eval.features``; cached beside the first)
SECOND_NET = FeatureNetConfig(width=64, feature_dim=256, seed=1)
SECOND_NET_SUFFIX = "_second_net"  # the suffix of the keys of figures in its features
# the target runs: the three rows grid25's target (25 modes, ≥ 95% high quality, KL ≤ 0.05) is set for, trained
# longer on a cool-down schedule: the first step size for COOL_DOWN_HOLD of the steps, then halving every
# COOL_DOWN_HALF_LIFE of them, down to COOL_DOWN_FLOOR of the first (where the table's schedule ends)
TARGET_STEPS: dict[str, int] = {"wgan_gp": 40_000, "sn": 40_000, "dudley": 60_000}  # the rows and their budgets
TARGET_ROWS = tuple(TARGET_STEPS)
LONG_STEPS = 40_000  # the budget recorded as grid25_<row>_long_...; another as grid25_<row>_long<budget>_...
QUICK_TARGET_STEPS = 100
COOL_DOWN_HOLD, COOL_DOWN_HALF_LIFE, COOL_DOWN_FLOOR = 0.9, 0.02, 1 / 16
# the target runs' settings that differ from the table's row: WGAN-GP's penalty at λ = 1 rather than 0.1 (over
# 10,000 steps with the cool-down, seed 0 held 60–77% high quality at the full step size from step 6,000 where
# λ = 0.1 swung between 34% and 69%, and ended at 87.7% and KL 0.006 against 84.0% and 0.009; over 40,000 steps,
# 95.4% and 0.006, the target, against 93.7% and 0.008)
TARGET_OVERRIDES: dict[str, dict] = {"wgan_gp": {"penalty_weight": 1.0}}
SCHEDULE_KEYS = ("learning_rate", "learning_rate_hold", "learning_rate_half_life", "final_learning_rate")

# Radford et al.'s settings (the dcgan catalogue defaults) for the f-GAN rows; Gulrajani et al.'s for the IPMs:
# 5 critic steps, Adam(1e-4, β = (0.5, 0.9)), minibatches of 64, λ = 10
IMAGE_IPM = {"objective": "wasserstein", "num_critic_steps": 5, "learning_rate": 1e-4, "beta2": 0.9, "batch_size": 64}
FASHION_ROWS: dict[str, dict] = {
    "gan": {"objective": "gan"},
    "wgan_gp": IMAGE_IPM | {"critic": "gradient_penalty"},
    "sn": {"objective": "gan", "critic": "spectral"},
    "dudley": IMAGE_IPM | {"critic": "dudley"},
    "pearson": {"objective": "pearson"},
    "hellinger": {"objective": "hellinger"},
}
ROWS = ["modes", "targets", "fashion", "peer", "game"]
GAME_PLOT = RESULTS.with_name("bilinear_game.png")


def jbt_suffix(share: float) -> str:
    """The key suffix of figures from Jacobian-truncated samples: ``_jbt20`` for 20% of the latents rejected."""
    return f"_jbt{round(100 * share)}"


def target_met(data: str, coverage: dict[str, float]) -> bool:
    """The mixtures' target: every mode, and on the grid ≥ 95% high-quality samples with reverse KL ≤ 0.05."""
    if coverage["modes_covered"] < coverage["num_modes"]:
        return False
    return data == "ring8" or (coverage["high_quality_fraction"] >= 0.95 and coverage["reverse_kl_modes"] <= 0.05)


def mode_run(
    data: str, overrides: dict, steps: int, seed: int, progress: bool = False, checkpoints: Path | None = None
) -> tuple[dict[str, float], float, dict[float, dict[str, float]], float]:
    """Train ``steps`` generator steps from ``seed``; the final coverage, the first step meeting the target, the
    final coverage of Jacobian-truncated samples per rejected share (``JACOBIAN_TRUNCATIONS``) and the seconds
    the run took. With ``progress``, print the coverage at every evaluation. With ``checkpoints`` (a folder),
    save the run's state there after every evaluation (model, optimizers, data position, RNG states, the first
    step that met the target, the seconds so far; only the latest is kept) and resume from the one found there:
    a killed run continues where it stopped, bit for bit on the same threads and CPU. (The one training loop,
    ``dgm.train``, resumes its runs the same way; these runs step ``train_step`` themselves, to measure coverage
    every ``EVAL_EVERY`` steps on the plain samples' seed.)"""
    start = time.perf_counter()
    dataset = load_dataset(data)
    torch.manual_seed(seed)
    config = MLP | {"learning_rate_half_life": steps // 4} | overrides
    model = build_model("gan", config, dataset.shape)
    optimizers = model.optimizers()
    stream = BatchStream(dataset.train, model.batch_size, seed=seed)
    run = {"data": data, "steps": steps, "seed": seed, "threads": torch.get_num_threads(), "config": config}
    done, first_met, seconds_before, coverage = 0, float("nan"), 0.0, None
    if checkpoints is not None:
        done, first_met, seconds_before = resume(checkpoints, run, model, optimizers, stream)
        if done and progress:
            print(f"    seed {seed}: resumed at step {done:,} from {checkpoints}", flush=True)
    for step in range(done + 1, steps + 1):
        model.train_step(next(stream), optimizers, lambda loss: loss.backward())
        if step % EVAL_EVERY == 0 or step == steps:
            coverage = evaluate(model, dataset, seed)
            if progress:  # the high-quality share to 0.1%: the target's 95% is a threshold
                print(f"    seed {seed} step {step:>6}: {coverage['modes_covered']:.0f} modes, "
                      f"{coverage['high_quality_fraction']:.1%} high quality, KL {coverage['reverse_kl_modes']:.3f}",
                      flush=True)  # fmt: skip
            if first_met != first_met and target_met(data, coverage):  # NaN until met
                first_met = float(step)
            if checkpoints is not None:
                seconds = seconds_before + time.perf_counter() - start
                save_run(checkpoints, step, run, model, optimizers, stream, first_met, seconds)
    if coverage is None:  # resumed from the last step's checkpoint: nothing trained
        coverage = evaluate(model, dataset, seed)
    truncated = {share: evaluate(model, dataset, seed, share) for share in JACOBIAN_TRUNCATIONS}
    return coverage, first_met, truncated, seconds_before + time.perf_counter() - start


def evaluate(model: torch.nn.Module, dataset: Dataset, seed: int, jacobian_truncation: float = 0.0) -> dict[str, float]:
    """The coverage of ``NUM_MODE_SAMPLES`` samples drawn from ``seed``'s generator, in eval mode; with
    ``jacobian_truncation`` r > 0, of the N kept from ⌈N/(1 − r)⌉ latents drawn the same way."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        samples = model.sample(NUM_MODE_SAMPLES, generator=generator, jacobian_truncation=jacobian_truncation)  # (N, 2)
    model.train()
    return mode_coverage(samples, dataset.modes, dataset.mode_std)


def save_run(
    folder: Path, step: int, run: dict, model: torch.nn.Module, optimizers: dict[str, torch.optim.Optimizer],
    stream: BatchStream, first_met: float, seconds: float,
) -> None:  # fmt: skip
    """A checkpoint of a mode run at ``step`` in ``folder`` (safetensors + JSON), replacing the older ones."""
    state = {
        "run": run, "stream": stream.state_dict(), "rng": capture_rng_state(), "seconds": seconds,
        "first_met": None if first_met != first_met else first_met,  # NaN: not met yet
    }  # fmt: skip
    save_checkpoint(folder, step, model, optimizers, state)
    for older, path in list_checkpoints(folder):
        if older != step:
            shutil.rmtree(path)


def resume(
    folder: Path, run: dict, model: torch.nn.Module, optimizers: dict[str, torch.optim.Optimizer], stream: BatchStream
) -> tuple[int, float, float]:
    """Load the latest checkpoint in ``folder`` into the run: (its step, first step that met the target, seconds
    trained), or (0, NaN, 0.0) without one. A checkpoint of another run is a ``CheckpointError``."""
    path = latest_checkpoint(folder)
    if path is None:
        return 0, float("nan"), 0.0
    model_state, optimizer_states, state = load_checkpoint(path)
    saved = state.get("run")
    expected = json.loads(json.dumps(run))  # as JSON saved it
    if saved != expected:
        keys = expected.keys() | (saved.keys() if isinstance(saved, dict) else set())
        differ = sorted(k for k in keys if not isinstance(saved, dict) or saved.get(k) != expected.get(k))
        raise CheckpointError(f"{path} is a checkpoint of another run (it differs in {', '.join(differ)}): "
                              "expected one of this run, or none; use another --checkpoints folder")  # fmt: skip
    remove_unfinished_checkpoints(folder)
    load_model_state(model, model_state, path)
    restore_optimizer_state(optimizers, optimizer_states, path)
    try:
        stream.load_state_dict(state["stream"])
        restore_rng_state(state["rng"])
        first_met = float("nan") if state["first_met"] is None else float(state["first_met"])
        return int(state["step"]), first_met, float(state["seconds"])
    except (KeyError, TypeError, ValueError, RuntimeError, OverflowError) as error:
        raise CheckpointError(f"checkpoint {path} is corrupt: bad state.json ({error!r})") from None


def cool_down(overrides: dict, steps: int) -> dict:
    """``overrides`` on the target runs' schedule over ``steps``: for 40,000 steps, the first step size for
    36,000, then halving every 800, down to 1/16 of it."""
    return overrides | {
        "learning_rate_hold": round(COOL_DOWN_HOLD * steps),
        "learning_rate_half_life": max(1, round(COOL_DOWN_HALF_LIFE * steps)),
        "final_learning_rate": COOL_DOWN_FLOOR * overrides["learning_rate"],
    }


def seed_label(seeds: range) -> str:
    """``seed 2`` or ``seeds 0-2``."""
    return f"seed {seeds.start}" if len(seeds) == 1 else f"seeds {seeds.start}-{seeds.stop - 1}"


def mode_rows(
    mixtures: list[str], rows: dict[str, dict], steps: dict[str, int], seeds: range, results: Results,
    progress: bool = False, checkpoints: Path | None = None,
) -> None:  # fmt: skip
    """Train every row of ``rows`` (name -> overrides of ``MLP``) on every mixture from every seed, print its
    coverage per seed and record the figures under ``<mixture>_<name>_...``; with ``checkpoints``, each run
    saves and resumes its state in ``checkpoints/<mixture>_<name>_seed<S>/checkpoints/step-<N>``."""
    print(f"  {'data':<7} {'row':<16} {'modes':>12} {'high quality':>13} {'reverse KL':>11} {'target at step':>15}")
    print(f"  {'':<7} {'':<16} {'':>12} {'':>13} {'':>11} {'(JBT: HQ gain)':>15}")
    for data in mixtures:
        for name, overrides in rows.items():
            runs, seconds = [], 0.0
            for seed in seeds:
                folder = None if checkpoints is None else checkpoints / f"{data}_{name}_seed{seed}"
                coverage, first_met, truncated, took = mode_run(data, overrides, steps[data], seed, progress, folder)
                seconds += took
                runs.append((coverage, first_met, truncated))
                figures = {
                    f"{data}_{name}_modes_seed{seed}": coverage["modes_covered"],
                    f"{data}_{name}_high_quality_seed{seed}": coverage["high_quality_fraction"],
                    f"{data}_{name}_reverse_kl_seed{seed}": coverage["reverse_kl_modes"],  # inf: no high-quality sample
                    f"{data}_{name}_steps_to_target_seed{seed}": first_met,  # NaN: never met
                    f"{data}_{name}_target_met_seed{seed}": float(target_met(data, coverage)),  # at the last step
                }  # fmt: skip
                for share, kept in truncated.items():
                    prefix = f"{data}_{name}{jbt_suffix(share)}"
                    figures[f"{prefix}_modes_seed{seed}"] = kept["modes_covered"]
                    figures[f"{prefix}_high_quality_seed{seed}"] = kept["high_quality_fraction"]
                    figures[f"{prefix}_reverse_kl_seed{seed}"] = kept["reverse_kl_modes"]
                measured = {key: value for key, value in figures.items() if math.isfinite(value)}  # strict JSON
                results.record(measured, forget=tuple(figures.keys() - measured.keys()))
            results.record(
                {
                    f"{data}_{name}_generator_steps": float(steps[data]),
                    f"{data}_{name}_seconds_per_seed": seconds / len(seeds),
                }
                | results.settings(f"{data}_{name}", "32-true")  # the mode rows train in float32
            )
            met = "/".join(met_label(data, c, m) for c, m, _ in runs)
            print(f"  {data:<7} {name:<16} {coverage_columns([c for c, _, _ in runs])} {met:>15}")
            for share in JACOBIAN_TRUNCATIONS:  # and the high-quality share gained over the plain samples
                label = f"  JBT, {share:.0%} out"
                kept = [t[share] for _, _, t in runs]
                gain = "/".join(
                    f"{k['high_quality_fraction'] - c['high_quality_fraction']:+.2f}"
                    for (c, _, _), k in zip(runs, kept, strict=True)
                )
                print(f"  {'':<7} {label:<16} {coverage_columns(kept)} {gain:>15}")
    print("  target at step: the first evaluation that met the target, (step) if the last step fell short, - never")


def target_rows(
    names: list[str], budget: int, steps: int, seeds: range, results: Results, progress: bool,
    checkpoints: Path | None,
) -> None:  # fmt: skip
    """The target runs of the rows ``names``: ``steps`` generator steps on the cool-down schedule, from every
    seed, recorded under ``grid25_<row>_long_...`` for a ``budget`` of ``LONG_STEPS``, else under
    ``grid25_<row>_long<budget>_...`` (e.g. grid25_dudley_long60000_...), with the schedule and the settings
    that differ from the table's row (``TARGET_OVERRIDES``)."""
    long = "long" if budget == LONG_STEPS else f"long{budget}"
    changed = {name: TARGET_OVERRIDES.get(name, {}) for name in names}
    rows = {f"{name}_{long}": cool_down(MODE_ROWS[name] | changed[name], steps) for name in names}
    results.record({f"grid25_{name}_{long}_{key}": float(rows[f"{name}_{long}"][key]) for name in names
                    for key in (*SCHEDULE_KEYS, *changed[name])})  # fmt: skip
    print(f"\nThe grid25 target runs, {steps:,} generator steps on the cool-down schedule; {seed_label(seeds)}; "
          "per seed (modes, high quality, KL):")  # fmt: skip
    mode_rows(["grid25"], rows, {"grid25": steps}, seeds, results, progress, checkpoints)


def met_label(data: str, coverage: dict[str, float], first_met: float) -> str:
    """One seed's entry in the target column: the first step that met the target, ``(step)`` when the final
    coverage ``coverage`` falls short of it again, ``-`` when no evaluation met it."""
    if first_met != first_met:  # NaN: never met
        return "-"
    return f"{first_met:.0f}" if target_met(data, coverage) else f"({first_met:.0f})"


def coverage_columns(coverages: list[dict[str, float]]) -> str:
    """Modes, high-quality share and reverse KL per seed, as the table's three columns."""
    modes = "/".join(f"{c['modes_covered']:.0f}" for c in coverages)
    quality = "/".join(f"{c['high_quality_fraction']:.2f}" for c in coverages)
    kl = "/".join(f"{c['reverse_kl_modes']:.2f}" for c in coverages)
    return f"{modes:>12} {quality:>13} {kl:>11}"


def to_pixels(images: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] -> the same shape of uint8 pixels in 0..255, the one rounding of every saved or compared
    sample."""
    return images.mul(255).round().clamp(0, 255).to(torch.uint8)


def to_8_bit(images: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] rounded to 8-bit pixels, as ``save_samples`` stores them, still as floats in [0, 1]."""
    return to_pixels(images).float().div(255)


def save_samples(images: torch.Tensor, path: Path) -> None:
    """(N, 1, H, W) in [0, 1] -> ``path``, a compressed .npz whose ``images`` are (N, H, W) uint8 in 0..255, for
    scoring by another feature network."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, images=to_pixels(images.squeeze(1)).numpy())  # (N, H, W)


def fashion_scorer() -> tuple[Dataset, FeatureNet, torch.Tensor] | None:
    """Fashion-MNIST, the in-repo feature network and the 2,000 test images every Fashion row is scored against;
    None, with the reason printed, where the data set is not installed."""
    try:
        dataset = load_dataset("fashion-mnist")
    except DataError as error:
        print(f"  skipped ({error})")
        return None
    feature_net, seconds = timed(feature_net_for, dataset)
    print(f"  feature network: test accuracy {feature_net.test_accuracy:.3f} ({seconds:.0f} s, cached after)")
    return dataset, feature_net, dataset.test[-NUM_FID_IMAGES:]


def print_header() -> None:
    """The Fashion table's column names."""
    print(f"  {'objective':<10} {'steps':>6} {'FID':>8} {'KID':>16} {'precision':>10} {'recall':>7}")


def fashion_rows(
    scorer: tuple[Dataset, FeatureNet, torch.Tensor],
    budget: float,
    folder: Path,
    results: Results,
    samples_folder: Path | None,
    truncated_rows: int | None = None,
    truncated_batches: int = 4,
) -> dict[str, torch.Tensor]:
    """Each objective trains the DCGAN for ``budget`` seconds in ``results.precision``; FID etc. in float32, of
    the plain samples and of Jacobian-truncated ones (in the first ``truncated_rows`` rows, None: every row;
    ``truncated_batches`` batches of 500, where the plain samples are 4). Returns each row's plain samples."""
    _, feature_net, real = scorer
    results.record({"fashion_feature_net_test_accuracy": feature_net.test_accuracy})
    print_header()
    plain = {}
    for index, (name, overrides) in enumerate(FASHION_ROWS.items()):
        run = folder / f"dcgan-{name}"
        trained = dgm.train_model(
            "dcgan", "fashion-mnist", steps=STEPS_CAP, out=run, overrides=overrides, max_time=budget,
            precision=results.precision,
        )  # fmt: skip
        model = dgm.load(run).eval()
        samplings = {"": 0.0}
        if truncated_rows is None or index < truncated_rows:
            samplings[jbt_suffix(FASHION_JACOBIAN_TRUNCATION)] = FASHION_JACOBIAN_TRUNCATION
        figures = {f"fashion_dcgan_{name}_train_steps": float(trained.step), f"fashion_dcgan_{name}_train_s": budget}
        figures |= results.settings(f"fashion_dcgan_{name}")  # per row: a partial rerun may mix precisions
        for suffix, share in samplings.items():
            start = time.perf_counter()
            with torch.no_grad():  # 2,000 samples (fewer truncated with --quick), from the same seeds either way
                fake = torch.cat(
                    [model.sample(500, generator=torch.Generator().manual_seed(i), jacobian_truncation=share)
                     for i in range(truncated_batches if share else 4)]
                )  # fmt: skip
            seconds = time.perf_counter() - start
            if samples_folder is not None:
                save_samples(fake, samples_folder / f"dcgan_{name}{suffix}.npz")
            metrics = implicit_metrics(real, fake, feature_net)
            figures |= {f"fashion_dcgan_{name}{suffix}_{key}": value for key, value in metrics.items()}
            figures[f"fashion_dcgan_{name}{suffix}_sampling_s"] = seconds
            label = f"  JBT, {share:.0%} out" if share else f"{name:<10} {trained.step:>6}"
            print_scores(label, metrics, f"{seconds:.0f} s" if share else "")
            if not share:  # as saved, in 8-bit pixels: the peer's ratios see the same samples either way
                plain[name] = to_8_bit(fake)
        # the ratios to the peer baseline were of this row's earlier samples
        ratios = (f"fashion_dcgan_{name}_fid_over_peer", PEER_BEST)
        forget = ("fashion_threads", "fashion_bf16_mixed", *ratios, *(key + SECOND_NET_SUFFIX for key in ratios))
        results.record(figures, forget=forget)
    return plain


def print_scores(label: str, metrics: dict[str, float], note: str = "") -> None:
    """One line of the Fashion table: ``label`` (the row and its steps), the four scores, ``note``."""
    kid = f"{metrics['kid_mean']:.4f} ± {metrics['kid_std']:.4f}"
    print(f"  {label:<17} {metrics['fid']:>8.2f} {kid:>16} "
          f"{metrics['precision']:>10.3f} {metrics['recall']:>7.3f} {note:>6}".rstrip())  # fmt: skip


def peer_row(
    scorer: tuple[Dataset, FeatureNet, torch.Tensor],
    steps: int,
    results: Results,
    ours: dict[str, torch.Tensor],
    samples_folder: Path | None = None,
    second_net: FeatureNetConfig | None = None,
) -> None:
    """torchgan 0.1.0's tutorial DCGAN (``_peer_dcgan``), ``steps`` steps in float32 from seed 0, scored like our
    rows (its samples saved as ``peer_torchgan_dcgan.npz`` in ``samples_folder``, if given); then each FID of
    ``ours`` (each row's plain samples, in 8-bit pixels) over the peer's FID in 8-bit pixels too
    (``..._fid_8bit``), in the same features: the best of them is the Fashion target's 0.7× on our scorer; and
    again in the feature network of ``second_net``, if given (keys ending in ``SECOND_NET_SUFFIX``). Also the
    FID of 2,000 held-out test images, as they are and through the peer's 28 → 32 → 28 resizes: the floor of the
    scorer and what the resizes alone cost."""
    dataset, feature_net, real = scorer
    network, seconds = timed(train_peer, dataset.train, torch.Generator().manual_seed(0), steps)
    fake = torch.cat([sample_peer(network, 500, torch.Generator().manual_seed(i)) for i in range(4)])  # as our rows
    if samples_folder is not None:
        save_samples(fake, samples_folder / f"{PEER.removeprefix('fashion_')}.npz")
    metrics = implicit_metrics(real, fake, feature_net)
    figures = {f"{PEER}_{name}": value for name, value in metrics.items()}
    figures |= {f"{PEER}_train_steps": float(steps), f"{PEER}_train_s": seconds}
    figures |= results.settings(PEER, precision="32-true")
    print_header()
    print_scores(f"{'torchgan':<10} {steps:>6}", metrics, f"{seconds:.0f} s")
    real_features = feature_net.features(real)  # (2000, F)
    held_out = dataset.test[:NUM_FID_IMAGES]  # disjoint from ``real`` (the last 2,000 of 10,000)
    for name, images in {"": held_out, "_resized": resize_to_28(resize_to_32(held_out))}.items():
        figures[f"fashion_test_images{name}_fid"] = frechet_distance(real_features, feature_net.features(images))
    print(f"  2,000 other test images: FID {figures['fashion_test_images_fid']:.2f}, through the peer's resizes "
          f"{figures['fashion_test_images_resized_fid']:.2f}")  # fmt: skip
    figures[f"{PEER}_feature_net_test_accuracy"] = feature_net.test_accuracy
    suffixes = ("", SECOND_NET_SUFFIX)
    # ratios of rows without samples here were to another peer run
    stale = [f"fashion_dcgan_{name}_fid_over_peer{suffix}" for name in FASHION_ROWS if name not in ours
             for suffix in suffixes]  # fmt: skip
    if not ours:
        print("  no samples of our rows to compare with (--quick compares this run's; a full run saves them)")
        stale += [key + suffix for key in (PEER_BEST, f"{PEER}_fid_8bit") for suffix in suffixes]
    else:  # every row's FID over the peer's, in the same features, as saved in 8-bit pixels
        print("  our rows' FID over the peer's, the peer's samples in 8-bit pixels as ours (target 0.7×):")
        nets = {"": ("our feature network", feature_net, real_features)}  # suffix -> (described, net, features)
        if second_net is not None:
            described = f"width {second_net.width}, features {second_net.feature_dim}, seed {second_net.seed}"
            second = feature_net_for(dataset, second_net)
            nets[SECOND_NET_SUFFIX] = (f"a second one ({described})", second, second.features(real))
            figures[f"fashion_feature_net_test_accuracy{SECOND_NET_SUFFIX}"] = second.test_accuracy
        for suffix, (where, net, features) in nets.items():
            peer_fid, ratios = fids_over_peer(net, features, to_8_bit(fake), ours)
            figures |= {f"fashion_dcgan_{name}_fid_over_peer{suffix}": ratio for name, ratio in ratios.items()}
            best = figures[PEER_BEST + suffix] = min(ratios.values())
            figures[f"{PEER}_fid_8bit{suffix}"] = peer_fid
            ranked = ", ".join(f"{name} {ratio:.2f}" for name, ratio in sorted(ratios.items(), key=lambda r: r[1]))
            print(f"    in {where}, test accuracy {net.test_accuracy:.3f}, peer FID {peer_fid:.2f}: {ranked}; "
                  f"the best {best:.2f}×")  # fmt: skip
    results.record(figures, forget=tuple(stale))


def fids_over_peer(
    feature_net: FeatureNet, real_features: torch.Tensor, peer: torch.Tensor, ours: dict[str, torch.Tensor]
) -> tuple[float, dict[str, float]]:
    """The FID of ``peer``'s images to the real images, in ``feature_net``'s features, and each of ``ours``' over
    it; ``real_features`` (N, F) are the real images' features in ``feature_net``."""
    peer_fid = frechet_distance(real_features, feature_net.features(peer))
    return peer_fid, {
        name: frechet_distance(real_features, feature_net.features(images)) / peer_fid for name, images in ours.items()
    }


def saved_samples(folder: Path) -> dict[str, torch.Tensor]:
    """The plain samples a full run saved for each Fashion row (``save_samples``), as (N, 1, H, W) in [0, 1]."""
    paths = {name: folder / f"dcgan_{name}.npz" for name in FASHION_ROWS}
    return {
        name: torch.from_numpy(np.load(path)["images"]).float().div(255).unsqueeze(1)
        for name, path in paths.items()
        if path.is_file()
    }


def game_rows(results: Results) -> None:
    trajectories = save_bilinear_game_plot(GAME_PLOT)  # from (1, 1), 100 steps of 0.2
    start = float(trajectories["simultaneous"][0].norm())
    for name, points in trajectories.items():
        distance = float(points[-1].norm())
        results.record({f"bilinear_{name}_distance_after_100_steps": distance})
        print(f"  {name:<13} distance to (0, 0): {start:.3f} -> {distance:.3f}")
    print(f"  plot: {GAME_PLOT}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, 100 steps, 20 s per DCGAN: under 10 min")
    parser.add_argument("--only", nargs="+", choices=ROWS, help="a subset of the parts")
    parser.add_argument(
        "--rows", nargs="+", choices=list(MODE_ROWS), help="a subset of the mode-coverage rows (of "
        f"{', '.join(TARGET_ROWS)} for the target runs)"
    )  # fmt: skip
    parser.add_argument(
        "--mixtures", nargs="+", choices=MODE_DATA, default=MODE_DATA, help="grid25 and/or ring8 (the target runs: "
        "grid25 only)"
    )  # fmt: skip
    parser.add_argument("--seeds", type=int, help="seeds per mode-coverage row and target run (3; 1 with --quick)")
    parser.add_argument("--first-seed", type=int, default=0, help="the first of those seeds (default 0)")
    parser.add_argument("--progress", action="store_true", help="print each mode-coverage evaluation")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "32-true", "bf16-mixed"],
        help="the DCGANs' training precision (auto: bf16-mixed where the CPU has AMX or AVX512-BF16, 1.2-1.6x the "
        "steps of 32-true in the same time with AMX; elsewhere 32-true, as bf16 is ~10x slower on AVX2); the mode "
        "rows train and every figure is scored in float32",
    )
    parser.add_argument("--out", type=Path, help="JSON file to merge the figures into")
    parser.add_argument(
        "--checkpoints", type=Path, help="folder where every mode and target run saves its state after each "
        "evaluation and resumes from it (a killed run continues where it stopped)"
    )  # fmt: skip
    parser.add_argument(
        "--target-steps", type=int, help="generator steps N of every target run, even with --quick, keys "
        f"grid25_<row>_long<N>_... unless N is {LONG_STEPS:,} (default: each row's own budget, "
        f"{', '.join(f'{name} {steps:,}' for name, steps in TARGET_STEPS.items())}; {QUICK_TARGET_STEPS} with --quick)"
    )  # fmt: skip
    args = parser.parse_args()
    if args.seeds is not None and args.seeds < 1:
        parser.error(f"--seeds must be at least 1, got {args.seeds}")
    if args.first_seed < 0:
        parser.error(f"--first-seed must be at least 0, got {args.first_seed}")
    if args.target_steps is not None and args.target_steps < 1:
        parser.error(f"--target-steps must be at least 1, got {args.target_steps}")
    parts = [n for n in ROWS if not args.only or n in args.only]
    target_names = [name for name in TARGET_ROWS if not args.rows or name in args.rows]
    if "grid25" not in args.mixtures or not target_names:  # the target runs train only those rows on the grid
        if args.only and "targets" in args.only:
            parser.error(f"--only targets trains {', '.join(TARGET_ROWS)} on grid25, got --rows "
                         f"{' '.join(args.rows or TARGET_ROWS)} --mixtures {' '.join(args.mixtures)}")  # fmt: skip
        parts = [n for n in parts if n != "targets"]
    torch.set_num_threads(args.threads)
    args.precision = training_precision(args.precision)
    results = Results(args.out or (QUICK_RESULTS if args.quick else RESULTS), args.threads, args.precision)
    seeds = range(args.first_seed, args.first_seed + (args.seeds or (1 if args.quick else 3)))
    if "modes" in parts:
        steps = {data: QUICK_MODE_STEPS for data in MODE_DATA} if args.quick else MODE_STEPS
        rows = {name: MODE_ROWS[name] for name in args.rows or MODE_ROWS}
        budget = ", ".join(f"{steps[data]:,} on {data}" for data in args.mixtures)
        print(f"\nMode coverage, generator steps: {budget}; {seed_label(seeds)}; per seed (modes, high quality, KL):")
        mode_rows(args.mixtures, rows, steps, seeds, results, args.progress, args.checkpoints)
    if "targets" in parts:
        budgets = {name: args.target_steps or TARGET_STEPS[name] for name in target_names}
        for budget in sorted(set(budgets.values())):  # --quick trains 100 steps, named as the full budget
            steps = QUICK_TARGET_STEPS if args.quick and args.target_steps is None else budget
            names = [name for name in target_names if budgets[name] == budget]
            target_rows(names, budget, steps, seeds, results, args.progress, args.checkpoints)
    if "fashion" in parts or "peer" in parts:
        budget = 20.0 if args.quick else 480.0
        rows = f"{budget:.0f} s of training per objective in {args.precision}" if "fashion" in parts else "no rows"
        print(f"\nFashion-MNIST, DCGAN architecture, {rows}:")
        scorer = fashion_scorer()
        ours = {}
        # the samples beside the figures they were scored for: a full run into adversarial.json saves them
        samples = SAMPLES if not args.quick and results.path.resolve() == RESULTS.resolve() else None
        if scorer is not None and "fashion" in parts:
            with tempfile.TemporaryDirectory() as tmp:
                quick = {"truncated_rows": 1, "truncated_batches": 1} if args.quick else {}  # JBT: 500 samples
                ours = fashion_rows(scorer, budget, Path(tmp), results, samples, **quick)
        elif scorer is not None and "peer" in parts and not args.quick:  # the peer alone: against the samples
            ours = saved_samples(SAMPLES)  # the last full run saved
        if scorer is not None and "peer" in parts:
            print("\nThe peer baseline, torchgan 0.1.0's tutorial DCGAN (benchmarks/_peer_dcgan.py), in float32:")
            if args.quick:  # no saved samples, no second network (minutes to train the first time)
                peer_row(scorer, QUICK_PEER_STEPS, results, ours)
            else:
                peer_row(scorer, PEER_STEPS, results, ours, samples, SECOND_NET)
    if "game" in parts:
        print("\nThe bilinear game min_x max_y x·y, step 0.2:")
        game_rows(results)
    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{args.threads} threads. Merged into {results.path}")  # fmt: skip


if __name__ == "__main__":
    try:
        main()
    except DgmError as error:  # e.g. a checkpoint folder of another run: one line, exit 2
        print(f"adversarial.py: error: {error}", file=sys.stderr)
        sys.exit(2)
