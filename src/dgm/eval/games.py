"""Gradient play need not converge to a Nash equilibrium: the bilinear game min_x max_y f(x, y) = x·y.

The game's only Nash equilibrium is (0, 0). Each player follows its own gradient with step η; write
the joint update as descent on the vector field v(x, y) = (∂f/∂x, −∂f/∂y) = (y, −x):

- simultaneous steps, z' = z − η v(z), are a rotation scaled by √(1 + η²): the iterates spiral
  outwards, the distance to (0, 0) growing by exactly √(1 + η²) per step;
- alternating steps, x' = x − η y then y' = y + η x', have determinant 1 and keep
  Q(x, y) = x² + y² − η x y fixed (substitute x = x' + η y into Q(x, y) − Q(x', y'): it is
  (η² + a η)(y² − x'²) for Q = x² + y² + a x y, zero for a = −η); Q is positive definite for η < 2,
  so the iterates cycle on an ellipse for ever;
- extragradient, z̃ = z − η v(z) then z' = z − η v(z̃), is a rotation scaled by √(1 − η² + η⁴) < 1
  for 0 < η < 1: it converges to (0, 0);
- optimistic gradient, z' = z − 2η v(z) + η v(z_previous), converges too for small η.

References:
    Goodfellow (2016), "NIPS 2016 Tutorial: Generative Adversarial Networks" — the non-convergence
    of simultaneous gradient descent on V(x, y) = x·y.
    Korpelevich (1976), "The extragradient method for finding saddle points and other problems";
    Gidel, Berard, Vignoud, Vincent & Lacoste-Julien (2019), "A Variational Inequality Perspective on
    Generative Adversarial Networks" — extragradient for GANs, the bilinear example.
    Daskalakis, Ilyas, Syrgkanis & Zeng (2018), "Training GANs with Optimism" — optimistic gradient.
    Bailey, Gidel & Piliouras (2020), "Finite Regret and Cycles with Fixed Step-Size via Alternating
    Gradient Descent-Ascent" — the conserved energy of alternating steps.

>>> path = simultaneous_gradient((1.0, 0.0), step_size=0.1, num_steps=10)  # (11, 2)
>>> round(float(path[-1].norm()), 6) == round(1.01 ** 5, 6)  # √(1 + η²)^10 = 1.01^5
True
"""

from collections.abc import Callable
from pathlib import Path

import torch
from matplotlib.figure import Figure

VectorField = Callable[[torch.Tensor], torch.Tensor]


def bilinear_field(point: torch.Tensor) -> torch.Tensor:
    """v(x, y) = (∂f/∂x, −∂f/∂y) = (y, −x) of f(x, y) = x·y: (2,) -> (2,); x descends f, y ascends it."""
    x, y = point
    return torch.stack([y, -x])  # (2,)


def _start(start: tuple[float, float]) -> torch.Tensor:
    return torch.tensor(start, dtype=torch.float64)  # (2,)


def simultaneous_gradient(
    start: tuple[float, float], step_size: float, num_steps: int, field: VectorField = bilinear_field
) -> torch.Tensor:
    """Both players step at once from the same point: z' = z − η v(z). Returns (num_steps + 1, 2)."""
    points = [_start(start)]
    for _ in range(num_steps):
        z = points[-1]
        points.append(z - step_size * field(z))
    return torch.stack(points)  # (T + 1, 2)


def alternating_gradient(
    start: tuple[float, float], step_size: float, num_steps: int, field: VectorField = bilinear_field
) -> torch.Tensor:
    """x steps first, then y steps at the new x: x' = x − η v_x(x, y), y' = y − η v_y(x', y). (T + 1, 2)."""
    points = [_start(start)]
    for _ in range(num_steps):
        x, y = points[-1]
        x_next = x - step_size * field(torch.stack([x, y]))[0]
        y_next = y - step_size * field(torch.stack([x_next, y]))[1]
        points.append(torch.stack([x_next, y_next]))
    return torch.stack(points)  # (T + 1, 2)


def extragradient(
    start: tuple[float, float], step_size: float, num_steps: int, field: VectorField = bilinear_field
) -> torch.Tensor:
    """Korpelevich's extragradient: 1. look ahead z̃ = z − η v(z); 2. step z' = z − η v(z̃). (T + 1, 2)."""
    points = [_start(start)]
    for _ in range(num_steps):
        z = points[-1]
        look_ahead = z - step_size * field(z)  # 1.
        points.append(z - step_size * field(look_ahead))  # 2.
    return torch.stack(points)  # (T + 1, 2)


def optimistic_gradient(
    start: tuple[float, float], step_size: float, num_steps: int, field: VectorField = bilinear_field
) -> torch.Tensor:
    """Optimistic gradient: z' = z − 2η v(z) + η v(z_previous), with z_previous = z at the start. (T + 1, 2)."""
    points = [_start(start)]
    previous_field = field(points[0])
    for _ in range(num_steps):
        z = points[-1]
        current_field = field(z)
        points.append(z - 2 * step_size * current_field + step_size * previous_field)
        previous_field = current_field
    return torch.stack(points)  # (T + 1, 2)


GRADIENT_PLAY: dict[str, Callable[..., torch.Tensor]] = {
    "simultaneous": simultaneous_gradient,
    "alternating": alternating_gradient,
    "extragradient": extragradient,
    "optimistic": optimistic_gradient,
}


def alternating_energy(trajectory: torch.Tensor, step_size: float) -> torch.Tensor:
    """Q(x, y) = x² + y² − η x y (T + 1,) along a trajectory (T + 1, 2): constant under alternating steps."""
    x, y = trajectory.unbind(dim=1)
    return x.square() + y.square() - step_size * x * y


def bilinear_game_trajectories(
    start: tuple[float, float] = (1.0, 1.0), step_size: float = 0.2, num_steps: int = 100
) -> dict[str, torch.Tensor]:
    """Every method of ``GRADIENT_PLAY`` on f(x, y) = x·y from one start: name -> (num_steps + 1, 2)."""
    return {name: play(start, step_size, num_steps) for name, play in GRADIENT_PLAY.items()}


def save_bilinear_game_plot(
    path: str | Path, start: tuple[float, float] = (1.0, 1.0), step_size: float = 0.2, num_steps: int = 100
) -> dict[str, torch.Tensor]:
    """Plot the trajectories of ``bilinear_game_trajectories`` in the (x, y) plane to a PNG at ``path``.

    Returns the trajectories, name -> (num_steps + 1, 2).
    """
    trajectories = bilinear_game_trajectories(start, step_size, num_steps)
    figure = Figure(figsize=(10, 5), dpi=100)  # no pyplot: the user's backend is left alone
    whole, zoomed = figure.subplots(1, 2)
    zoom = 1.2 * float(trajectories["alternating"].abs().max())  # the bounded orbit fills the right panel
    for axes in (whole, zoomed):
        for name, points in trajectories.items():
            axes.plot(points[:, 0].numpy(), points[:, 1].numpy(), lw=1, marker=".", ms=2, label=name)
        axes.plot([start[0]], [start[1]], "ko", ms=4, label="start")
        axes.plot([0.0], [0.0], "r*", ms=10, label="Nash equilibrium")
        axes.set_xlabel("x (minimises x·y)")
        axes.set_ylabel("y (maximises x·y)")
        axes.set_aspect("equal")
    zoomed.set_xlim(-zoom, zoom)
    zoomed.set_ylim(-zoom, zoom)
    whole.set_title(f"min_x max_y x·y: step {step_size}, {num_steps} steps")
    zoomed.set_title("near the equilibrium")
    whole.legend(loc="upper left", fontsize=7)
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return trajectories
