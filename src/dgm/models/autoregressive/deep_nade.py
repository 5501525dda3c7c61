"""Deep order-agnostic NADE (Uria, Murray & Larochelle 2014, "A Deep and Tractable Density
Estimator", ICML; also Uria, Côté, Gregor, Murray & Larochelle 2016, "Neural Autoregressive
Distribution Estimation", JMLR, §4).

An image of shape (C, H, W) is flattened to D binary pixels. One ReLU MLP serves every ordering o
of the pixels at once: it reads the observed pixels x ⊙ m together with the mask m (1 = observed)
and outputs D Bernoulli logits, where output k ∉ observed is p(x_k | x_observed). For any fixed
ordering o this gives an exactly normalised autoregressive model

    log p_o(x) = Σ_d log p(x_{o_d} | x_{o_<d})                                     (2014, eq. 1)

1. Conditionals: logits = MLP([x ⊙ m, m]); the mask zeroes the unobserved inputs, so a conditional
   never sees the pixels it predicts (``conditional_logits``).
2. Order-agnostic training (2014 §3, the unbiased estimator of J_OA; 2016 §4): for each example
   draw an ordering o and a split point d uniformly in 0..D−1 (d pixels observed: o_<d), and
   minimise the one-pass estimate of −log p_o(x) averaged over orderings,

       D / (D − d) · Σ_{k ∈ o_≥d} −log p(x_k | x_{o_<d}),

   which scores all D − d unobserved pixels at once; with 1-based d, as in the paper, the factor
   reads D / (D − d + 1). Its expectation over d and o is E_o[−log p_o(x)] exactly
   (``order_agnostic_loss``; tests/test_deep_nade.py enumerates it).
3. Exact likelihood for one ordering: D passes, the d-th with o_<d observed, batched as a
   (D·B, 2D) pass in chunks (``log_prob_in_order``).
4. Ensemble (2014 §3, "ensembles of NADE models"): ``num_orderings`` fixed orderings, the first the
   raster order and the others random permutations from ``ordering_seed``; log p(x) =
   log (1/K) Σ_k p_{o_k}(x), an equal mixture of exactly normalised models, so exact too.
5. Sampling: each sample picks one of the K orderings uniformly, then draws its pixels in that
   order (D passes).

Example::

    model = DeepNADE(DeepNADEConfig(), data_shape=(1, 8, 8))
    nll_nats = -model.log_prob(binary_images).mean()
    images = model.sample(16, generator=torch.Generator().manual_seed(0))  # (16, 1, 8, 8) in {0, 1}
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...core.config import check
from ...core.errors import DataError
from ...core.protocols import Backward


@dataclass(frozen=True)
class DeepNADEConfig:
    hidden_dim: int = 256  # width of every hidden layer
    num_hidden_layers: int = 2
    num_orderings: int = 4  # K: orderings of the test-time ensemble
    ordering_seed: int = 0  # the orderings are a fixed function of this seed
    batch_size: int = 64
    learning_rate: float = 1e-3
    max_rows_per_pass: int = 16384  # log_prob runs its D·B network rows in chunks of at most this many

    def __post_init__(self) -> None:
        check(self.hidden_dim >= 1, f"hidden_dim must be >= 1, got {self.hidden_dim}")
        check(self.num_hidden_layers >= 1, f"num_hidden_layers must be >= 1, got {self.num_hidden_layers}")
        check(self.num_orderings >= 1, f"num_orderings must be >= 1, got {self.num_orderings}")
        check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        check(self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}")
        check(self.max_rows_per_pass >= 1, f"max_rows_per_pass must be >= 1, got {self.max_rows_per_pass}")


class DeepNADE(nn.Module):
    """One MLP trained for every ordering of D binary pixels; an exact ensemble over K of them."""

    data_kinds = ("image",)

    def __init__(self, config: DeepNADEConfig, data_shape: tuple[int, ...], data_info: dict | None = None) -> None:
        super().__init__()
        if len(data_shape) != 3:
            raise DataError(f"DeepNADE models images (C, H, W), got data shape {data_shape}")
        self.config = config
        self.data_shape = data_shape
        self.num_pixels = math.prod(data_shape)
        self.batch_size = config.batch_size
        self.binarize_data = True  # every conditional is a Bernoulli
        layers: list[nn.Module] = []
        width = 2 * self.num_pixels  # [x ⊙ m, m]
        for _ in range(config.num_hidden_layers):
            layers += [nn.Linear(width, config.hidden_dim), nn.ReLU()]
            width = config.hidden_dim
        layers.append(nn.Linear(width, self.num_pixels))
        self.network = nn.Sequential(*layers)
        # 4. orderings[k, d] = the pixel drawn d-th under ordering k; ordering 0 is the raster order.
        generator = torch.Generator().manual_seed(config.ordering_seed)
        orderings = [torch.arange(self.num_pixels)]
        orderings += [torch.randperm(self.num_pixels, generator=generator) for _ in range(config.num_orderings - 1)]
        self.register_buffer("orderings", torch.stack(orderings))  # (K, D)

    def _pixels(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != self.data_shape:
            raise DataError(f"DeepNADE expects inputs of shape (B, *{self.data_shape}), got {tuple(x.shape)}")
        return x.flatten(1)  # (B, D)

    def _logits(self, pixels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(..., D) pixels and 0/1 mask, broadcastable -> (..., D) logits: step 1 on flat tensors."""
        masked = pixels * mask  # (..., D): x ⊙ m
        return self.network(torch.cat([masked, mask.expand_as(masked)], dim=-1))  # (..., 2D) -> (..., D)

    def conditional_logits(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) inputs and (B, C, H, W) mask -> (B, D) logits (step 1).

        ``mask`` is 1 on observed pixels and 0 elsewhere. For an unobserved pixel k the output is the
        logit of p(x_k = 1 | x_observed); outputs at observed pixels are not conditionals. ``x`` is
        used as given, not rounded, so the logits are differentiable in x, and they do not depend on
        x at unobserved pixels because the mask multiplies them by zero.
        """
        if mask.shape != x.shape:
            raise DataError(f"mask must have the inputs' shape {tuple(x.shape)}, got {tuple(mask.shape)}")
        return self._logits(self._pixels(x), mask.flatten(1).to(x.dtype))  # (B, D)

    def draw_observed_mask(self, batch_size: int, device: torch.device | None = None) -> torch.Tensor:
        """-> (B, D) 0/1 masks of o_<d for a random ordering o and d ~ Uniform{0, …, D−1} (step 2).

        Uses the global RNG, which the training loop seeds and checkpoints.
        """
        dtype = self.network[0].weight.dtype
        num_observed = torch.randint(self.num_pixels, (batch_size, 1), device=device)  # (B, 1): d
        # The rank of each pixel under a uniformly random ordering: argsort of i.i.d. uniforms, twice.
        ranks = torch.rand(batch_size, self.num_pixels, device=device).argsort(dim=1).argsort(dim=1)  # (B, D)
        return (ranks < num_observed).to(dtype)  # (B, D): the d pixels that come first

    def order_agnostic_loss(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in {0, 1} and (B, D) mask of o_<d -> (B,) the step-2 estimate of −log p_o(x).

        D / (D − d) · Σ_{k unobserved} −log p(x_k | x_observed), with d = the number of observed pixels.
        """
        pixels = self._pixels(x).round()  # (B, D) in {0, 1}
        unobserved = 1 - mask  # (B, D)
        nll_per_pixel = F.binary_cross_entropy_with_logits(self._logits(pixels, mask), pixels, reduction="none")
        num_unobserved = unobserved.sum(dim=1)  # (B,): D − d >= 1
        return self.num_pixels / num_unobserved * (nll_per_pixel * unobserved).sum(dim=1)  # (B,)

    def log_prob_in_order(self, x: torch.Tensor, ordering: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) and (D,) ordering (pixel indices in drawing order) -> (B,) exact log p_o(x) (step 3).

        x is rounded to {0, 1} first.
        """
        pixels = self._pixels(x).round().clamp(0, 1)  # (B, D)
        batch, num_pixels = pixels.shape
        ranks = torch.argsort(ordering)  # (D,): ranks[i] = step at which pixel i is drawn
        steps_per_chunk = max(1, self.config.max_rows_per_pass // max(batch, 1))
        log_prob = pixels.new_zeros(batch)  # (B,)
        for start in range(0, num_pixels, steps_per_chunk):
            steps = torch.arange(start, min(start + steps_per_chunk, num_pixels), device=pixels.device)  # (S,)
            masks = (ranks[None, :] < steps[:, None]).to(pixels.dtype)  # (S, D): o_<d observed at step d
            logits = self._logits(pixels[None], masks[:, None, :])  # (S, B, D)
            drawn = ordering[steps]  # (S,): o_d
            logit_drawn = logits[torch.arange(len(steps), device=pixels.device), :, drawn]  # (S, B)
            target = pixels[:, drawn].T  # (S, B): x_{o_d}
            log_prob -= F.binary_cross_entropy_with_logits(logit_drawn, target, reduction="none").sum(dim=0)
        return log_prob  # (B,)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [0, 1] -> (B,) exact log p(x) in nats of the K-ordering ensemble (step 4)."""
        per_ordering = torch.stack([self.log_prob_in_order(x, ordering) for ordering in self.orderings])  # (K, B)
        return torch.logsumexp(per_ordering, dim=0) - math.log(len(self.orderings))  # (B,)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """-> (n, C, H, W) in {0, 1}: i.i.d. draws of the ensemble (step 5)."""
        weight = self.network[0].weight
        choice = torch.randint(len(self.orderings), (n,), generator=generator, device=self.orderings.device)  # (n,)
        orderings = self.orderings[choice]  # (n, D): each sample's drawing order
        rows = torch.arange(n, device=weight.device)  # (n,)
        pixels = torch.zeros(n, self.num_pixels, device=weight.device, dtype=weight.dtype)  # (n, D)
        mask = torch.zeros_like(pixels)  # (n, D)
        for d in range(self.num_pixels):
            drawn = orderings[:, d]  # (n,): o_d for each sample
            logit = self._logits(pixels, mask)[rows, drawn]  # (n,)
            pixels[rows, drawn] = torch.bernoulli(torch.sigmoid(logit), generator=generator)
            mask[rows, drawn] = 1
        return pixels.view(n, *self.data_shape)  # (n, C, H, W)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": torch.optim.Adam(self.parameters(), lr=self.config.learning_rate)}

    def train_step(self, batch: torch.Tensor, optimizers: dict, backward: Backward) -> dict[str, float]:
        """One Adam step on the mean order-agnostic loss (step 2), an unbiased estimate of the NLL in nats."""
        optimizer = optimizers["adam"]
        optimizer.zero_grad()
        mask = self.draw_observed_mask(len(batch), device=batch.device)  # (B, D)
        loss = self.order_agnostic_loss(batch, mask).mean()
        backward(loss)
        optimizer.step()
        return {"loss": loss.item()}
