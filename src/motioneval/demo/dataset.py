"""The demo dataset: procedural clips written as a HumanML3D-layout folder.

``build_demo_dataset(root)`` writes::

    root/new_joint_vecs/<id>.npy   (T, 263) float32, from our joints_to_features
    root/new_joints/<id>.npy       (T, 22, 3) float32, features_to_joints of the features (as the dataset did)
    root/texts/<id>.txt            3 captions per clip, ``caption#word/POS ...#0.0#0.0``
    root/Mean.npy, Std.npy         train-split statistics, computed the dataset's way
    root/train.txt val.txt test.txt train_val.txt all.txt
    root/demo_manifest.json        version, configuration, class of every clip (written last)

Everything is a deterministic function of :class:`DemoDatasetConfig` (clip ``i`` draws from
``SeedSequence(seed, spawn_key=(i,))``). The folder is built under a temporary name and renamed into place, so
an interrupted build leaves nothing half-written; a folder whose manifest matches the configuration is reused.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .._io import atomic_save_npy, atomic_write_json, atomic_write_text
from .._progress import progress
from ..representation.forward import joints_to_features
from ..representation.inverse import features_to_joints
from ..representation.normalization import dataset_statistics
from .captions import caption_line, sample_captions
from .motions import MOTION_SPECS, MotionSpec, synthesize_batch

#: Bump when the generated data changes (motions, captions, statistics): invalidates cached folders.
DEMO_DATASET_VERSION = 1
MANIFEST = "demo_manifest.json"
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class DemoDatasetConfig:
    """Size and seed of the demo dataset (the defaults build in a few seconds)."""

    num_train: int = 1200
    num_val: int = 100
    num_test: int = 320
    captions_per_clip: int = 3
    seed: int = 2024

    @property
    def num_clips(self) -> int:
        return self.num_train + self.num_val + self.num_test

    def to_dict(self) -> dict[str, int]:
        return {"version": DEMO_DATASET_VERSION, **asdict(self)}


def clip_id(index: int) -> str:
    return f"{index:06d}"


def clip_plan(config: DemoDatasetConfig) -> list[tuple[str, str, MotionSpec, int]]:
    """``(id, split, spec, num_feature_frames)`` of every clip, in id order."""
    splits = ["train"] * config.num_train + ["val"] * config.num_val + ["test"] * config.num_test
    plan = []
    for i, split in enumerate(splits):
        rng = _clip_rng(config, i, "plan")
        spec = MOTION_SPECS[int(rng.integers(len(MOTION_SPECS)))]
        lo, hi = spec.frame_range
        plan.append((clip_id(i), split, spec, int(rng.integers(lo, hi + 1))))
    return plan


def _clip_rng(config: DemoDatasetConfig, index: int, purpose: str) -> np.random.Generator:
    tag = {"plan": 0, "motion": 1, "captions": 2}[purpose]
    return np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(index, tag)))


def is_demo_dataset(root: str | os.PathLike, config: DemoDatasetConfig = DemoDatasetConfig()) -> bool:
    """Whether ``root`` holds a complete demo dataset built with ``config`` and this code version."""
    path = Path(root) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return manifest.get("config") == config.to_dict()


def build_demo_dataset(root: str | os.PathLike, config: DemoDatasetConfig = DemoDatasetConfig(), *,
                       force: bool = False, progress: bool = False) -> Path:
    """Write the demo dataset to ``root`` (reused when already built with ``config``); returns ``root``.
    ``progress`` shows a bar on stderr while the clips are synthesized (about 10 s)."""
    root = Path(root)
    if not force and is_demo_dataset(root, config):
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".tmp", dir=root.parent))
    try:
        _write(tmp, config, progress)
        if root.exists():
            shutil.rmtree(root)
        os.replace(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root


def _write(root: Path, config: DemoDatasetConfig, show_progress: bool = False) -> None:
    for sub in ("new_joint_vecs", "new_joints", "texts"):
        (root / sub).mkdir()
    plan = clip_plan(config)
    # joints_to_features turns T+1 joint frames into T feature rows; batch clips through one padded array
    frames = np.array([n + 1 for _, _, _, n in plan])
    batch = 256
    train_rows = []
    starts = range(0, len(plan), batch)
    for start in progress(starts, total=len(starts), desc="demo dataset: synthesizing clips", unit="batch",
                          enable=show_progress):
        part = plan[start:start + batch]
        lens = frames[start:start + batch]
        joints = synthesize_batch([spec for _, _, spec, _ in part], lens,
                                  [_clip_rng(config, start + k, "motion") for k in range(len(part))])
        feats = joints_to_features(joints, lengths=lens)
        for k, (cid, split, spec, n) in enumerate(part):
            f = np.ascontiguousarray(feats[k, :n], dtype=np.float32)
            # plain writes: the whole folder becomes visible at once by the final rename
            np.save(root / "new_joint_vecs" / f"{cid}.npy", f, allow_pickle=False)
            np.save(root / "new_joints" / f"{cid}.npy", features_to_joints(f).astype(np.float32), allow_pickle=False)
            caps = sample_captions(spec, _clip_rng(config, start + k, "captions"), config.captions_per_clip)
            (root / "texts" / f"{cid}.txt").write_text("".join(caption_line(c) + "\n" for c in caps))
            if split == "train":
                train_rows.append(f)
    stats = dataset_statistics(train_rows, name="demo dataset")
    # float32, as HumanML3D ships them
    atomic_save_npy(root / "Mean.npy", np.asarray(stats.mean, dtype=np.float32))
    atomic_save_npy(root / "Std.npy", np.asarray(stats.std, dtype=np.float32))
    ids = {s: [cid for cid, split, _, _ in plan if split == s] for s in SPLITS}
    ids["train_val"] = ids["train"] + ids["val"]
    ids["all"] = [cid for cid, _, _, _ in plan]
    for name, lst in ids.items():
        atomic_write_text(root / f"{name}.txt", "".join(i + "\n" for i in lst))
    manifest = {
        "config": config.to_dict(),
        "description": "motioneval procedural demo dataset (HumanML3D layout, 20 fps, 22 joints)",
        "classes": {cid: spec.key for cid, _, spec, _ in plan},
    }
    atomic_write_json(root / MANIFEST, manifest)
