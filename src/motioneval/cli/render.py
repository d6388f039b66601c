"""``motioneval render INPUT -o OUT``: stick-figure GIF/MP4 animations or a PNG filmstrip of motions."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "render",
        help="draw stick-figure animations (.gif/.mp4) or a filmstrip (.png) of motions",
        description="Render motions (a .npy clip of joints (T, J, 3) or features (T, D), a sample set .npz, a "
                    "sample folder, or MDM results.npy with --allow-pickle) as stick figures. Ground truth "
                    "(--reference) is drawn in blue beside the generated motion in orange. The output format "
                    "follows the file name: .gif, .mp4 (pip-installed ffmpeg) or .png (filmstrip of key frames).",
    )
    p.add_argument("input", help="motions to draw (a dataset folder draws its ground-truth clips: pick them "
                                 "with --ids, default the first --max of --split)")
    p.add_argument("-o", "--out", required=True, help="output file: .gif, .mp4 or .png")
    p.add_argument("--reference", metavar="PATH",
                   help="ground-truth motions drawn beside each motion: the dataset folder (clips matched by the "
                        "samples' ids) or the same forms as INPUT")
    p.add_argument("--split", metavar="NAME", help="split whose items a dataset folder provides (default test)")
    p.add_argument("--max", type=int, default=16, metavar="N", help="draw at most N motions (default 16)")
    p.add_argument("--ids", nargs="+", metavar="ID", help="draw only the samples with these ids")
    p.add_argument("--dataset", metavar="DIR", help="dataset folder: Mean.npy/Std.npy to de-normalize "
                                                    "dataset-normalized features")
    p.add_argument("--evaluator", metavar="DIR", help="evaluator folder: statistics to de-normalize "
                                                      "evaluator-normalized features")
    p.add_argument("--layout", metavar="ROWSxCOLS", help="grid layout, e.g. 2x4 (default: near square)")
    p.add_argument("--fps", type=float, default=None, help="frames per second (default: the dataset's)")
    p.add_argument("--fixed-camera", action="store_true", help="keep the camera still instead of following the root")
    p.add_argument("--orthographic", action="store_true", help="orthographic instead of perspective projection")
    p.add_argument("--size", type=int, default=240, metavar="PX", help="panel size in pixels (default 240)")
    p.add_argument("--frames", type=int, default=6, metavar="K", help="key frames per motion in a filmstrip")
    p.add_argument("--no-captions", action="store_true", help="do not write captions as titles")
    p.add_argument("--allow-outside-files", action="store_true",
                   help="let a sample folder's manifest name files outside the folder (refused by default)")
    p.add_argument("--allow-pickle", action="store_true",
                   help="allow reading MDM results.npy (unpickling runs code from the file: trusted files only)")
    p.set_defaults(func=run)


def _is_dataset_folder(p: Path) -> bool:
    return p.is_dir() and ((p / "new_joints").is_dir() or (p / "new_joint_vecs").is_dir())


def _is_ground_truth_path(p: Path) -> bool:
    """A dataset folder, or a clip inside its ``new_joints/`` or ``new_joint_vecs/``."""
    return _is_dataset_folder(p) or (p.is_file() and p.parent.name in ("new_joints", "new_joint_vecs"))


def _read_dataset(root: Path, ids: list[str] | None, args: argparse.Namespace) -> tuple[Any, list[str], list[str]]:
    """Ground-truth joints of ``ids`` (clip or item ids) from a dataset folder, with their first captions."""
    from ..data.dataset import MotionDataset
    from ..representation.inverse import features_to_joints
    from ..representation.skeleton import HUMANML3D, KIT

    split = args.split or "test"
    dataset = MotionDataset(root, split, on_problem="skip", preload=False)
    if not ids:
        ids = dataset.ids[: max(1, args.max)]
    missing = [i for i in ids if i not in set(dataset.ids)]
    if missing:
        raise ValueError(f"ids not in the {split!r} split of {root}: {missing[:10]} (pick another split with "
                         f"--split, or pass ids listed in {root / (split + '.txt')})")
    clips, captions = [], []
    for item_id in ids:
        item = dataset[item_id]
        try:
            clips.append(dataset.joints(item_id))
        except FileNotFoundError:
            clips.append(features_to_joints(item.features, KIT if dataset.spec.name == "kit" else HUMANML3D))
        captions.append(item.captions[0].text if item.captions else "")
    return clips, captions, list(ids)


def _read(path: str, args: argparse.Namespace,
          ids: list[str] | None = None) -> tuple[Any, list[str] | None, list[str] | None, Any]:
    """(motions, captions, ids, stats to de-normalize with); ``ids`` picks clips of a dataset folder."""
    from .. import _npio

    p = Path(path)
    if _is_dataset_folder(p):
        return (*_read_dataset(p, ids, args), None)
    if p.suffix == ".npy" and p.is_file():
        try:
            arr = _npio.load(p, allow_pickle=False)
        except ValueError:
            arr = None  # an object array: MDM's results.npy
        except (EOFError, OSError) as exc:
            raise ValueError(f"{p}: cannot read it as .npy ({exc or 'empty or truncated file'}); regenerate or "
                             f"re-download it") from None
        if arr is not None:
            return arr, None, [p.stem], None
    from ..data.samples import load_samples

    sset = load_samples(p, allow_pickle=args.allow_pickle, allow_outside=getattr(args, "allow_outside_files", False))
    stats = None
    if sset.kind == "features" and sset.normalization != "raw":
        stats = _stats(sset.normalization, args)
    return sset, list(sset.captions), list(sset.ids or []), stats


def _stats(normalization: str, args: argparse.Namespace) -> Any:
    from ..representation.normalization import FeatureStats

    if normalization == "dataset":
        if not args.dataset:
            raise ValueError("the features are dataset-normalized: pass --dataset DIR (with Mean.npy/Std.npy)")
        root = Path(args.dataset)
        return FeatureStats.load(root / "Mean.npy", root / "Std.npy", name="dataset")
    from ..evaluators.files import find_evaluator_stats

    if not args.evaluator:
        raise ValueError("the features are evaluator-normalized: pass --evaluator DIR (with t2m_mean/t2m_std)")
    pair = find_evaluator_stats(args.evaluator)
    if pair is None:
        raise FileNotFoundError(f"no evaluator statistics (t2m_mean.npy/t2m_std.npy) under {args.evaluator}")
    return FeatureStats.load(*pair, name="evaluator")


def run(args: argparse.Namespace) -> int:
    from ..viz.render import View, as_joint_clips, filmstrip, render

    motions, captions, ids, stats = _read(args.input, args, ids=args.ids)
    clips = as_joint_clips(motions, stats=stats)
    ids = ids if ids and len(ids) == len(clips) else [str(i) for i in range(len(clips))]
    rows = list(range(len(clips)))
    if args.ids:
        index = {i: n for n, i in enumerate(ids)}
        missing = [i for i in args.ids if i not in index]
        if missing:
            raise ValueError(f"ids not found in {args.input}: {missing[:10]}")
        rows = [index[i] for i in args.ids]
    rows = rows[: max(1, args.max)]
    clips = [clips[r] for r in rows]
    caps = None if args.no_captions or not captions else [captions[r] for r in rows]
    reference = None
    if args.reference:
        ref_motions, _, ref_ids, ref_stats = _read(args.reference, args, ids=[ids[r] for r in rows])
        ref_clips = as_joint_clips(ref_motions, stats=ref_stats)
        if ref_ids and len(ref_ids) == len(ref_clips) and all(ids[r] in ref_ids for r in rows) and len(ref_clips) > 1:
            where = {i: n for n, i in enumerate(ref_ids)}
            reference = [ref_clips[where[ids[r]]] for r in rows]
        elif len(ref_clips) == 1 and len(clips) == 1:
            reference = ref_clips
        else:
            reference = [ref_clips[r] for r in rows if r < len(ref_clips)]
            if len(reference) != len(clips):
                raise ValueError(f"--reference has {len(ref_clips)} motions; cannot pair them with the "
                                 f"{len(clips)} drawn motions (give ids that match)")
    layout = None
    if args.layout:
        try:
            r, c = (int(v) for v in args.layout.lower().split("x"))
        except ValueError:
            raise ValueError(f"--layout must look like 2x4; got {args.layout!r}") from None
        layout = (r, c)
    view = View(perspective=not args.orthographic)
    role = "ground truth" if reference is None and _is_ground_truth_path(Path(args.input)) else "generated"
    out = Path(args.out)
    if out.suffix.lower() == ".png":
        path = filmstrip(clips, out, num_frames=args.frames, captions=caps, reference=reference, fps=args.fps,
                         view=view, panel_size=(int(args.size * 2 / 3), args.size), role=role)
    else:
        path = render(clips, out, captions=caps, reference=reference, fps=args.fps, layout=layout,
                      fixed_camera=args.fixed_camera, view=view, panel_size=(args.size, args.size), role=role)
    n_frames = max(c.shape[0] for c in clips + (reference or []))
    print(f"wrote {path} ({len(clips)} motion(s), {n_frames} frames)" if out.suffix.lower() != ".png"
          else f"wrote {path} ({len(clips)} motion(s))")
    return 0
