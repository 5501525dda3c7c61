"""Adversarial objectives on critic scores, composable with any generator/critic pair: the one table of names.

A user picks one with ``--set objective=NAME``; ``make_objective`` builds it. ``OBJECTIVES`` lists:

- the eleven f-GAN names (Nowozin, Cseke & Tomioka 2016), the twelve rows of Table 2 with ``alpha``
  covering α < 1 and α > 1 (``fgan.py``; ``pi=`` for ``weighted_js``, ``alpha=`` for ``alpha``);
- ``wasserstein``, the integral probability metric of Arjovsky, Chintala & Bottou (2017, eq. 2):
  W(P, Q) = sup over 1-Lipschitz critics of E_P[critic] − E_Q[critic]; the Lipschitz constraint
  (clipping, gradient penalty, normalised layers) belongs to the critic, not to this objective.

The original GAN (Goodfellow et al. 2014, eq. 1),
    min_G max_D  E_data[log D(x)] + E_z[log(1 − D(G(z)))],   D = sigmoid(critic score),
is the f-GAN ``gan`` row: g_f(v) = log D and f*(g_f(v)) = −log(1 − D). At the optimal critic
D* = p_data / (p_data + p_g) its value is −log 4 + 2·JSD(p_data ‖ p_g). Its minimax generator loss is
the single-step update and its non-saturating loss (−log D, §3) the alternative update.

Example::

    objective = make_objective("weighted_js", pi=0.3, generator_update="alternative")
    objective.critic_loss(critic(real), critic(fake))   # (B,), (B,) -> scalar
"""

from typing import Literal

from ..core.config import check
from ..core.protocols import Adversarial
from .fgan import F_DIVERGENCES, GENERATOR_UPDATES, FGANObjective, GANDivergence, GeneratorUpdate, make_divergence
from .ipm import Wasserstein

OBJECTIVES: tuple[str, ...] = (*F_DIVERGENCES, "wasserstein")


class OriginalGAN(FGANObjective):
    """The GAN objective on raw critic scores (logits): the f-GAN ``gan`` row.

    ``generator_loss="minimax"`` minimises E[log(1 − D(G(z)))] exactly as in eq. 1 (the single-step
    update); ``"non_saturating"`` minimises −E[log D(G(z))], the paper's §3 remedy for early vanishing
    gradients (the alternative update).
    """

    def __init__(self, generator_loss: Literal["non_saturating", "minimax"] = "non_saturating") -> None:
        updates = {"minimax": "single_step", "non_saturating": "alternative"}
        check(generator_loss in updates, f"generator_loss must be one of: {', '.join(updates)}; got {generator_loss!r}")
        super().__init__(GANDivergence(), updates[generator_loss])


def make_objective(
    name: str, *, pi: float = 0.5, alpha: float = 0.5, generator_update: GeneratorUpdate = "alternative"
) -> Adversarial:
    """The objective called ``name`` (one of ``OBJECTIVES``).

    ``pi`` ∈ (0, 1) is read by ``weighted_js`` only; ``alpha`` (finite, not 0 or 1; its side of 1 picks
    the table's row) by ``alpha`` only. ``generator_update`` is ``"single_step"`` or ``"alternative"``
    (see ``fgan.py``); for ``wasserstein`` and ``total_variation`` the two coincide. Raises
    ``ConfigError`` naming the valid choices or range.
    """
    check(name in OBJECTIVES, f"unknown objective {name!r}; expected one of: {', '.join(OBJECTIVES)}")
    if name == "wasserstein":
        check(
            generator_update in GENERATOR_UPDATES,
            f"generator_update must be one of: {', '.join(GENERATOR_UPDATES)}; got {generator_update!r}",
        )
        return Wasserstein()
    return FGANObjective(make_divergence(name, pi=pi, alpha=alpha), generator_update)
