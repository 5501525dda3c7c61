"""Online handwriting as pen strokes: ``hershey``, words written in the Hershey vector fonts with
per-sample jitter, so that every example has its own slant, size, proportions and pen speed.

A strokes data set is (N, T, 3) float32 rows ``(dx, dy, pen_lift)`` (the layout of Graves 2013, §4):
``(dx, dy)`` is the pen's move from the previous point to this one (from the origin for the first
row; y points up), divided by ``info["offset_scale"]``; ``pen_lift`` is 1 where the pen leaves the
paper after this point (the end of a stroke, and always the last real point) and 0 otherwise.

Padding convention: a sequence shorter than T is followed by rows exactly ``(0, 0, 1)``, i.e. "stay
where you are with the pen up", so a padded sequence draws the same picture as the unpadded one.
Real rows are never exactly (0, 0, 1) (every point carries continuous noise), so the length of a
sequence is one past its last row that is not (0, 0, 1): see ``sequence_lengths``.

``train_labels``/``test_labels`` hold each example's text as (N, U) int64 indices into
``info["alphabet"]`` (lower-case letters and space), padded with ``info["pad_index"]`` (one past the
end of the alphabet).

How an example is made (all randomness from one ``numpy`` generator with a fixed seed):

1. a text: one word, or two words joined by a space with probability 0.2, from ``WORDS`` (411
   common English words);
2. a font from ``FONTS`` (a connected script and a single-line print face), the text laid out by
   the package's own glyph metrics, cap height 1, baseline at y = 0; strokes that continue where the
   previous one ended (joined script letters) are merged into one pen-down stroke;
3. geometric jitter: an affine map (slant/shear ~ U(−0.35, 0.25), size ~ U(0.85, 1.15), width
   ~ U(0.8, 1.2), rotation ~ N(0, 3°)) and a smooth sinusoidal warp of x and y (amplitude ≤ 0.06);
4. timing jitter: each stroke is resampled along its arc length with a per-example base step
   ~ U(0.08, 0.13) cap heights and a per-point factor exp(N(0, 0.3²)), like a pen that speeds up and
   slows down; the stroke's end is always kept; an example longer than ``MAX_LENGTH`` is redrawn;
5. noise: N(0, 0.01²) on every point, then offsets are taken and divided by ``offset_scale`` (the
   RMS pen-down offset of the whole set).

``hershey`` needs PyPI ``hershey-fonts`` (module ``HersheyFonts``); it has 3,600 training and 400
test examples (the first 400 drawn) padded to T = 200 points (93 points and 20 points per character
on average); it takes about 2 s to make.

>>> data = load_hershey()
>>> data.kind, data.train.shape[2], data.info["alphabet"][:3]
('strokes', 3, ' ab')
"""

import math

import numpy as np
import torch

from ..core.errors import DataError
from .base import Dataset
from .text import decode, encode

ALPHABET = " abcdefghijklmnopqrstuvwxyz"
FONTS = ("scripts", "futural")
MAX_LENGTH = 200  # examples longer than this are drawn again
BASE_STEP = (0.08, 0.13)  # range of the per-example pen step, in cap heights
HERSHEY_INSTALL = "pip install hershey-fonts"
WORDS = (
    "a able about above act add after again age ago air all also am an and any are arm art as ask at away "
    "back bad bag ball bank be bear bed been best big bird black blue boat body book both box boy bring "
    "but buy by call came can car care cat cold come cook cool cup cut dark day deep did dog door down "
    "draw dream dry each ear earth east easy eat egg end even ever eye face fact fall far farm fast fat "
    "feel few field fill find fine fire fish five fly food foot for form four free from full fun game "
    "gave get girl give glad go gold good got grass great green grow had hair half hand hard has hat "
    "have he head hear heat help her here high hill him his hold home hope horse hot hour how ice idea "
    "if in ink into is it its job join jump just keep key kind king knew know lady lake land large last "
    "late law lay lead left leg less let life light like line list live long look lost lot love low "
    "made make man many map mark may me mean meet milk mind miss moon more most move much must my name "
    "near need new next nice night no north not note now oak of off often oil old on once one only open "
    "or our out over own page paper park part pass past pen people pick place plan play point pool poor "
    "quick quiet quite rain ran read real red rest rich ride right ring river road rock room root rose "
    "round run sad said salt same sand sat save saw say sea seat see seed send set she ship shoe shop "
    "short show side sign sing sit six size sky sleep slow small snow so soft some son song soon sound "
    "south speak star stay step still stone stop story sun sure swim table tail take talk tall tea tell "
    "ten than that the their them then there they thing this three time to today told too took top town "
    "tree true try turn two under up upon us use very view visit voice wait walk wall want warm was "
    "watch water wave way we week well went were west what when where which while white who why wide "
    "wild will wind window wish with wood word work world write year yes yet you young your zero zoo"
).split()


def sequence_lengths(strokes: torch.Tensor) -> torch.Tensor:
    """(N, T, 3) padded strokes -> (N,) int64 lengths: one past the last row that is not (0, 0, 1)."""
    padding_row = torch.tensor([0.0, 0.0, 1.0], dtype=strokes.dtype, device=strokes.device)
    real = (strokes != padding_row).any(dim=-1)  # (N, T)
    positions = torch.arange(1, strokes.shape[1] + 1, device=strokes.device)  # (T,)
    return (real * positions).amax(dim=-1)  # (N,)


def pad_strokes(sequences: list[torch.Tensor], length: int) -> torch.Tensor:
    """Sequences (T_i, 3) with T_i ≤ ``length`` -> (N, length, 3), padded with rows (0, 0, 1)."""
    out = torch.zeros(len(sequences), length, 3)
    out[:, :, 2] = 1.0
    for i, sequence in enumerate(sequences):
        out[i, : len(sequence)] = sequence
    return out


def encode_texts(texts: list[str], alphabet: str, pad_index: int) -> torch.Tensor:
    """Strings -> (N, U) int64 indices into ``alphabet`` padded with ``pad_index``; U = the longest text."""
    width = max((len(text) for text in texts), default=0)
    out = torch.full((len(texts), width), pad_index, dtype=torch.int64)
    for i, text in enumerate(texts):
        out[i, : len(text)] = encode(text, alphabet)
    return out


def decode_texts(labels: torch.Tensor, alphabet: str) -> list[str]:
    """(N, U) padded indices -> N strings (indices outside the alphabet, i.e. padding, are dropped)."""
    return [decode(row[(row >= 0) & (row < len(alphabet))], alphabet) for row in labels]


def _load_fonts() -> dict[str, dict[str, list[np.ndarray]]]:
    """Each font's glyphs as pen-down polylines, cap height 1, baseline y = 0, y up; plus advance widths."""
    try:
        from HersheyFonts import HersheyFonts
    except ImportError:
        raise DataError(f"the hershey data set needs the Hershey fonts: {HERSHEY_INSTALL}") from None
    fonts = {}
    for name in FONTS:
        font = HersheyFonts()
        font.load_default_font(name)
        options = font.render_options
        cap_height = options["base_line"] - options["cap_line"]
        glyphs = {}
        for character in ALPHABET:
            (glyph,) = font.glyphs_for_text(character)
            origin = np.array([glyph.left_offset, options["base_line"]])
            flip = np.array([1.0, -1.0]) / cap_height  # the font's y grows downwards
            lines = [(np.array(stroke, dtype=float) - origin) * flip for stroke in glyph.strokes]
            glyphs[character] = (lines, glyph.char_width / cap_height)
        fonts[name] = glyphs
    return fonts


def _layout(text: str, glyphs: dict) -> list[np.ndarray]:
    """Polylines of ``text`` set in one font; a stroke starting where the last one ended continues it."""
    strokes: list[np.ndarray] = []
    x = 0.0
    for character in text:
        lines, width = glyphs[character]
        for line in lines:
            line = line + np.array([x, 0.0])
            if strokes and np.abs(strokes[-1][-1] - line[0]).max() < 1e-9:
                strokes[-1] = np.concatenate([strokes[-1], line[1:]])
            else:
                strokes.append(line)
        x += width
    return strokes


def _jitter_geometry(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Step 3: a random affine map and a smooth warp of all points (n, 2) -> (n, 2)."""
    shear, size, width = rng.uniform(-0.35, 0.25), rng.uniform(0.85, 1.15), rng.uniform(0.8, 1.2)
    angle = rng.normal(0.0, math.radians(3.0))
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    affine = size * rotation @ np.array([[width, shear], [0.0, 1.0]])  # (2, 2)
    amplitude, wavelength, phase = rng.uniform(0.0, 0.06, 2), rng.uniform(1.5, 4.0, 2), rng.uniform(0, 2 * np.pi, 2)
    x = points[:, 0] + amplitude[0] * np.sin(2 * np.pi * points[:, 1] / wavelength[0] + phase[0])
    y = points[:, 1] + amplitude[1] * np.sin(2 * np.pi * points[:, 0] / wavelength[1] + phase[1])
    return np.stack([x, y], axis=1) @ affine.T  # (n, 2)


def _resample(points: np.ndarray, sizes: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Step 4: strokes (``sizes`` consecutive runs of ``points`` (n, 2)) resampled along their arc
    length at jittered steps, each ending at its own last point -> (m, 2) points and (m,) pen lifts."""
    base_step = rng.uniform(*BASE_STEP)
    first = np.cumsum(sizes) - sizes  # (S,) index of each stroke's first point
    segments = np.hypot(*np.diff(points, axis=0).T)  # (n − 1,)
    segments[first[1:] - 1] = 1.0  # a unit gap between strokes keeps the arc coordinate increasing
    arc = np.concatenate([[0.0], np.cumsum(segments)])  # (n,)
    start, end = arc[first], arc[first + sizes - 1]  # (S,) each stroke's arc interval
    counts = ((end - start) / (0.3 * base_step)).astype(int) + 2  # (S,) enough steps to pass the end
    steps = base_step * np.exp(rng.normal(0.0, 0.3, size=counts.sum()))  # timing jitter
    steps[np.cumsum(counts) - counts] = 0.0  # each stroke starts at its own first point
    offsets = np.cumsum(steps)  # (ΣS,) running total, restarted below at each stroke
    stroke = np.repeat(np.arange(len(sizes)), counts)  # (ΣS,)
    along = offsets - (offsets - steps)[np.cumsum(counts) - counts][stroke]  # (ΣS,) distance into the stroke
    keep = along < (end - start)[stroke] - 0.3 * base_step  # no near-duplicate of a stroke's end point
    positions = np.concatenate([start[stroke[keep]] + along[keep], end])  # (m,)
    lifts = np.concatenate([np.zeros(keep.sum()), np.ones(len(sizes))])  # (m,)
    order = np.argsort(positions, kind="stable")
    positions, lifts = positions[order], lifts[order]
    resampled = np.stack([np.interp(positions, arc, points[:, 0]), np.interp(positions, arc, points[:, 1])], axis=1)
    return resampled, lifts


def _example(strokes: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Steps 3–5 on a laid-out text, before scaling: (T, 3) offsets in cap heights with pen lifts."""
    points = _jitter_geometry(np.concatenate(strokes), rng)  # (n, 2)
    points, lifts = _resample(points, np.array([len(line) for line in strokes]), rng)  # (T, 2), (T,)
    points = points + rng.normal(0.0, 0.01, size=points.shape)
    offsets = np.diff(points, axis=0, prepend=np.zeros((1, 2)))  # (T, 2)
    return np.concatenate([offsets, lifts[:, None]], axis=1)


def load_hershey(num_train: int = 3600, num_test: int = 400, seed: int = 0) -> Dataset:
    """The ``hershey`` strokes data set described in the module docstring."""
    fonts = _load_fonts()
    rng = np.random.default_rng(seed)
    texts, sequences, layouts = [], [], {}
    while len(sequences) < num_train + num_test:
        text = " ".join(rng.choice(WORDS, size=2 if rng.random() < 0.2 else 1))
        font = FONTS[rng.integers(len(FONTS))]
        if (font, text) not in layouts:
            layouts[font, text] = _layout(text, fonts[font])
        rows = _example(layouts[font, text], rng)
        if len(rows) <= MAX_LENGTH:
            texts.append(text)
            sequences.append(rows)
    pen_down_offsets = np.concatenate([rows[1:, :2][rows[:-1, 2] == 0] for rows in sequences])
    offset_scale = float(np.sqrt((pen_down_offsets**2).mean()))
    scale = np.array([offset_scale, offset_scale, 1.0])
    strokes = pad_strokes([torch.from_numpy(rows / scale) for rows in sequences], MAX_LENGTH)  # (N, T, 3)
    labels = encode_texts(texts, ALPHABET, pad_index=len(ALPHABET))  # (N, U)
    info = {
        "alphabet": ALPHABET,
        "pad_index": len(ALPHABET),
        "offset_scale": offset_scale,
        "points_per_character": sum(map(len, sequences)) / sum(map(len, texts)),
        "words": list(WORDS),
        "fonts": list(FONTS),
        "padding": "rows (0, 0, 1) after the end of each sequence",
    }
    return Dataset(
        "hershey",
        "strokes",
        strokes[num_test:],
        strokes[:num_test],
        labels[num_test:],
        labels[:num_test],
        info=info,
    )
