"""Stick-figure animations (GIF, MP4) and filmstrips (PNG) of motions, drawn headless with Pillow.

Frames are drawn here, not by matplotlib animation or moviepy: joints are projected with a simple
camera (orthographic or perspective, azimuth/elevation about the figure) and the bones of the
skeleton's kinematic chains are drawn as lines. GIFs are written by Pillow, MP4 by ``imageio`` with
the ``imageio-ffmpeg`` encoder that pip installs (no system ffmpeg). Ground truth is drawn in blue,
generated motion in orange; a floor grid follows the root (or stays put with ``fixed_camera=True``).

Motions are joint positions ``(T, J, 3)`` (y up) or HumanML3D-style features ``(T, 12J - 1)``, which
are converted with ``features_to_joints`` (after de-normalization with ``stats`` when they are
normalized). Batches ``(N, T, ...)`` with ``lengths``, lists of clips and ``SampleSet`` objects work too.
"""
from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._arrays import to_numpy
from ..constants import HUMANML3D_DATASET

GT_COLOR = (31, 119, 180)  # ground truth: blue (matplotlib "tab:blue")
GEN_COLOR = (255, 127, 14)  # generated: orange ("tab:orange")
BACKGROUND = (255, 255, 255)
GRID_COLOR = (210, 210, 210)
TEXT_COLOR = (25, 25, 25)
LABEL_COLOR = (110, 110, 110)

# Chain shading: chains alternate between the base colour and darker tones so left and right limbs differ.
_CHAIN_SHADES = (1.0, 0.62, 0.8, 1.0, 0.62, 0.8)


@dataclass(frozen=True)
class View:
    """Camera direction and projection.

    ``azimuth`` (degrees) turns the camera about +y; 0 looks from +z, the direction HumanML3D clips face in
    their first frame. ``elevation`` tilts it up. With ``perspective`` the camera sits ``distance`` figure
    heights from the figure; otherwise the projection is orthographic.
    """

    azimuth: float = -35.0
    elevation: float = 18.0
    perspective: bool = True
    distance: float = 3.5

    def basis(self) -> np.ndarray:
        """Rows: camera right, camera up, direction towards the camera (world coordinates, y up)."""
        az, el = math.radians(self.azimuth), math.radians(self.elevation)
        back = np.array([math.sin(az) * math.cos(el), math.sin(el), math.cos(az) * math.cos(el)])
        right = np.cross(-back, [0.0, 1.0, 0.0])
        right /= np.linalg.norm(right)
        up = np.cross(right, -back)
        return np.stack([right, up, back])


# --------------------------------------------------------------------------------------------------------
# input handling


def _skeleton_for(num_joints: int, skeleton: Any = None) -> Any:
    """The skeleton to draw: ``skeleton`` if given (a ``Skeleton`` or a list of chains), else the shipped one."""
    if skeleton is not None:
        return skeleton
    from ..representation.skeleton import skeleton_for_joints

    return skeleton_for_joints(num_joints, hint=" (a Skeleton or a list of kinematic chains) to draw it")


def _chains_for(num_joints: int, skeleton: Any = None) -> list[list[int]]:
    """Kinematic chains (lists of joint indices from the root outwards) for drawing bones."""
    skel = _skeleton_for(num_joints, skeleton)
    chains = getattr(skel, "kinematic_chains", skel)
    chains = [list(map(int, c)) for c in chains]
    if any(j >= num_joints or j < 0 for c in chains for j in c):
        raise ValueError(f"the skeleton's chains reference joints outside 0..{num_joints - 1}")
    return chains


def _is_sample_set(obj: Any) -> bool:
    return all(hasattr(obj, a) for a in ("motions", "lengths", "kind"))


def _joint_count_for_dim(dim: int) -> int | None:
    return (dim + 1) // 12 if (dim + 1) % 12 == 0 and dim >= 23 else None


def _features_to_joints(features: np.ndarray) -> np.ndarray:
    from ..representation.inverse import features_to_joints

    return np.asarray(to_numpy(features_to_joints(np.asarray(features, dtype=np.float32))), dtype=np.float64)


def as_joint_clips(
    motions: Any,
    *,
    kind: str = "auto",
    lengths: Sequence[int] | np.ndarray | None = None,
    stats: Any = None,
    name: str = "motions",
) -> list[np.ndarray]:
    """Turn any accepted motion input into a list of ``(T_i, J, 3)`` float64 joint arrays.

    ``motions``: a clip ``(T, J, 3)`` or ``(T, D)``, a batch ``(N, T, J, 3)`` / ``(N, T, D)`` (with optional
    ``lengths``), a list of clips, or a ``SampleSet``. Features are de-normalized with ``stats``
    (a ``FeatureStats``) first when given; a ``SampleSet`` whose features are normalized requires it.
    """
    if kind not in ("auto", "joints", "features"):
        raise ValueError(f"kind must be 'auto', 'joints' or 'features'; got {kind!r}")
    if _is_sample_set(motions):
        sset = motions
        norm = getattr(sset, "normalization", "raw")
        if sset.kind == "features" and norm not in (None, "raw") and stats is None:
            raise ValueError(
                f"{name}: the sample set holds {norm}-normalized features; pass stats= (the {norm} "
                f"FeatureStats) so they can be de-normalized before drawing"
            )
        return as_joint_clips(to_numpy(sset.motions), kind=sset.kind, lengths=to_numpy(sset.lengths),
                              stats=stats, name=name)
    if isinstance(motions, (list, tuple)):
        clips = []
        for i, m in enumerate(motions):
            clips.extend(as_joint_clips(m, kind=kind, stats=stats, name=f"{name}[{i}]"))
        if lengths is not None:
            clips = [c[: int(n)] for c, n in zip(clips, np.asarray(lengths).ravel(), strict=True)]
        return clips
    arr = np.asarray(to_numpy(motions), dtype=np.float64)
    if kind == "auto":
        if arr.ndim in (3, 4) and arr.shape[-1] == 3:
            kind = "joints"
        elif arr.ndim in (2, 3) and _joint_count_for_dim(arr.shape[-1]):
            kind = "features"
        else:
            raise ValueError(
                f"{name}: cannot tell joints from features for shape {arr.shape}; expected (T, J, 3) or "
                f"(N, T, J, 3) joints, or (T, D) / (N, T, D) features with D = 12J - 1 (263, 251)"
            )
    per_clip_ndim = 3 if kind == "joints" else 2
    single = arr.ndim == per_clip_ndim
    if single:
        arr = arr[None]
    if arr.ndim != per_clip_ndim + 1:
        raise ValueError(f"{name}: {kind} of shape {arr.shape} have the wrong number of axes")
    n = arr.shape[0]
    if lengths is None:
        lens = np.full(n, arr.shape[1], dtype=int)
    else:
        lens = np.asarray(lengths, dtype=int).ravel()
        if lens.shape[0] != n:
            raise ValueError(f"{name}: {n} motions but {lens.shape[0]} lengths")
    if (lens < 1).any() or (lens > arr.shape[1]).any():
        bad = np.flatnonzero((lens < 1) | (lens > arr.shape[1]))[:10].tolist()
        raise ValueError(f"{name}: lengths of motions {bad} are outside 1..{arr.shape[1]} (the frame axis)")
    clips = [arr[i, : lens[i]] for i in range(n)]
    for i, clip in enumerate(clips):
        if not np.isfinite(clip).all():
            which = name if single else f"{name}: motion {i}"
            raise ValueError(f"{which} contains NaN or Inf; it cannot be drawn (run `motioneval doctor`)")
    if kind == "features":
        if stats is not None:
            clips = [np.asarray(stats.denormalize(c), dtype=np.float64) for c in clips]
        if _joint_count_for_dim(arr.shape[-1]) is None:
            raise ValueError(f"{name}: {arr.shape[-1]} is not a HumanML3D-style feature dimension (12J - 1)")
        clips = [_features_to_joints(c) for c in clips]
    elif arr.shape[-1] != 3:
        raise ValueError(f"{name}: joints must have 3 coordinates in the last axis; got shape {arr.shape}")
    return clips


def _as_list(x: Any, n: int, name: str) -> list:
    if x is None:
        return [None] * n
    if isinstance(x, str):
        x = [x]
    x = list(x)
    if len(x) != n:
        raise ValueError(f"{name}: expected {n} entries (one per motion); got {len(x)}")
    return x


# --------------------------------------------------------------------------------------------------------
# scene geometry


@dataclass
class _Panel:
    joints: np.ndarray  # (T, J, 3)
    color: tuple[int, int, int]
    label: str | None

    @property
    def length(self) -> int:
        return int(self.joints.shape[0])

    @property
    def floor(self) -> float:
        return float(self.joints[..., 1].min())

    @property
    def height(self) -> float:
        """Largest figure height above the floor over the clip (world units)."""
        y = self.joints[..., 1]
        return float((y.max(axis=1) - self.floor).max())

    def at(self, t: int) -> np.ndarray:
        return self.joints[min(t, self.length - 1)]


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 or no FreeType: fixed bitmap font
        return ImageFont.load_default()


class _Projector:
    """World -> pixel mapping of one panel for one camera target."""

    def __init__(self, view: View, scale: float, ref_height: float, size: tuple[int, int]) -> None:
        self.basis = view.basis()
        self.view = view
        self.scale = scale
        self.cam_dist = view.distance * ref_height
        self.center = (size[0] / 2.0, size[1] * 0.5)

    def __call__(self, points: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cam = (points - target) @ self.basis.T
        if self.view.perspective:
            denom = np.maximum(self.cam_dist - cam[..., 2], 0.15 * self.cam_dist)
            f = self.cam_dist / denom
        else:
            f = np.ones(cam.shape[:-1])
        u = self.center[0] + self.scale * cam[..., 0] * f
        v = self.center[1] - self.scale * cam[..., 1] * f
        return np.stack([u, v], axis=-1), cam[..., 2]


class _PanelPainter:
    """Draws one panel (figure, floor grid) for a frame index into a Pillow image of the panel's size."""

    def __init__(self, panel: _Panel, chains: list[list[int]], view: View, size: tuple[int, int],
                 scale: float, ref_height: float, fixed_camera: bool, line_width: int) -> None:
        self.panel = panel
        self.chains = chains
        self.size = size
        self.fixed = fixed_camera
        self.line_width = line_width
        self.h = max(panel.height, 1e-6)
        self.spacing = ref_height / 3.6  # about 0.5 m for a 1.8 m figure
        self.project = _Projector(view, scale, ref_height, size)
        j = panel.joints
        self.mid_y = panel.floor + 0.5 * self.h
        if fixed_camera:
            lo, hi = j[..., [0, 2]].reshape(-1, 2).min(0), j[..., [0, 2]].reshape(-1, 2).max(0)
            c = 0.5 * (lo + hi)
            self.fixed_target = np.array([c[0], self.mid_y, c[1]])
            self.grid_extent = (lo - self.spacing, hi + self.spacing)
        ends = [c[-1] for c in chains]
        self.head = ends[int(np.argmax(j[:, ends, 1].mean(axis=0)))]  # the chain end highest on average
        shades = [_CHAIN_SHADES[i % len(_CHAIN_SHADES)] for i in range(len(chains))]
        self.colors = [tuple(int(round(c * s)) for c in panel.color) for s in shades]

    def target(self, t: int) -> np.ndarray:
        if self.fixed:
            return self.fixed_target
        root = self.panel.at(t)[0]
        return np.array([root[0], self.mid_y, root[2]])

    def _grid_segments(self, target: np.ndarray) -> np.ndarray:
        g = self.spacing
        if self.fixed:
            lo, hi = self.grid_extent
        else:
            r = 1.6 * self.h
            lo = np.array([target[0] - r, target[2] - r])
            hi = np.array([target[0] + r, target[2] + r])
        xs = np.arange(math.ceil(lo[0] / g), math.floor(hi[0] / g) + 1) * g
        zs = np.arange(math.ceil(lo[1] / g), math.floor(hi[1] / g) + 1) * g
        y = self.panel.floor
        seg_x = [((x, y, lo[1]), (x, y, hi[1])) for x in xs]
        seg_z = [((lo[0], y, z), (hi[0], y, z)) for z in zs]
        return np.asarray(seg_x + seg_z, dtype=np.float64).reshape(-1, 2, 3)

    def draw(self, draw: Any, t: int, offset: tuple[int, int] = (0, 0)) -> None:
        ox, oy = offset
        target = self.target(t)
        segs = self._grid_segments(target)
        if len(segs):
            uv, _ = self.project(segs, target)
            for (u0, v0), (u1, v1) in uv:
                draw.line([(u0 + ox, v0 + oy), (u1 + ox, v1 + oy)], fill=GRID_COLOR, width=1)
        pose = self.panel.at(t)
        uv, depth = self.project(pose, target)
        order = np.argsort([depth[c].mean() for c in self.chains])  # far chains first (painter's algorithm)
        w = self.line_width
        r = max(1, w // 2)
        for ci in order:
            chain = self.chains[ci]
            pts = [(float(uv[j, 0] + ox), float(uv[j, 1] + oy)) for j in chain]
            draw.line(pts, fill=self.colors[ci], width=w, joint="curve")
            for (u, v) in pts:
                draw.ellipse([u - r, v - r, u + r, v + r], fill=self.colors[ci])
        head = self.head
        hr = max(2, int(round(0.055 * self.h * self.project.scale)))
        u, v = uv[head, 0] + ox, uv[head, 1] + oy
        draw.ellipse([u - hr, v - hr, u + hr, v + hr], outline=self.panel.color, width=max(1, w - 1),
                     fill=BACKGROUND)


# --------------------------------------------------------------------------------------------------------
# layout and frames


def _grid_shape(n: int, layout: tuple[int, int] | None, panels_per_cell: int) -> tuple[int, int]:
    if layout is not None:
        rows, cols = int(layout[0]), int(layout[1])
        if rows < 1 or cols < 1 or rows * cols < n:
            raise ValueError(f"layout {layout} has {rows * cols} cells but there are {n} motions")
        return rows, cols
    cols = max(1, math.ceil(math.sqrt(n / panels_per_cell)))
    return math.ceil(n / cols), cols


def _wrap(text: str, width_px: int, font_size: int, max_lines: int) -> list[str]:
    chars = max(8, int(width_px / (0.52 * font_size)))
    lines = textwrap.wrap(text, width=chars) or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(0, chars - 1)].rstrip() + "…"
    return lines


@dataclass
class _Cell:
    panels: list[_Panel]
    caption: str | None


class _Scene:
    """All cells of an animation or filmstrip, with shared scale so figures are comparable."""

    def __init__(self, cells: list[_Cell], chains: list[list[int]], *, view: View, panel_size: tuple[int, int],
                 layout: tuple[int, int] | None, fixed_camera: bool, font_size: int, line_width: int | None,
                 caption_lines: int = 2) -> None:
        self.cells = cells
        self.panel_size = panel_size
        self.view = view
        self.font_size = font_size
        self.font = _font(font_size)
        self.small_font = _font(max(8, font_size - 2))
        self.panels_per_cell = max(len(c.panels) for c in cells)
        self.rows, self.cols = _grid_shape(len(cells), layout, self.panels_per_cell)
        self.caption_lines = caption_lines if any(c.caption for c in cells) else 0
        self.line_h = int(round(font_size * 1.25))
        self.caption_h = self.caption_lines * self.line_h + (6 if self.caption_lines else 0)
        self.label_h = self.line_h if any(p.label for c in cells for p in c.panels) else 0
        self.cell_w = self.panels_per_cell * panel_size[0]
        self.cell_h = self.caption_h + self.label_h + panel_size[1]
        self.footer_h = self.line_h + 4
        all_panels = [p for c in cells for p in c.panels]
        ref_height = max(p.height for p in all_panels)
        if not ref_height > 0:
            ref_height = 1.0
        pw, ph = panel_size
        if fixed_camera:
            extent = max(max(float(np.ptp(p.joints[..., 0])), float(np.ptp(p.joints[..., 2]))) for p in all_panels)
            scale = min(0.62 * ph / ref_height, 0.8 * pw / max(extent + 0.5 * ref_height, 1e-9))
        else:
            scale = 0.62 * ph / ref_height
        lw = line_width if line_width is not None else max(2, int(round(min(pw, ph) / 85)))
        self.painters = [
            [_PanelPainter(p, chains, view, panel_size, scale, ref_height, fixed_camera, lw) for p in c.panels]
            for c in cells
        ]
        self.num_frames = max(p.length for p in all_panels)

    @property
    def image_size(self) -> tuple[int, int]:
        return self.cols * self.cell_w, self.rows * self.cell_h + self.footer_h

    def cell_origin(self, i: int) -> tuple[int, int]:
        r, c = divmod(i, self.cols)
        return c * self.cell_w, r * self.cell_h

    def base_image(self) -> Any:
        """Background with captions and panel labels (everything that does not move)."""
        from PIL import Image, ImageDraw

        img = Image.new("RGB", self.image_size, BACKGROUND)
        draw = ImageDraw.Draw(img)
        for i, cell in enumerate(self.cells):
            x0, y0 = self.cell_origin(i)
            if cell.caption:
                lines = _wrap(cell.caption, self.cell_w - 8, self.font_size, self.caption_lines)
                for k, line in enumerate(lines):
                    draw.text((x0 + self.cell_w / 2, y0 + 3 + k * self.line_h), line, fill=TEXT_COLOR,
                              font=self.font, anchor="ma")
            for k, panel in enumerate(cell.panels):
                if panel.label:
                    draw.text((x0 + (k + 0.5) * self.panel_size[0], y0 + self.caption_h), panel.label,
                              fill=panel.color, font=self.small_font, anchor="ma")
        return img

    def frame(self, base: Any, t: int, fps: float) -> Any:
        from PIL import ImageDraw

        img = base.copy()
        draw = ImageDraw.Draw(img)
        pw, ph = self.panel_size
        for i, painters in enumerate(self.painters):
            x0, y0 = self.cell_origin(i)
            for k, painter in enumerate(painters):
                px, py = x0 + k * pw, y0 + self.caption_h + self.label_h
                draw_panel = _ClippedDraw(img, (px, py, px + pw, py + ph))
                painter.draw(draw_panel.draw, t, (0, 0))
                draw_panel.commit()
        w, h = self.image_size
        bar_y = h - self.footer_h
        frac = (t + 1) / self.num_frames
        draw.rectangle([0, bar_y, int(round(frac * (w - 1))), bar_y + 2], fill=(160, 160, 160))
        draw.text((w - 4, h - 2), f"frame {t + 1}/{self.num_frames}  {t / fps:5.2f} s", fill=LABEL_COLOR,
                  font=self.small_font, anchor="rd")
        return img


class _ClippedDraw:
    """Draw into a panel-sized scratch image, then paste it, so strokes never spill into neighbours."""

    def __init__(self, image: Any, box: tuple[int, int, int, int]) -> None:
        from PIL import ImageDraw

        self.image = image
        self.box = box
        self.patch = image.crop(box)
        self.draw = ImageDraw.Draw(self.patch)

    def commit(self) -> None:
        self.image.paste(self.patch, self.box[:2])


ROLES = ("generated", "ground truth")


def _build_cells(motions: Any, *, kind: str, lengths: Any, captions: Any, reference: Any,
                 reference_lengths: Any, stats: Any, reference_stats: Any,
                 labels: tuple[str, str], role: str = "generated") -> list[_Cell]:
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}; got {role!r}")
    if reference is not None and role != "generated":
        raise ValueError("role='ground truth' draws motions alone; with reference= the motions are the generated ones")
    gen = as_joint_clips(motions, kind=kind, lengths=lengths, stats=stats, name="motions")
    if captions is None and _is_sample_set(motions):
        captions = getattr(motions, "captions", None)
    caps = _as_list(captions, len(gen), "captions")
    if reference is None:
        color = GT_COLOR if role == "ground truth" else GEN_COLOR
        return [_Cell([_Panel(g, color, None)], c) for g, c in zip(gen, caps)]
    ref = as_joint_clips(reference, kind=kind, lengths=reference_lengths,
                         stats=reference_stats if reference_stats is not None else stats, name="reference")
    if len(ref) != len(gen):
        raise ValueError(f"reference has {len(ref)} motions but motions has {len(gen)}; pass one reference each")
    return [_Cell([_Panel(r, GT_COLOR, labels[0]), _Panel(g, GEN_COLOR, labels[1])], c)
            for r, g, c in zip(ref, gen, caps)]


def _default_fps(cells: list[_Cell], skeleton: Any) -> float:
    fps = getattr(_skeleton_for(cells[0].panels[0].joints.shape[1], skeleton), "fps", None)
    return float(fps) if fps else HUMANML3D_DATASET.fps


def _pad_to_multiple(frame: np.ndarray, m: int) -> np.ndarray:
    h, w = frame.shape[:2]
    ph, pw = (-h) % m, (-w) % m
    if not (ph or pw):
        return frame
    return np.pad(frame, ((0, ph), (0, pw), (0, 0)), constant_values=255)


def render(
    motions: Any,
    path: str | Path,
    *,
    kind: str = "auto",
    captions: Sequence[str] | str | None = None,
    reference: Any = None,
    lengths: Any = None,
    reference_lengths: Any = None,
    fps: float | None = None,
    layout: tuple[int, int] | None = None,
    fixed_camera: bool = False,
    stats: Any = None,
    reference_stats: Any = None,
    skeleton: Any = None,
    view: View | None = None,
    panel_size: tuple[int, int] = (240, 240),
    font_size: int = 13,
    line_width: int | None = None,
    labels: tuple[str, str] = ("ground truth", "generated"),
    max_frames: int | None = None,
    role: str = "generated",
) -> Path:
    """Render stick-figure animations of one or many motions to ``path`` (``.gif`` or ``.mp4``).

    Each motion gets a cell of a grid (``layout=(rows, cols)``, near-square by default) titled with its
    caption; with ``reference`` (ground truth, one per motion) each cell shows ground truth (blue) and the
    motion (orange) side by side; without it motions are drawn in orange, or in blue with
    ``role="ground truth"``. The animation has as many frames as the longest clip (``max_frames``
    caps it); shorter clips hold their last pose. ``fps`` defaults to the dataset's (20; KIT-ML 12.5).
    The camera follows each root unless ``fixed_camera``. Returns the written path.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise ValueError(f"render writes .gif or .mp4; got {path.name!r} (use filmstrip() for a still .png)")
    cells = _build_cells(motions, kind=kind, lengths=lengths, captions=captions, reference=reference,
                         reference_lengths=reference_lengths, stats=stats, reference_stats=reference_stats,
                         labels=labels, role=role)
    chains = _chains_for(cells[0].panels[0].joints.shape[1], skeleton)
    fps = float(fps) if fps is not None else _default_fps(cells, skeleton)
    if not fps > 0:
        raise ValueError(f"fps must be positive; got {fps}")
    scene = _Scene(cells, chains, view=view or View(), panel_size=panel_size, layout=layout,
                   fixed_camera=fixed_camera, font_size=font_size, line_width=line_width)
    n_frames = scene.num_frames if max_frames is None else max(1, min(scene.num_frames, int(max_frames)))
    base = scene.base_image()
    frames = (scene.frame(base, t, fps) for t in range(n_frames))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{suffix}")
    try:
        if suffix == ".gif":
            _write_gif(tmp, frames, fps)
        else:
            _write_mp4(tmp, frames, fps)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _write_gif(path: Path, frames: Any, fps: float) -> None:
    frames = [f.quantize(colors=256, method=2, dither=0) for f in frames]  # 2 = Image.Quantize.FASTOCTREE
    duration = max(20, int(round(1000.0 / fps / 10.0)) * 10)  # GIF delays are in 1/100 s
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:], duration=duration, loop=0,
                   optimize=False, disposal=1)


def _write_mp4(path: Path, frames: Any, fps: float) -> None:
    try:
        import imageio.v2 as iio
        import imageio_ffmpeg  # noqa: F401  (the pip-shipped encoder)
    except ImportError as exc:
        raise ImportError("MP4 output needs imageio and imageio-ffmpeg: pip install 'motioneval[viz]'") from exc
    writer = iio.get_writer(str(path), format="FFMPEG", mode="I", fps=fps, codec="libx264",
                            pixelformat="yuv420p", quality=8, macro_block_size=1,
                            ffmpeg_log_level="error")
    try:
        for f in frames:
            writer.append_data(_pad_to_multiple(np.asarray(f), 16))
    finally:
        writer.close()


def filmstrip(
    motions: Any,
    path: str | Path,
    *,
    num_frames: int = 6,
    kind: str = "auto",
    captions: Sequence[str] | str | None = None,
    reference: Any = None,
    lengths: Any = None,
    reference_lengths: Any = None,
    fps: float | None = None,
    stats: Any = None,
    reference_stats: Any = None,
    skeleton: Any = None,
    view: View | None = None,
    panel_size: tuple[int, int] = (160, 200),
    font_size: int = 13,
    line_width: int | None = None,
    labels: tuple[str, str] = ("ground truth", "generated"),
    role: str = "generated",
) -> Path:
    """Write a still PNG of ``num_frames`` evenly spaced key frames per motion (one row per motion).

    With ``reference`` each motion's row is preceded by its ground-truth row (blue; generated in orange);
    ``role="ground truth"`` draws lone motions in the ground-truth colour.
    Every key frame is drawn with the camera on the root at that instant over a floor grid fixed in the
    world, so progress along the ground shows as the grid shifting; key frames are labelled with their time.
    """
    from PIL import Image, ImageDraw

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"filmstrip writes a .png; got {path.name!r}")
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1; got {num_frames}")
    cells = _build_cells(motions, kind=kind, lengths=lengths, captions=captions, reference=reference,
                         reference_lengths=reference_lengths, stats=stats, reference_stats=reference_stats,
                         labels=labels, role=role)
    chains = _chains_for(cells[0].panels[0].joints.shape[1], skeleton)
    fps = float(fps) if fps is not None else _default_fps(cells, skeleton)
    # one scene row per (cell, panel): rows of single-panel cells, reusing the animation painter
    rows = [( _Cell([p], cell.caption if k == 0 else None), p) for cell in cells for k, p in enumerate(cell.panels)]
    scene = _Scene([r[0] for r in rows], chains, view=view or View(), panel_size=panel_size,
                   layout=(len(rows), 1), fixed_camera=False, font_size=font_size, line_width=line_width,
                   caption_lines=1)
    pw, ph = panel_size
    font = _font(font_size)
    small = _font(max(8, font_size - 2))
    line_h = int(round(font_size * 1.25))
    side_w = 0
    row_heights = [(line_h + 4 if r[0].caption else 0) + ph + line_h for r in rows]
    width = side_w + num_frames * pw
    img = Image.new("RGB", (width, sum(row_heights)), BACKGROUND)
    draw = ImageDraw.Draw(img)
    y = 0
    for (cell, panel), painters, _rh in zip(rows, scene.painters, row_heights):
        painter = painters[0]
        if cell.caption:
            text = _wrap(cell.caption, width - 8, font_size, 1)[0]
            draw.text((width / 2, y + 2), text, fill=TEXT_COLOR, font=font, anchor="ma")
            y += line_h + 4
        idx = np.unique(np.round(np.linspace(0, panel.length - 1, num_frames)).astype(int))
        for k, t in enumerate(idx):
            x0 = side_w + k * pw
            clip = _ClippedDraw(img, (x0, y, x0 + pw, y + ph))
            painter.draw(clip.draw, int(t))
            clip.commit()
            draw.text((x0 + pw / 2, y + ph), f"{t / fps:.2f} s", fill=LABEL_COLOR, font=small, anchor="ma")
        if panel.label:
            draw.text((4, y + 2), panel.label, fill=panel.color, font=small, anchor="la")
        y += ph + line_h
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial.png")
    try:
        img.save(tmp, format="PNG")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
