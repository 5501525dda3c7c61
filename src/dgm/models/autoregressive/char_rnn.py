"""Character-level LSTM language model (Graves 2013, "Generating Sequences With Recurrent Neural
Networks", §2–3; Karpathy 2015, "The Unreasonable Effectiveness of Recurrent Neural Networks").

p(x_1, …, x_T) = Π_t p(x_t | x_<t) (Graves eq. 1–2): characters are embedded, a stack of LSTM layers
(eqs. 7–11) reads them, and a softmax over the alphabet (eq. 5) gives the next character.

1. Inputs are the text shifted right by one behind a learned start symbol: the network reads
   (start, x_1, …, x_{T−1}) and at step t predicts x_t, so p(x_1) is the start symbol's softmax and
   every conditional sees only earlier characters. Each factor is a normalised softmax, so the
   model is a distribution over all Vᵀ strings of length T.
2. Training maximises log p(x) of each chunk by teacher forcing with Adam, the gradient's global
   norm clipped (Graves §2 clips derivatives; Karpathy clips at 5) and the step size halved every
   ``learning_rate_half_life`` steps down to ``final_learning_rate`` (a schedule by step count, so
   it suits any time budget). Chunks are independent examples that each start from the start symbol
   and a zero state, so truncated backpropagation through time across chunks is not needed: every
   gradient is exact for its chunk.
3. Sampling runs the LSTM one character at a time, carrying its state: an optional prompt is fed
   first, then characters are drawn from softmax(logits / temperature) (temperature 0: argmax).

The alphabet is the data set's ``info["alphabet"]`` (newline and printable ASCII when absent).
The defaults suit a five-minute CPU run on ``shakespeare`` (``dgm train char-rnn --data shakespeare
--max-time 300``: about 2.16 bits per character on the held-out plays; with ``--precision bf16-mixed
--set hidden_dim=512 --set learning_rate=5e-3 --set final_learning_rate=5e-4`` about 2.09).

Example::

    model = CharRNN(CharRNNConfig(), data_shape=(128,), data_info={"alphabet": alphabet})
    bits_per_char = -model.log_prob(chunks).mean() / (128 * math.log(2))
    text = model.sample(4, prompt="ROMEO.\\n", length=200, temperature=0.8)  # (4, 200) indices
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...core.config import check
from ...core.errors import ConfigError, DataError
from ...core.protocols import Backward
from ...data.text import PRINTABLE_ASCII
from ...nn.schedule import halving_learning_rate, set_learning_rate


@dataclass(frozen=True)
class CharRNNConfig:
    embedding_dim: int = 64
    hidden_dim: int = 256
    num_layers: int = 1
    dropout: float = 0.0  # between LSTM layers (Zaremba et al. 2014); needs num_layers >= 2
    batch_size: int = 64
    learning_rate: float = 1e-2
    learning_rate_half_life: int = 300  # steps over which the learning rate halves; 0 keeps it constant
    final_learning_rate: float = 1e-3  # the decay stops here (or at learning_rate, if that is lower)
    max_grad_norm: float = 5.0  # global gradient-norm clipping, as Karpathy's char-rnn
    sample_temperature: float = 1.0  # default for sample(); 0 picks the most likely character

    def __post_init__(self) -> None:
        check(self.embedding_dim >= 1, f"embedding_dim must be >= 1, got {self.embedding_dim}")
        check(self.hidden_dim >= 1, f"hidden_dim must be >= 1, got {self.hidden_dim}")
        check(self.num_layers >= 1, f"num_layers must be >= 1, got {self.num_layers}")
        check(0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}")
        check(self.dropout == 0 or self.num_layers >= 2, "dropout acts between LSTM layers: it needs num_layers >= 2")
        check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        check(self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}")
        check(
            self.learning_rate_half_life >= 0,
            f"learning_rate_half_life must be >= 0, got {self.learning_rate_half_life}",
        )
        check(self.final_learning_rate >= 0, f"final_learning_rate must be >= 0, got {self.final_learning_rate}")
        check(self.max_grad_norm > 0, f"max_grad_norm must be > 0, got {self.max_grad_norm}")
        check(self.sample_temperature >= 0, f"sample_temperature must be >= 0, got {self.sample_temperature}")


class CharRNN(nn.Module):
    """Exact-likelihood LSTM over sequences of T characters from a fixed alphabet of V symbols."""

    data_kinds = ("text",)

    def __init__(self, config: CharRNNConfig, data_shape: tuple[int, ...], data_info: dict | None = None) -> None:
        super().__init__()
        if len(data_shape) != 1:
            raise DataError(f"CharRNN models text chunks of shape (T,), got examples of shape {data_shape}")
        self.config = config
        self.data_shape = data_shape
        self.batch_size = config.batch_size
        self.binarize_data = False
        self.alphabet: str = (data_info or {}).get("alphabet", PRINTABLE_ASCII)
        if len(set(self.alphabet)) != len(self.alphabet) or not self.alphabet:
            raise DataError(f"the alphabet must be non-empty with distinct characters, got {self.alphabet!r}")
        self.vocab_size = len(self.alphabet)  # V
        self.start_symbol = self.vocab_size  # 1. an extra embedding row, never an output
        self.embedding = nn.Embedding(self.vocab_size + 1, config.embedding_dim)
        self.lstm = nn.LSTM(
            config.embedding_dim, config.hidden_dim, config.num_layers, batch_first=True, dropout=config.dropout
        )
        self.readout = nn.Linear(config.hidden_dim, self.vocab_size)
        self.register_buffer("num_steps", torch.zeros((), dtype=torch.int64))  # 2. saved, so resume is exact

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T) indices -> (B, T, V) logits of p(x_t | x_<t) (step 1: the input is x shifted right)."""
        start = torch.full_like(x[:, :1], self.start_symbol)  # (B, 1)
        inputs = torch.cat([start, x[:, :-1]], dim=1)  # (B, T): start, x_1 .. x_{T-1}
        hidden, _ = self.lstm(self.embedding(inputs))  # (B, T, H)
        return self.readout(hidden)  # (B, T, V)

    def log_prob_per_char(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T) -> (B, T): log p(x_t | x_<t) in nats."""
        x = x.long()
        return -F.cross_entropy(self.logits(x).transpose(1, 2), x, reduction="none")  # (B, T)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T) indices -> (B,) exact log p(x) in nats, summed over the T characters."""
        return self.log_prob_per_char(x).sum(dim=1)  # (B,)

    def encode_prompt(self, prompt: str) -> torch.Tensor:
        """``prompt`` -> (L,) int64 indices; characters outside the alphabet are a ``ConfigError``."""
        missing = sorted(set(prompt) - set(self.alphabet))
        if missing:
            raise ConfigError(
                f"prompt characters {''.join(missing)!r} are not in the model's alphabet; expected characters of "
                f"{self.alphabet!r}"
            )
        return torch.tensor([self.alphabet.index(c) for c in prompt], dtype=torch.int64)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        prompt: str | None = None,
        length: int | None = None,
        temperature: float | None = None,
    ) -> torch.Tensor:
        """-> (n, length) int64 indices into the alphabet, each row starting with ``prompt`` (step 3).

        ``length`` counts the prompt too (default: the model's T); ``temperature`` defaults to
        ``config.sample_temperature``. Characters are drawn one at a time, carrying the LSTM state.
        """
        temperature = self.config.sample_temperature if temperature is None else temperature
        if temperature < 0:
            raise ConfigError(f"temperature must be >= 0, got {temperature}")
        length = self.data_shape[0] if length is None else length
        if not isinstance(length, int) or length < 1:
            raise ConfigError(f"length must be a positive number of characters, got {length!r}")
        device = self.readout.weight.device
        prefix = self.encode_prompt(prompt or "").to(device)  # (L,)
        if length <= len(prefix):
            raise ConfigError(f"length must exceed the prompt's {len(prefix)} characters, got length={length}")
        out = torch.empty(n, length, dtype=torch.int64, device=device)  # (n, length)
        out[:, : len(prefix)] = prefix
        previous = torch.full((n, 1), self.start_symbol, dtype=torch.int64, device=device)  # (n, 1)
        state = None
        for t in range(length):
            hidden, state = self.lstm(self.embedding(previous), state)  # (n, 1, H), ((layers, n, H), ...)
            if t < len(prefix):
                character = prefix[t].expand(n)  # (n,)
            else:
                logits = self.readout(hidden[:, 0])  # (n, V)
                if temperature == 0:
                    character = logits.argmax(dim=1)  # (n,)
                else:
                    probabilities = torch.softmax(logits / temperature, dim=1)  # (n, V)
                    character = torch.multinomial(probabilities, 1, generator=generator)[:, 0]  # (n,)
            out[:, t] = character
            previous = character.unsqueeze(1)  # (n, 1)
        return out

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": torch.optim.Adam(self.parameters(), lr=self.config.learning_rate)}

    def learning_rate(self) -> float:
        """The step size of the next step: halved every ``learning_rate_half_life`` steps, down to the final one."""
        config = self.config
        return halving_learning_rate(
            int(self.num_steps), config.learning_rate, config.learning_rate_half_life, config.final_learning_rate
        )

    def train_step(self, batch: torch.Tensor, optimizers: dict, backward: Backward) -> dict[str, float]:
        """Step 2: one Adam step on the mean NLL per character, gradients clipped to ``max_grad_norm``.

        Logs ``loss`` (nats per character) and ``bits_per_char``.
        """
        optimizer = optimizers["adam"]
        set_learning_rate([optimizer], self.learning_rate())
        optimizer.zero_grad()
        loss = -self.log_prob_per_char(batch).mean()
        backward(loss)
        nn.utils.clip_grad_norm_(self.parameters(), self.config.max_grad_norm)
        optimizer.step()
        self.num_steps += 1
        return {"loss": loss.item(), "bits_per_char": loss.item() / math.log(2)}

    @torch.no_grad()
    def extra_metrics(self, test: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        """``bits_per_char`` of the model on ``test`` (N, T), and ``unigram_entropy_bits``: the entropy of the
        test text's own character frequencies, the best any model that ignores context can score."""
        counts = torch.bincount(test.flatten().long().cpu(), minlength=self.vocab_size).double()  # (V,)
        frequencies = counts[counts > 0] / counts.sum()
        total_nats = sum(self.log_prob(chunk).double().sum().item() for chunk in test.split(256))
        return {
            "bits_per_char": -total_nats / (test.numel() * math.log(2)),
            "unigram_entropy_bits": -(frequencies * frequencies.log2()).sum().item(),
        }
