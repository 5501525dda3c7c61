"""Classification from few labels: a balanced labelled subset, and the learning curve of a
generative classifier against a discriminative one of the same size (Ng & Jordan 2002, "On
Discriminative vs. Generative Classifiers").

The pair: naive Bayes over binary pixels (``BernoulliMixtureClassifier`` with one component,
K·D Bernoulli means + K priors) and multinomial logistic regression on the same pixels (K·D weights
+ K biases, scikit-learn's L2-regularised fit). Both see the same balanced labelled subsets.

>>> from dgm.data import binarize_static, load_dataset
>>> digits = load_dataset("digits")
>>> rows = generative_vs_discriminative_curve(
...     binarize_static(digits.train).flatten(1), digits.train_labels,
...     binarize_static(digits.test).flatten(1), digits.test_labels, labels_per_class=(1, 10))
>>> [row["labels_per_class"] for row in rows]
[1, 10]
"""

import torch
from sklearn.linear_model import LogisticRegression

from ..core.errors import DataError
from ..models.latent.generative_classifier import BernoulliMixtureClassifier


def balanced_subset(labels: torch.Tensor, per_class: int, generator: torch.Generator) -> torch.Tensor:
    """Indices (per_class · K,) of ``per_class`` examples of each class in ``labels`` (N,), drawn with ``generator``."""
    classes = labels.unique()
    chosen = []
    for label in classes.tolist():
        members = (labels == label).nonzero()[:, 0]  # (n_c,)
        if len(members) < per_class:
            raise DataError(f"expected {per_class} labelled examples of class {label}, got only {len(members)}")
        chosen.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    return torch.cat(chosen)


def error_rate(predicted: torch.Tensor, labels: torch.Tensor) -> float:
    return (predicted.cpu() != labels.cpu()).double().mean().item()


def generative_vs_discriminative_curve(
    train_x: torch.Tensor,
    train_labels: torch.Tensor,
    test_x: torch.Tensor,
    test_labels: torch.Tensor,
    labels_per_class: tuple[int, ...] = (1, 2, 5, 10, 20, 50),
    num_repeats: int = 5,
    num_components: int = 1,
    seed: int = 0,
) -> list[dict[str, float]]:
    """Test error of both classifiers against the number of labels per class.

    ``train_x`` (N, D) and ``test_x`` (M, D) in {0, 1}; labels (N,), (M,). For each count, both are
    fitted on the same ``num_repeats`` balanced subsets (drawn from ``seed``); a row holds the mean
    and the standard deviation over the repeats of each test error.
    """
    generator = torch.Generator().manual_seed(seed)
    num_classes = int(train_labels.max()) + 1
    rows = []
    for per_class in labels_per_class:
        generative, discriminative = [], []
        for _ in range(num_repeats):
            chosen = balanced_subset(train_labels, per_class, generator)  # (per_class · K,)
            x, y = train_x[chosen], train_labels[chosen]
            bayes = BernoulliMixtureClassifier.fit(x, y, num_classes, num_components, generator=generator)
            generative.append(error_rate(bayes.posterior(test_x).argmax(dim=1), test_labels))
            logistic = LogisticRegression(max_iter=2000).fit(x.double().numpy(), y.numpy())
            discriminative.append(error_rate(torch.from_numpy(logistic.predict(test_x.double().numpy())), test_labels))
        generative_errors, discriminative_errors = torch.tensor(generative), torch.tensor(discriminative)
        rows.append(
            {
                "labels_per_class": per_class,
                "generative_test_error": generative_errors.mean().item(),
                "generative_test_error_std": generative_errors.std().item() if num_repeats > 1 else 0.0,
                "discriminative_test_error": discriminative_errors.mean().item(),
                "discriminative_test_error_std": discriminative_errors.std().item() if num_repeats > 1 else 0.0,
            }
        )
    return rows
