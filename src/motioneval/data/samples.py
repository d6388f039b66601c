"""Sample sets and the one dispatcher over their sources.

:func:`load_samples` reads any supported source; each format lives in its own module below this one:

- :mod:`~motioneval.data.sample_set`: :class:`SampleSet` and our pickle-free ``.npz`` interchange format;
- :mod:`~motioneval.data.sample_folder`: a folder of per-sample ``.npy`` files with a manifest;
- :mod:`~motioneval.data.mdm_results`: MDM's ``results.npy`` (explicit pickle opt-in).

The names of those modules are re-exported here (``from motioneval.data.samples import SampleSet`` keeps
working).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .mdm_results import read_mdm_results
from .sample_folder import FOLDER_FORMAT as FOLDER_FORMAT
from .sample_folder import read_sample_folder as read_sample_folder
from .sample_set import FORMAT as FORMAT
from .sample_set import KINDS as KINDS
from .sample_set import NORMALIZATIONS as NORMALIZATIONS
from .sample_set import READABLE_FORMATS as READABLE_FORMATS
from .sample_set import PathLike as PathLike
from .sample_set import SampleSet as SampleSet
from .sample_set import SampleSetError


def load_samples(path: PathLike, *, allow_pickle: bool = False, normalization: str | None = None,
                 kind: str | None = None, allow_outside: bool = False) -> SampleSet:
    """Read any supported source: our ``.npz``, a per-sample folder, or MDM's ``results.npy``.

    ``allow_pickle=True`` is required for ``results.npy`` (unpickling executes code from the file);
    ``normalization``/``kind``/``allow_outside`` apply to folders (see :func:`read_sample_folder`).
    """
    path = Path(path)
    if path.is_dir():
        return read_sample_folder(path, normalization=normalization, kind=kind, allow_outside=allow_outside)
    if path.suffix == ".npz":
        return SampleSet.load(path)
    if path.suffix == ".npy":
        header = _npy_header(path)
        if header is None and path.is_file():
            size = path.stat().st_size
            raise SampleSetError(f"{path}: " + ("an empty file (0 bytes)" if size == 0 else
                                               f"not a NumPy .npy file ({size} bytes, truncated or another format)")
                                 + "; regenerate or re-download it")
        if header is not None and header[1] != np.dtype(object):
            shape, dtype = header
            raise SampleSetError(
                f"{path} holds a plain {dtype} array of shape {shape}, not MDM's results.npy (a pickled dict with "
                f"motions, captions and lengths) nor a motioneval sample file; captions and lengths are needed: "
                f"save a SampleSet (.npz) or a sample folder with a manifest (docs/formats.md)")

        return read_mdm_results(path, allow_pickle=allow_pickle)
    if not path.exists():
        raise FileNotFoundError(f"sample source not found: {path}")
    raise ValueError(f"{path}: unknown sample source; expected a .npz sample file, a folder with a manifest, "
                     f"or MDM's results.npy")


def _npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype] | None:
    """``(shape, dtype)`` declared by an ``.npy`` header, without reading the data (``None``: not an .npy)."""
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(fh)
    except Exception:  # noqa: BLE001 - not readable as .npy: the reader that follows reports it
        return None
    return tuple(shape), np.dtype(dtype)
