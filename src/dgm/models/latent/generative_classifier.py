"""A generative classifier: a class-conditional mixture of Bernoullis and Bayes' rule.

p(y|x) = p(x|y) p(y) / Σ_y' p(x|y') p(y') (Bayes' rule), with one density model per class,
p(x|y) = Σ_m π_ym Π_d μ_ymd^x_d (1 − μ_ymd)^(1 − x_d) over binary pixels, fitted by EM (Dempster,
Laird & Rubin 1977) on each class's labelled examples, with Beta(a, a) pseudo-counts so that a
class seen once still gives every pixel a probability strictly inside (0, 1). With one component
it is naive Bayes, the generative half of the pair that Ng & Jordan (2002, "On Discriminative vs.
Generative Classifiers: A comparison of logistic regression and naive Bayes") compare with
logistic regression: exactly as many parameters, a higher asymptotic error, but a faster approach
to it as labels become few. ``dgm.eval.classification`` draws that learning curve.

Why a Bernoulli mixture rather than a class-conditional VAE: with 1–10 labelled examples per class
a neural density model has nothing to fit, while EM on a mixture is exact in closed form, so the
comparison measures the generative/discriminative split and not an optimiser.

Example::

    classifier = BernoulliMixtureClassifier.fit(binary_images.flatten(1), labels, num_classes=10)
    predicted = classifier.posterior(test_images.flatten(1)).argmax(dim=1)  # (B,)
"""

import torch
from torch import nn

from ...core.errors import DataError


class BernoulliMixtureClassifier(nn.Module):
    """p(x|y) a mixture of ``M`` product-Bernoullis per class, p(y) the smoothed label frequencies."""

    def __init__(self, log_class_prior: torch.Tensor, log_weights: torch.Tensor, probs: torch.Tensor) -> None:
        """``log_class_prior`` (K,), ``log_weights`` (K, M) and ``probs`` (K, M, D) in (0, 1)."""
        super().__init__()
        self.register_buffer("log_class_prior", log_class_prior)
        self.register_buffer("log_weights", log_weights)
        self.register_buffer("probs", probs)

    @classmethod
    def fit(
        cls,
        x: torch.Tensor,
        labels: torch.Tensor,
        num_classes: int,
        num_components: int = 1,
        pseudo_count: float = 1.0,
        num_iterations: int = 50,
        generator: torch.Generator | None = None,
    ) -> "BernoulliMixtureClassifier":
        """EM on each class's rows of ``x`` (N, D) in {0, 1}, ``labels`` (N,); every class needs an example.

        ``pseudo_count`` a: the Beta(a, a) prior on each μ and the Dirichlet(a) prior on p(y).
        Responsibilities start uniformly at random from ``generator``.
        """
        x = x.double()
        log_weights, probs = [], []
        for label in range(num_classes):
            rows = x[labels == label]  # (n, D)
            if len(rows) == 0:
                raise DataError(f"expected at least one labelled example of every class, got none of class {label}")
            responsibilities = torch.rand(len(rows), num_components, generator=generator, dtype=x.dtype)  # (n, M)
            responsibilities = responsibilities / responsibilities.sum(dim=1, keepdim=True)
            for _ in range(num_iterations if num_components > 1 else 1):
                # 1. M-step: weighted pixel frequencies with Beta(a, a) pseudo-counts, and mixture weights.
                counts = responsibilities.sum(dim=0)  # (M,)
                mu = (responsibilities.T @ rows + pseudo_count) / (counts[:, None] + 2 * pseudo_count)  # (M, D)
                log_pi = ((counts + pseudo_count) / (len(rows) + num_components * pseudo_count)).log()  # (M,)
                # 2. E-step: responsibilities p(m | x, y) ∝ π_m p(x | m, y).
                log_joint = log_pi + rows @ mu.log().T + (1 - rows) @ (1 - mu).log().T  # (n, M)
                responsibilities = log_joint.softmax(dim=1)
            log_weights.append(log_pi)
            probs.append(mu)
        class_counts = torch.bincount(labels, minlength=num_classes).double()  # (K,)
        log_class_prior = ((class_counts + pseudo_count) / (len(labels) + num_classes * pseudo_count)).log()
        return cls(log_class_prior, torch.stack(log_weights), torch.stack(probs))

    def class_log_likelihood(self, x: torch.Tensor) -> torch.Tensor:
        """(B, D) binary -> (B, K) exact log p(x|y) in nats for every class y."""
        x = x.to(self.probs.dtype)
        log_on, log_off = self.probs.log(), (1 - self.probs).log()  # (K, M, D) each
        per_component = torch.einsum("bd,kmd->bkm", x, log_on) + torch.einsum("bd,kmd->bkm", 1 - x, log_off)
        return torch.logsumexp(per_component + self.log_weights, dim=2)  # (B, K)

    def posterior(self, x: torch.Tensor) -> torch.Tensor:
        """(B, D) binary -> (B, K) p(y|x) by Bayes' rule, each row summing to 1."""
        return (self.class_log_likelihood(x) + self.log_class_prior).softmax(dim=1)
