"""A feature network per image data set, trained in-repo, for FID, KID and precision/recall.

FID (Heusel et al. 2017) and KID (Bińkowski et al. 2018) compare generated and real images in the
feature space of a classifier; the usual one is Inception-v3 trained on ImageNet, whose weights
cannot be downloaded here and do not suit 8×8 or 28×28 grey images anyway. ``feature_net_for``
trains a small CNN classifier on a data set's training split instead, and caches it:

1. fingerprint the data: sha256 over the training and test images and labels, with this file's
   ``FEATURE_NET_VERSION``, the ``FeatureNetConfig`` and the layers of the network;
2. if the config's folder, ``cache_folder`` (``<cache>/feature-nets/<data set name>/`` for the
   default config), holds a network with that fingerprint, load it;
3. otherwise train one from ``config.seed`` (the same weights on every run of one machine), measure
   its test accuracy, and write ``model.safetensors`` + ``meta.json`` into that folder (a new
   fingerprint replaces the old network).

The cache folder is ``$DGM_CACHE`` if set, else ``$XDG_CACHE_HOME/dgm``, else ``~/.cache/dgm``.
The features are the penultimate layer, ``FeatureNet.features(x) -> (N, feature_dim)``, as
Inception's 2048-d pool features are for the standard FID.

>>> from dgm.data import load_dataset
>>> net = feature_net_for(load_dataset("digits"))  # seconds on a CPU the first time
>>> net.features(load_dataset("digits").test).shape
torch.Size([300, 128])
"""

import dataclasses
import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..core.errors import DataError
from ..data.base import Dataset
from ..nn.convnets import conv_encoder

FEATURE_NET_VERSION = 1  # raise when the architecture or the training recipe changes: every cache rebuilds


@dataclass(frozen=True)
class FeatureNetConfig:
    """The classifier and its training; part of the cache fingerprint.

    Adam steps of 128 images for ``num_epochs`` passes over the training split, at least
    ``min_steps``: 400 steps (34 epochs) for 8×8 digits, seconds; 1,407 steps for Fashion-MNIST,
    under a minute on one CPU thread.
    """

    width: int = 32  # channels of the first convolution; the second has 2·width
    feature_dim: int = 128  # the penultimate layer: the features FID/KID/precision-recall compare
    num_epochs: int = 3
    min_steps: int = 400
    batch_size: int = 128
    learning_rate: float = 1e-3
    seed: int = 0


class FeatureNet(nn.Module):
    """``dgm.nn.convnets.conv_encoder`` (two stride-2 4×4 convolutions, a linear layer) and a ReLU
    give the features; a linear layer on them classifies.

    (B, C, H, W) -> (B, width, H/2, W/2) -> (B, 2width, H/4, W/4) -> (B, feature_dim) -> (B, K).
    """

    def __init__(self, shape: tuple[int, int, int], num_classes: int, config: FeatureNetConfig = FeatureNetConfig()):
        super().__init__()
        if len(shape) != 3 or shape[1] % 4 or shape[2] % 4:
            raise DataError(f"a feature network needs images (C, H, W) with H, W divisible by 4, got shape {shape}")
        self.shape = tuple(shape)
        self.body = nn.Sequential(conv_encoder(self.shape, config.feature_dim, config.width), nn.ReLU())  # (B, F)
        self.classifier = nn.Linear(config.feature_dim, num_classes)  # (B, K)
        self.test_accuracy = float("nan")  # set by feature_net_for
        self.loaded_from_cache = False  # set by feature_net_for
        self.fingerprint = ""  # set by feature_net_for

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, K) of images (B, C, H, W) in [0, 1]."""
        return self.classifier(self.body(x - 0.5))

    @torch.no_grad()
    def features(self, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """Penultimate-layer features (N, feature_dim) of images (N, C, H, W) in [0, 1], on ``x``'s device."""
        if x.dim() != 4 or tuple(x.shape[1:]) != self.shape:
            raise DataError(f"expected images of shape (N, {', '.join(map(str, self.shape))}), got {tuple(x.shape)}")
        device = next(self.parameters()).device  # no batch norm or dropout: train and eval modes agree
        chunks = [self.body(chunk.to(device).float() - 0.5).to(x.device) for chunk in x.split(batch_size)]
        return torch.cat(chunks)  # (N, feature_dim)

    @torch.no_grad()
    def accuracy(self, x: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
        """The fraction of images (N, C, H, W) whose most probable class is ``labels`` (N,)."""
        device = next(self.parameters()).device
        correct = sum(
            int((self(chunk.to(device).float()).argmax(dim=1).cpu() == target.cpu()).sum())
            for chunk, target in zip(x.split(batch_size), labels.split(batch_size), strict=True)
        )
        return correct / len(x)


def cache_root() -> Path:
    """The user's dgm cache folder: ``$DGM_CACHE``, else ``$XDG_CACHE_HOME/dgm``, else ``~/.cache/dgm``."""
    if os.environ.get("DGM_CACHE"):
        return Path(os.environ["DGM_CACHE"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "dgm"
    return Path.home() / ".cache" / "dgm"


def cache_folder(name: str, config: FeatureNetConfig = FeatureNetConfig()) -> Path:
    """Where the feature network of data set ``name`` is cached: ``<cache>/feature-nets/<name>`` for the default
    config, ``<name>-<8 hex digits of the config>`` for another, so that networks of two configs do not evict
    each other (within one folder a new fingerprint replaces the old network)."""
    if config == FeatureNetConfig():
        return cache_root() / "feature-nets" / name
    digest = hashlib.sha256(json.dumps(dataclasses.asdict(config), sort_keys=True).encode()).hexdigest()[:8]
    return cache_root() / "feature-nets" / f"{name}-{digest}"


def data_fingerprint(dataset: Dataset, config: FeatureNetConfig = FeatureNetConfig()) -> str:
    """sha256 (hex, 16 digits) of the images, labels, ``FEATURE_NET_VERSION``, ``config`` and the
    architecture (the network's printed layers)."""
    digest = hashlib.sha256()
    with torch.device("meta"):  # no memory, no draw from the global generator
        architecture = repr(FeatureNet(dataset.shape, int(dataset.train_labels.max()) + 1, config))
    recipe = {"version": FEATURE_NET_VERSION, "config": dataclasses.asdict(config), "architecture": architecture}
    digest.update(json.dumps(recipe, sort_keys=True).encode())
    for tensor in (dataset.train, dataset.train_labels, dataset.test, dataset.test_labels):
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().cpu().contiguous().numpy())  # the buffer itself, no copy
    return digest.hexdigest()[:16]


def train_feature_net(
    dataset: Dataset, config: FeatureNetConfig = FeatureNetConfig(), device: torch.device | str = "cpu"
) -> FeatureNet:
    """A classifier fitted to ``dataset.train`` by Adam on the cross-entropy, from ``config.seed``."""
    num_classes = int(dataset.train_labels.max()) + 1
    with torch.random.fork_rng(devices=[]):  # the initial weights come from config.seed; global state untouched
        torch.manual_seed(config.seed)
        network = FeatureNet(dataset.shape, num_classes, config).to(device)
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.Adam(network.parameters(), lr=config.learning_rate)
    images, labels = dataset.train, dataset.train_labels
    order, position = torch.randperm(len(images), generator=generator), 0
    num_steps = max(config.min_steps, math.ceil(config.num_epochs * len(images) / config.batch_size))
    network.train()
    for _ in range(num_steps):
        if position + config.batch_size > len(images):  # a new epoch in a new order
            order, position = torch.randperm(len(images), generator=generator), 0
        batch = order[position : position + config.batch_size]  # (B,)
        position += config.batch_size
        logits = network(images[batch].to(device))  # (B, K)
        loss = nn.functional.cross_entropy(logits, labels[batch].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    network.eval()
    return network


def feature_net_for(
    dataset: Dataset,
    config: FeatureNetConfig = FeatureNetConfig(),
    device: torch.device | str = "cpu",
) -> FeatureNet:
    """The cached feature network of an image ``dataset`` with class labels, trained if missing or stale.

    The returned network is in eval mode and carries ``test_accuracy`` (on ``dataset.test``),
    ``fingerprint`` and ``loaded_from_cache``.
    """
    if dataset.kind != "image" or dataset.train_labels is None or dataset.test_labels is None:
        raise DataError(
            f"a feature network needs an image data set with class labels, got {dataset.name!r} "
            f"(kind {dataset.kind!r}, labels {'present' if dataset.train_labels is not None else 'absent'})"
        )
    # 1. fingerprint
    fingerprint = data_fingerprint(dataset, config)
    folder = cache_folder(dataset.name, config)
    num_classes = int(dataset.train_labels.max()) + 1
    # 2. load when the cached network has this fingerprint
    network = _load(folder, fingerprint, dataset.shape, num_classes, config)
    if network is not None:
        network.to(device)
        network.loaded_from_cache = True
        return network
    # 3. train, measure, store
    started = time.perf_counter()
    network = train_feature_net(dataset, config, device)
    seconds = time.perf_counter() - started
    network.test_accuracy = network.accuracy(dataset.test, dataset.test_labels)
    network.fingerprint = fingerprint
    meta = {
        "fingerprint": fingerprint,
        "version": FEATURE_NET_VERSION,
        "data_set": dataset.name,
        "shape": list(dataset.shape),
        "num_classes": num_classes,
        "config": dataclasses.asdict(config),
        "test_accuracy": network.test_accuracy,
        "train_seconds": seconds,
        "torch_threads": torch.get_num_threads(),
    }
    _store(folder, network, meta)
    return network


def _load(
    folder: Path, fingerprint: str, shape: tuple[int, ...], num_classes: int, config: FeatureNetConfig
) -> FeatureNet | None:
    """The network in ``folder`` if its ``meta.json`` has ``fingerprint``; None when missing, stale or corrupt."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("fingerprint") != fingerprint:
            return None
        state = load_file(folder / "model.safetensors")
        network = FeatureNet(shape, num_classes, config)
        network.load_state_dict(state)
        network.test_accuracy = float(meta["test_accuracy"])
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError):
        return None
    network.eval()
    network.fingerprint = fingerprint
    return network


def _store(folder: Path, network: FeatureNet, meta: dict) -> None:
    """Write ``model.safetensors`` and ``meta.json`` into a sibling temporary folder, then swap it in."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    state = {key: value.detach().cpu().contiguous() for key, value in network.state_dict().items()}
    save_file(state, tmp / "model.safetensors")
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    if folder.exists():
        shutil.rmtree(folder, ignore_errors=True)
    try:
        tmp.rename(folder)
    except OSError:  # another process stored its network first; both were trained from one recipe
        shutil.rmtree(tmp, ignore_errors=True)
