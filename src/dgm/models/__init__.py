"""THE catalogue of models: one table, name -> where the model lives, its family and its paper.

Modules are imported only when a model is used, so ``dgm list`` stays instant as the table grows.

>>> from dgm.models import build_model
>>> model = build_model("vae", {"latent_dim": 4}, data_shape=(1, 8, 8))
"""

import importlib
from dataclasses import dataclass
from typing import Any

from ..core.config import config_from_dict, parse_overrides
from ..core.errors import DataError, UnknownNameError


@dataclass(frozen=True)
class CatalogueEntry:
    name: str
    module: str  # relative to dgm.models
    class_name: str
    config_name: str
    family: str  # "autoregressive", "latent", "adversarial"
    paper: str

    def load(self) -> tuple[type, type]:
        """(model class, Config class)."""
        module = importlib.import_module(f"dgm.models.{self.module}")
        return getattr(module, self.class_name), getattr(module, self.config_name)


CATALOGUE: dict[str, CatalogueEntry] = {
    entry.name: entry
    for entry in [
        CatalogueEntry(
            "nade", "autoregressive.nade", "NADE", "NADEConfig", "autoregressive",
            "Larochelle & Murray 2011, The Neural Autoregressive Distribution Estimator",
        ),
        CatalogueEntry(
            "deep-nade", "autoregressive.deep_nade", "DeepNADE", "DeepNADEConfig", "autoregressive",
            "Uria, Murray & Larochelle 2014, A Deep and Tractable Density Estimator",
        ),
        CatalogueEntry(
            "made", "autoregressive.made", "MADE", "MADEConfig", "autoregressive",
            "Germain, Gregor, Murray & Larochelle 2015, MADE: Masked Autoencoder for Distribution Estimation",
        ),
        CatalogueEntry(
            "pixelcnn", "autoregressive.pixelcnn", "PixelCNN", "PixelCNNConfig", "autoregressive",
            "van den Oord, Kalchbrenner & Kavukcuoglu 2016, Pixel Recurrent Neural Networks",
        ),
        CatalogueEntry(
            "gated-pixelcnn", "autoregressive.gated_pixelcnn", "GatedPixelCNN", "GatedPixelCNNConfig",
            "autoregressive",
            "van den Oord et al. 2016, Conditional Image Generation with PixelCNN Decoders",
        ),
        CatalogueEntry(
            "pixelrnn", "autoregressive.pixelrnn", "PixelRNN", "PixelRNNConfig", "autoregressive",
            "van den Oord, Kalchbrenner & Kavukcuoglu 2016, Pixel Recurrent Neural Networks",
        ),
        CatalogueEntry(
            "vpn", "autoregressive.vpn", "VideoPixelNetwork", "VideoPixelNetworkConfig", "autoregressive",
            "Kalchbrenner et al. 2017, Video Pixel Networks",
        ),
        CatalogueEntry(
            "char-rnn", "autoregressive.char_rnn", "CharRNN", "CharRNNConfig", "autoregressive",
            "Graves 2013, Generating Sequences With Recurrent Neural Networks; "
            "Karpathy 2015, The Unreasonable Effectiveness of Recurrent Neural Networks",
        ),
        CatalogueEntry(
            "handwriting", "autoregressive.handwriting", "Handwriting", "HandwritingConfig", "autoregressive",
            "Graves 2013, Generating Sequences With Recurrent Neural Networks",
        ),
        CatalogueEntry(
            "wavenet", "autoregressive.wavenet", "WaveNet", "WaveNetConfig", "autoregressive",
            "van den Oord et al. 2016, WaveNet: A Generative Model for Raw Audio",
        ),
        CatalogueEntry(
            "autoencoder", "latent.autoencoder", "Autoencoder", "AutoencoderConfig", "latent",
            "Hinton & Salakhutdinov 2006, Reducing the Dimensionality of Data with Neural Networks; "
            "Rippel, Gelbart & Adams 2014, Learning Ordered Representations with Nested Dropout",
        ),
        CatalogueEntry(
            "vae", "latent.vae", "VAE", "VAEConfig", "latent",
            "Kingma & Welling 2014, Auto-Encoding Variational Bayes",
        ),
        CatalogueEntry(
            "infinite-vae", "latent.infinite_vae", "InfiniteVAE", "InfiniteVAEConfig", "latent",
            "Abbasnejad, Dick & van den Hengel 2017, Infinite Variational Autoencoder for Semi-Supervised Learning",
        ),
        CatalogueEntry(
            "m2", "latent.semi_supervised", "M2", "M2Config", "semi-supervised",
            "Kingma, Rezende, Mohamed & Welling 2014, Semi-Supervised Learning with Deep Generative Models",
        ),
        CatalogueEntry(
            "m1m2", "latent.semi_supervised", "M2", "M1M2Config", "semi-supervised",
            "Kingma, Rezende, Mohamed & Welling 2014, Semi-Supervised Learning with Deep Generative Models",
        ),
        CatalogueEntry(
            "iwae", "latent.iwae", "IWAE", "IWAEConfig", "latent",
            "Burda, Grosse & Salakhutdinov 2016, Importance Weighted Autoencoders",
        ),
        CatalogueEntry(
            "pixelvae", "latent.pixelvae", "PixelVAE", "PixelVAEConfig", "latent",
            "Gulrajani et al. 2017, PixelVAE: A Latent Variable Model for Natural Images",
        ),
        CatalogueEntry(
            "iaf", "latent.iaf", "IAF", "IAFConfig", "latent",
            "Kingma et al. 2016, Improved Variational Inference with Inverse Autoregressive Flow",
        ),
        CatalogueEntry(
            "gan", "adversarial.gan", "GAN", "GANConfig", "adversarial",
            "Goodfellow et al. 2014, Generative Adversarial Nets",
        ),
        CatalogueEntry(
            "dcgan", "adversarial.gan", "DCGAN", "DCGANConfig", "adversarial",
            "Radford, Metz & Chintala 2016, Unsupervised Representation Learning with Deep Convolutional GANs",
        ),
    ]
}  # fmt: skip


def get_entry(name: str) -> CatalogueEntry:
    if name not in CATALOGUE:
        raise UnknownNameError(f"unknown model {name!r}; expected one of: {', '.join(sorted(CATALOGUE))}")
    return CATALOGUE[name]


def make_config(name: str, overrides: list[str] | dict[str, Any]) -> Any:
    """The model's Config from ``key=value`` strings (CLI) or a dict (config.json)."""
    _, config_cls = get_entry(name).load()
    if isinstance(overrides, dict):
        return config_from_dict(config_cls, overrides)
    return parse_overrides(config_cls, overrides)


def check_data_kind(name: str, kind: str) -> None:
    """Fail early when a model cannot train on this kind of data ("image", "points", "audio"...)."""
    model_cls, _ = get_entry(name).load()
    if kind not in model_cls.data_kinds:
        raise DataError(f"model {name!r} expects {' or '.join(model_cls.data_kinds)} data, got {kind} data")


def build_model(name: str, config: Any, data_shape: tuple[int, ...], data_info: dict[str, Any] | None = None) -> Any:
    """Instantiate model ``name`` for examples of shape ``data_shape`` (a Config or a dict of overrides).

    ``data_info`` is the data set's ``info`` (sample rate, alphabet...), for models that need it.
    """
    model_cls, config_cls = get_entry(name).load()
    if not isinstance(config, config_cls):
        config = make_config(name, config)
    return model_cls(config, tuple(data_shape), dict(data_info or {}))
