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
    p.add_argument("input", help="motions to draw")
    p.add_argument("-o", "--out", required=True, help="output file: .gif, .mp4 or .png")
    p.add_argument("--reference", metavar="PATH", help="ground-truth motions, one per drawn motion (same forms)")
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
    p.add_argument("--allow-pickle", action="store_true",
                   help="allow reading MDM results.npy (unpickling runs code from the file: trusted files only)")
    p.set_defaults(func=run)


def _read(path: str, args: argparse.Namespace) -> tuple[Any, list[str] | None, list[str] | None, Any]:
    """(motions, captions, ids, stats to de-normalize with)."""
    from .. import _npio

    p = Path(path)
    if p.suffix == ".npy" and p.is_file():
        try:
            arr = _npio.load(p, allow_pickle=False)
        except ValueError:
            arr = None  # an object array: MDM's results.npy
        if arr is not None:
            return arr, None, [p.stem], None
    from ..data.samples import load_samples

    sset = load_samples(p, allow_pickle=args.allow_pickle)
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
    from ..diagnostics.evaluator_files import find_evaluator_stats

    if not args.evaluator:
        raise ValueError("the features are evaluator-normalized: pass --evaluator DIR (with t2m_mean/t2m_std)")
    pair = find_evaluator_stats(args.evaluator)
    if pair is None:
        raise FileNotFoundError(f"no evaluator statistics (t2m_mean.npy/t2m_std.npy) under {args.evaluator}")
    return FeatureStats.load(*pair, name="evaluator")


def run(args: argparse.Namespace) -> int:
    from ..viz.render import View, as_joint_clips, filmstrip, render

    motions, captions, ids, stats = _read(args.input, args)
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
        ref_motions, _, ref_ids, ref_stats = _read(args.reference, args)
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
    out = Path(args.out)
    if out.suffix.lower() == ".png":
        path = filmstrip(clips, out, num_frames=args.frames, captions=caps, reference=reference, fps=args.fps,
                         view=view, panel_size=(int(args.size * 2 / 3), args.size))
    else:
        path = render(clips, out, captions=caps, reference=reference, fps=args.fps, layout=layout,
                      fixed_camera=args.fixed_camera, view=view, panel_size=(args.size, args.size))
    n_frames = max(c.shape[0] for c in clips + (reference or []))
    print(f"wrote {path} ({len(clips)} motion(s), {n_frames} frames)" if out.suffix.lower() != ".png"
          else f"wrote {path} ({len(clips)} motion(s))")
    return 0
