"""The protocol's frame and dimension facts are written out once, in ``motioneval.constants``.

Scans the code (not comments, docstrings or messages: numeric literals only) of the packages that already read
every such fact from ``motioneval.constants``; the consolidation step extends ``SCANNED`` to the whole library.
"""
from __future__ import annotations

import ast
from pathlib import Path

import motioneval
from motioneval import constants

PACKAGE = Path(motioneval.__file__).resolve().parent
SCANNED = ("protocol", "cli")
#: 196 frames, 263 / 251 feature dims, KIT-ML's 12.5 fps: facts that have no other meaning in the code
FACTS = {constants.MAX_MOTION_FRAMES, constants.HUMANML3D_DATASET.dim, constants.KIT_DATASET.dim,
         constants.KIT_DATASET.fps}


def stray_literals(path: Path) -> list[str]:
    """``line: value`` of every numeric literal in ``path`` that is one of :data:`FACTS`, in source order."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    hits = [node for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and type(node.value) in (int, float) and node.value in FACTS]
    return [f"{node.lineno}: {node.value!r}" for node in sorted(hits, key=lambda n: (n.lineno, n.col_offset))]


def test_protocol_and_cli_read_frame_and_dim_facts_from_constants():
    found = [f"{path.relative_to(PACKAGE)}:{hit}" for pkg in SCANNED for path in sorted((PACKAGE / pkg).rglob("*.py"))
             for hit in stray_literals(path)]
    assert not found, "write these as motioneval.constants names:\n" + "\n".join(found)


def test_the_scan_sees_literals(tmp_path):
    f = tmp_path / "x.py"
    f.write_text('"""196 frames in a docstring is fine"""\nmax_frames = 196\ndims = {263: "a", 251.0: "b"}\n'
                 'fps = 12.5\nmessage = "263"\n')
    assert stray_literals(f) == ["2: 196", "3: 263", "3: 251.0", "4: 12.5"]
