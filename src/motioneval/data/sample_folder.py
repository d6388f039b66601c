"""A folder of per-sample ``.npy`` files described by ``manifest.json`` or ``manifest.csv`` (``docs/formats.md``).

One sample source per module: this one reads folders into a :class:`~motioneval.data.sample_set.SampleSet`;
:func:`motioneval.data.samples.load_samples` picks the reader for a path.
"""
from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .. import _npio
from .sample_set import SampleSet, SampleSetError

PathLike = str | os.PathLike
FOLDER_FORMAT = "motioneval.sample-folder/1"


def _contained_file(folder: Path, name: Any, where: str, allow_outside: bool) -> Path:
    """The file a manifest row names, which must stay inside ``folder`` unless ``allow_outside``: no
    absolute path, no ``..`` component, no symbolic link (at any level) resolving outside the folder."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise SampleSetError(f"{where}: 'file' must be a non-empty file name; got {name!r}")
    file = folder / name
    if allow_outside:
        return file
    rel = Path(name)
    if rel.is_absolute() or rel.drive or ".." in rel.parts or ".." in Path(name.replace("\\", "/")).parts:
        raise SampleSetError(f"{where}: file {name!r} reaches outside the sample folder {folder}; manifests name "
                             f"files inside their folder (pass --allow-outside-files / allow_outside=True to "
                             f"read it anyway)")
    try:
        inside = file.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):  # a symlink loop
        inside = False
    if not inside:
        raise SampleSetError(f"{where}: file {name!r} is a symbolic link to {file.resolve(strict=False)}, outside "
                             f"the sample folder {folder} (pass --allow-outside-files / allow_outside=True to read "
                             f"it anyway)")
    return file


def read_sample_folder(path: PathLike, *, normalization: str | None = None, kind: str | None = None,
                       allow_outside: bool = False) -> SampleSet:
    """Read a folder of per-sample ``.npy`` files described by ``manifest.json`` or ``manifest.csv``.

    Files must lie inside the folder (no absolute paths, ``..`` or symbolic links out of it) unless
    ``allow_outside=True``: a manifest from elsewhere cannot make motioneval read arbitrary files.

    Each manifest row has ``id`` and ``caption``, optionally ``tokens`` (list, or space-separated in CSV),
    ``length`` (default: the file's frame count), ``file`` (default ``<id>.npy``) and ``repetition``
    (default 0). Every frame of a file is kept: frames past ``length`` are the generator's own output
    (``SampleSet.frames`` is the file's frame count). A file holds ``(T, D)`` features or ``(T, J, 3)`` joints. ``manifest.json`` is an object
    with ``samples`` (the rows) and optionally ``kind``, ``normalization`` and ``metadata``; arguments given
    here override it. Features need a normalization (``"raw"``, ``"dataset"`` or ``"evaluator"``).
    """
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"sample folder not found: {folder}")
    header, rows, manifest = _read_manifest(folder)
    kind = kind or header.get("kind")
    normalization = normalization or header.get("normalization")
    if not isinstance(header.get("metadata") or {}, dict):
        raise SampleSetError(f"{manifest}: 'metadata' must be an object; got {type(header['metadata']).__name__}")
    metadata = dict(header.get("metadata") or {})
    ordered, num_repetitions = _order_rows(rows, manifest)

    arrays: list[np.ndarray] = []
    lengths: list[int] = []
    files_seen: dict[Path, str] = {}
    for row in ordered:
        where = f"{manifest}: sample {row['id']!r}" + (f" repetition {row['repetition']}" if num_repetitions > 1 else "")
        file = _contained_file(folder, row.get("file") or f"{row['id']}.npy", where, allow_outside)
        if file in files_seen:
            raise SampleSetError(f"{where}: file {file.name} is also used by {files_seen[file]}; give each row its "
                                 f"own 'file'")
        files_seen[file] = where
        if not file.is_file():
            if file.exists():
                raise SampleSetError(f"{where}: {file} is not a regular file (a folder?)")
            raise FileNotFoundError(f"{where}: file {file} not found")
        try:
            arr = _npio.load(file, allow_pickle=False)
        except Exception as exc:
            raise SampleSetError(f"{where}: cannot read {file}: {exc}") from exc
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] != 3):
            raise SampleSetError(f"{where}: {file.name} has shape {arr.shape}; expected (T, D) features or "
                                 f"(T, J, 3) joints")
        file_kind = "features" if arr.ndim == 2 else "joints"
        kind = kind or file_kind
        if file_kind != kind:
            raise SampleSetError(f"{where}: {file.name} holds {file_kind} (shape {arr.shape}) but the set is {kind}")
        if arrays and arr.shape[1:] != arrays[0].shape[1:]:
            raise SampleSetError(f"{where}: {file.name} has frames of shape {arr.shape[1:]}, the first file "
                                 f"{arrays[0].shape[1:]}")
        length = row.get("length")
        if length in (None, ""):
            length = arr.shape[0]
        try:
            length = int(length)
        except (TypeError, ValueError):
            raise SampleSetError(f"{where}: length {row.get('length')!r} is not an integer") from None
        if not 1 <= length <= arr.shape[0]:
            raise SampleSetError(f"{where}: length {length} but {file.name} has {arr.shape[0]} frames")
        arrays.append(arr)
        lengths.append(length)
    if not arrays:
        raise SampleSetError(f"{manifest}: no samples listed")
    if kind == "joints":
        normalization = normalization or "raw"
    if normalization is None:
        raise SampleSetError(f"{manifest}: say how the features are normalized: 'normalization' in the manifest "
                             f"or normalization= ('raw', 'dataset' or 'evaluator'; CLI: --normalization)")
    t_max = max(len(a) for a in arrays)
    motions = np.zeros((len(arrays), t_max) + arrays[0].shape[1:], dtype=np.float32)
    for i, arr in enumerate(arrays):
        motions[i, : len(arr)] = arr
    metadata.setdefault("source", {"format": "sample-folder", "path": str(folder), "manifest": manifest.name})
    tokens = [row.get("tokens") for row in ordered]
    has_tokens = [t is not None for t in tokens]
    if any(has_tokens) and not all(has_tokens):
        missing = ordered[has_tokens.index(False)]["id"]
        raise SampleSetError(f"{manifest}: tokens are given for some samples but not for {missing!r}")
    try:
        return SampleSet(
            captions=[row["caption"] for row in ordered],
            lengths=np.asarray(lengths, dtype=np.int64),
            motions=motions,
            kind=kind,  # type: ignore[arg-type]
            normalization=normalization,
            tokens=tokens if all(has_tokens) else None,  # type: ignore[arg-type]
            ids=[row["id"] for row in ordered],
            num_repetitions=num_repetitions,
            metadata=metadata,
            frames=np.asarray([len(a) for a in arrays], dtype=np.int64),
        )
    except SampleSetError as exc:
        raise SampleSetError(f"{manifest}: {exc}") from exc


def _read_manifest(folder: Path) -> tuple[dict[str, Any], list[dict[str, Any]], Path]:
    json_path, csv_path = folder / "manifest.json", folder / "manifest.csv"
    if json_path.is_file():
        try:
            doc = json.loads(json_path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise SampleSetError(f"{json_path}: not valid JSON: {exc}") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("samples"), list):
            raise SampleSetError(f"{json_path}: expected an object with a 'samples' list")
        fmt = doc.get("format", FOLDER_FORMAT)
        if fmt != FOLDER_FORMAT:
            raise SampleSetError(f"{json_path}: format {fmt!r} not supported (expected {FOLDER_FORMAT!r})")
        rows = doc["samples"]
        for n, row in enumerate(rows):
            if not isinstance(row, dict):
                raise SampleSetError(f"{json_path}: samples[{n}] is not an object")
            if isinstance(row.get("tokens"), str):
                row["tokens"] = row["tokens"].split(" ")
        _require_columns(rows, json_path, lambda n: f"samples[{n}]")
        return doc, rows, json_path
    if csv_path.is_file():
        from .captions import utf8_error_where

        try:
            text = csv_path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SampleSetError(f"{csv_path}: not UTF-8 text at {utf8_error_where(exc)}; save it as UTF-8") from None
        try:
            reader = csv.DictReader(io.StringIO(text, newline=""))
            rows = [dict(r) for r in reader]
            columns = reader.fieldnames or []
        except csv.Error as exc:
            raise SampleSetError(f"{csv_path}: not a readable CSV file: {exc}") from None
        unknown = set(columns) - {"id", "caption", "tokens", "length", "file", "repetition"}
        if unknown:
            raise SampleSetError(f"{csv_path}: unknown column(s) {sorted(unknown)}; allowed: id, caption, tokens, "
                                 f"length, file, repetition")
        for row in rows:
            row["tokens"] = row["tokens"].split(" ") if row.get("tokens") else None
        _require_columns(rows, csv_path, lambda n: f"line {n + 2}")
        return {}, rows, csv_path
    raise FileNotFoundError(f"{folder}: no manifest.json or manifest.csv (see docs/formats.md)")


def _require_columns(rows: list[dict[str, Any]], manifest: Path, where: Any) -> None:
    for n, row in enumerate(rows):
        for key in ("id", "caption"):
            if not isinstance(row.get(key), str) or (key == "id" and not row[key]):
                raise SampleSetError(f"{manifest}, {where(n)}: {key!r} must be a non-empty string")


def _order_rows(rows: list[dict[str, Any]], manifest: Path) -> tuple[list[dict[str, Any]], int]:
    """Arrange manifest rows repetition-major; each id must appear once per repetition 0..R-1."""
    by_rep: dict[int, dict[str, dict[str, Any]]] = {}
    for row in rows:
        rep = row.get("repetition")
        try:
            rep = 0 if rep in (None, "") else int(rep)
        except (TypeError, ValueError):
            raise SampleSetError(f"{manifest}: sample {row['id']!r}: repetition {rep!r} is not an integer") from None
        if rep < 0:
            raise SampleSetError(f"{manifest}: sample {row['id']!r}: negative repetition {rep}")
        row["repetition"] = rep
        group = by_rep.setdefault(rep, {})
        if row["id"] in group:
            raise SampleSetError(f"{manifest}: sample {row['id']!r} listed twice in repetition {rep}")
        group[row["id"]] = row
    num_repetitions = len(by_rep)
    if sorted(by_rep) != list(range(num_repetitions)):
        raise SampleSetError(f"{manifest}: repetitions must be numbered 0..R-1; found {sorted(by_rep)}")
    order = list(by_rep.get(0, {}))
    ordered: list[dict[str, Any]] = []
    for rep in range(num_repetitions):
        group = by_rep[rep]
        if set(group) != set(order):
            diff = sorted(set(order) ^ set(group))
            raise SampleSetError(f"{manifest}: repetition {rep} does not list the same ids as repetition 0 "
                                 f"(differences: {diff[:10]})")
        ordered.extend(group[i] for i in order)
    return ordered, num_repetitions
