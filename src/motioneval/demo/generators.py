"""Demo "models": generators with known flaws, to show what each metric sees.

Each implements the :class:`~motioneval.protocol.generators.Generator` protocol
(``generate(captions, lengths, seed)``, ``kind``, ``normalization``, ``name``, ``version``) for captions of
the demo grammar, and exercises one of the three output paths the evaluation loop accepts:

- ``GroundTruthResampler``: a fresh clip of the caption's class, i.e. a real sample from the data
  distribution (the best possible model); raw features.
- ``NoisyGenerator``: the same plus Gaussian noise in normalized units; dataset-normalized features.
- ``JitteryGenerator``: the same with every joint sampled at jittered times; joint positions.
- ``ModeCollapsedGenerator``: one of two fixed clips (a walk for walk/run captions, a wave otherwise);
  raw features.
- ``CaptionIgnoringGenerator``: a clip of a random class, whatever the caption; raw features.

Expected ranking: ground truth best on FID and R-precision; noise and jitter raise FID; mode collapse gives
the lowest diversity (and MultiModality); ignoring the caption gives chance-level R-precision while its
motions still look real. When ``lengths`` is ``None`` (presets whose lengths come from an estimator or the
model) a length is drawn from the class's own range, a perfect length estimator.
"""
from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from ..constants import MAX_MOTION_FRAMES
from ..protocol.generators import GeneratedMotion
from ..representation.forward import joints_to_features
from ..representation.normalization import FeatureStats
from .captions import spec_of_caption
from .dataset import DEMO_DATASET_VERSION
from .motions import MOTION_SPECS, SPECS_BY_KEY, MotionSpec, synthesize_batch

__all__ = [
    "DemoGenerator",
    "GroundTruthResampler",
    "NoisyGenerator",
    "JitteryGenerator",
    "ModeCollapsedGenerator",
    "CaptionIgnoringGenerator",
    "demo_generators",
]


class DemoGenerator:
    """Base class: caption -> class lookup, length choice and clip synthesis; subclasses change the output."""

    kind = "features"
    normalization = "raw"
    name = "demo"
    description = ""

    @property
    def version(self) -> str:
        return f"demo-v{DEMO_DATASET_VERSION};{self._settings()}"

    def _settings(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, version={self.version!r})"

    def generate(self, captions: list[str], lengths: np.ndarray | None, seed: int) -> GeneratedMotion:
        rng = np.random.default_rng(seed)
        specs = self._specs(captions, rng)
        lens = self._lengths(specs, lengths, rng)
        return self._output(specs, lens, rng)

    # -- steps a subclass may replace
    def _specs(self, captions: list[str], rng: np.random.Generator) -> list[MotionSpec]:
        return [spec_of_caption(c) for c in captions]

    def _lengths(self, specs: list[MotionSpec], lengths: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
        if lengths is not None:
            lens = np.asarray(lengths, dtype=np.int64).reshape(-1)
            if len(lens) != len(specs):
                raise ValueError(f"got {len(specs)} captions but {len(lens)} lengths")
            if (lens < 1).any():
                raise ValueError(f"lengths must be >= 1; row {int(np.flatnonzero(lens < 1)[0])} is not")
            return lens
        return np.array([rng.integers(s.frame_range[0], s.frame_range[1] + 1) for s in specs], dtype=np.int64)

    def _output(self, specs: list[MotionSpec], lengths: np.ndarray, rng: np.random.Generator) -> GeneratedMotion:
        return GeneratedMotion(real_features(specs, lengths, rng), lengths)


def real_features(specs: list[MotionSpec], lengths: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Raw features ``(N, max(lengths), 263)`` of fresh clips (``L + 1`` joint frames give ``L`` rows).

    Past its length a clip holds its last pose (rows of a motionless body, not zeros), like a model that
    generates every frame: the preset padding ``"none"`` (MDM) lets these rows reach the evaluator. Rows
    before the length are exactly those of the clip alone.
    """
    joints = hold_last_pose(synthesize_batch(specs, lengths + 1, rng), lengths + 1)
    return joints_to_features(joints)


def hold_last_pose(joints: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Replace the frames at and past ``frames[i]`` of clip ``i`` (``(N, T, J, 3)``) by its last valid frame."""
    past = np.arange(joints.shape[1])[None, :] >= frames[:, None]
    return np.where(past[..., None, None], joints[np.arange(len(joints)), frames - 1][:, None], joints)


class GroundTruthResampler(DemoGenerator):
    """A new clip of the caption's own class and the requested length: a sample of the data distribution."""

    name = "ground-truth resampling"
    description = "a new procedural clip of the caption's class (a real sample)"


class NoisyGenerator(DemoGenerator):
    """Real clips plus i.i.d. Gaussian noise of std ``sigma`` in dataset-normalized units; returns
    dataset-normalized features (normalized with ``stats``, the dataset's ``Mean.npy``/``Std.npy``)."""

    normalization = "dataset"
    name = "noisy"
    description = "real clips + Gaussian noise in normalized feature space"

    def __init__(self, stats: FeatureStats, sigma: float = 0.5) -> None:
        if not sigma >= 0:
            raise ValueError(f"sigma must be >= 0; got {sigma}")
        self.stats = stats
        self.sigma = float(sigma)

    def _settings(self) -> str:
        digest = _stats_digest(self.stats)
        return f"sigma={self.sigma:g};stats={digest}"

    def _output(self, specs: list[MotionSpec], lengths: np.ndarray, rng: np.random.Generator) -> GeneratedMotion:
        feats = self.stats.normalize(real_features(specs, lengths, rng).astype(np.float64))
        feats = feats + self.sigma * rng.standard_normal(feats.shape)
        return GeneratedMotion(feats.astype(np.float32), lengths)


class JitteryGenerator(DemoGenerator):
    """Real clips whose joints are each sampled at jittered times ``t + e``, ``e ~ N(0, jitter^2)`` frames
    (linear interpolation), returned as joint positions: shaky, non-rigid motion."""

    kind = "joints"
    normalization = "raw"
    name = "jittery"
    description = "real clips, every joint sampled at randomly jittered times"

    def __init__(self, jitter: float = 1.5) -> None:
        if not jitter >= 0:
            raise ValueError(f"jitter must be >= 0 frames; got {jitter}")
        self.jitter = float(jitter)

    def _settings(self) -> str:
        return f"jitter={self.jitter:g}"

    def _output(self, specs: list[MotionSpec], lengths: np.ndarray, rng: np.random.Generator) -> GeneratedMotion:
        frames = lengths + 1  # L + 1 joint frames give L feature rows
        joints = synthesize_batch(specs, frames, rng).astype(np.float64)
        n, t, j, _ = joints.shape
        times = np.arange(t)[None, :, None] + self.jitter * rng.standard_normal((n, t, j))
        times = np.clip(times, 0, (frames - 1)[:, None, None])
        lo = np.floor(times).astype(np.int64)
        hi = np.minimum(lo + 1, (frames - 1)[:, None, None])
        w = (times - lo)[..., None]
        bi, ji = np.arange(n)[:, None, None], np.arange(j)[None, None, :]
        out = (1 - w) * joints[bi, lo, ji] + w * joints[bi, hi, ji]
        # past its length a clip holds its last pose (with the preset padding "none" every stored frame is
        # converted to features, and all-zero poses are degenerate)
        return GeneratedMotion(hold_last_pose(out, frames).astype(np.float32), frames)


class ModeCollapsedGenerator(DemoGenerator):
    """Only two fixed clips, cropped to the requested length: a walk for captions of locomotion (walk, run)
    and a wave for every other caption; asked to choose a length, always the same one for a caption. The caption
    still picks the nearer mode (so R-precision stays a little above chance), but diversity collapses and
    MultiModality is zero."""

    name = "mode-collapsed"
    description = "a fixed walk for walk/run captions, a fixed wave for all others"
    locomotion = ("walk", "run")

    def __init__(self, modes: tuple[str, str] = ("walk-forward-normal", "wave-right"), seed: int = 0) -> None:
        unknown = [m for m in modes if m not in SPECS_BY_KEY]
        if unknown or len(modes) != 2:
            raise ValueError(f"modes must be two demo classes (locomotion, other); unknown: {unknown}; choose among "
                             f"{sorted(SPECS_BY_KEY)}")
        self.modes = tuple(modes)
        self.seed = int(seed)
        self._clips: np.ndarray | None = None

    def _settings(self) -> str:
        return f"modes={','.join(self.modes)};seed={self.seed}"

    def _fixed(self, frames: int) -> np.ndarray:
        if self._clips is None or self._clips.shape[1] < frames:
            specs = [SPECS_BY_KEY[m] for m in self.modes]
            lens = np.full(len(specs), max(frames, MAX_MOTION_FRAMES), dtype=np.int64)
            self._clips = real_features(specs, lens, np.random.default_rng(self.seed))
        return self._clips

    def generate(self, captions: list[str], lengths: np.ndarray | None, seed: int) -> GeneratedMotion:
        if lengths is None:  # asked to choose: a fixed length per caption (in its class's range), no variety
            specs = self._specs(captions, np.random.default_rng(seed))
            lengths = np.array([lo + zlib.crc32(c.encode()) % (hi - lo + 1)
                                for c, (lo, hi) in zip(captions, (s.frame_range for s in specs))], dtype=np.int64)
        return super().generate(captions, lengths, seed)

    def _output(self, specs: list[MotionSpec], lengths: np.ndarray, rng: np.random.Generator) -> GeneratedMotion:
        t = int(lengths.max())
        clips = self._fixed(t)
        which = np.array([0 if s.family in self.locomotion else 1 for s in specs], dtype=np.int64)
        return GeneratedMotion(clips[which, :t].copy(), lengths)  # the fixed clip continues past the length


class CaptionIgnoringGenerator(DemoGenerator):
    """A clip of a uniformly random class for every row, whatever the caption: realistic motions that do not
    match their text."""

    name = "caption-ignoring"
    description = "a real clip of a random class, whatever the caption"

    def _specs(self, captions: list[str], rng: np.random.Generator) -> list[MotionSpec]:
        return [MOTION_SPECS[i] for i in rng.integers(len(MOTION_SPECS), size=len(captions))]


def _stats_digest(stats: FeatureStats) -> str:
    import hashlib

    h = hashlib.sha256(np.asarray(stats.mean, np.float64).tobytes() + np.asarray(stats.std, np.float64).tobytes())
    return h.hexdigest()[:16]


def demo_generators(dataset_stats: FeatureStats) -> list[Any]:
    """The five demo generators in table order (``dataset_stats``: the demo dataset's ``Mean``/``Std``)."""
    return [GroundTruthResampler(), NoisyGenerator(dataset_stats), JitteryGenerator(), ModeCollapsedGenerator(),
            CaptionIgnoringGenerator()]
