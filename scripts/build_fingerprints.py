"""Build ``src/motioneval/assets/fingerprints.json`` from byte-exact copies of the public reference files.

Usage: ``python scripts/build_fingerprints.py /work/shared/data`` (the folder with ``SOURCES.txt``). Every
digest, shape and value is computed here from the files; nothing is typed in by hand except the known-bad
clip ids, which cite ``protocol.md``.
"""
from __future__ import annotations

import hashlib
import json
import pickle
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "src" / "motioneval" / "assets" / "fingerprints.json"

#: relative path in the data folder -> (role, paired std file for a mean, layout dataset)
FILES = {
    "HumanML3D/Mean.npy": ("dataset_mean", "HumanML3D/Std.npy", "humanml3d"),
    "HumanML3D/Std.npy": ("dataset_std", None, "humanml3d"),
    "HumanML3D/test.txt": ("split", None, "humanml3d"),
    "HumanML3D/train.txt": ("split", None, "humanml3d"),
    "HumanML3D/val.txt": ("split", None, "humanml3d"),
    "dataset/t2m_mean.npy": ("evaluator_mean", "dataset/t2m_std.npy", "humanml3d"),
    "dataset/t2m_std.npy": ("evaluator_std", None, "humanml3d"),
    "dataset/kit_mean.npy": ("evaluator_mean", "dataset/kit_std.npy", "kit"),
    "dataset/kit_std.npy": ("evaluator_std", None, "kit"),
    "glove/our_vab_words.pkl": ("vocabulary", None, None),
    "glove/our_vab_idx.pkl": ("vocabulary", None, None),
}
SHIP_IDS = {"HumanML3D/test.txt"}  # split whose ids are shipped, to name missing/extra ids


def main(data: Path) -> None:
    sources = {}
    for line in (data / "SOURCES.txt").read_text().splitlines():
        parts = line.split("\t")
        if len(parts) == 4 and not line.startswith("#"):
            sources[parts[0]] = {"source": parts[1], "git_blob": parts[2].split()[-1]}
    files = {}
    for rel, (role, paired, dataset) in FILES.items():
        path = data / rel
        raw = path.read_bytes()
        entry = {"role": role, "dataset": dataset, "sha256": hashlib.sha256(raw).hexdigest(), "size": len(raw),
                 **sources[rel]}
        if rel.endswith(".npy"):
            arr = np.load(path, allow_pickle=False)
            entry.update(shape=list(arr.shape), dtype=str(arr.dtype), values=[float(v) for v in arr.tolist()])
            if paired:
                entry["paired_std"] = paired
        elif rel.endswith(".txt"):
            ids = [s.strip() for s in raw.decode("utf-8").splitlines() if s.strip()]
            entry.update(num_ids=len(ids), first_id=ids[0],
                         sorted_ids_sha256=hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest())
            if rel in SHIP_IDS:
                entry["ids"] = ids
        elif rel.endswith(".pkl"):
            obj = pickle.loads(raw)  # our own byte-exact public copy, read once at build time
            entry.update(python_type=type(obj).__name__, num_entries=len(obj))
        files[rel] = entry
    doc = {
        "about": "sha256, size, shape/dtype and (for the small statistics arrays) the values of public reference "
                 "files, computed by scripts/build_fingerprints.py from byte-exact exports of the public "
                 "repositories (source = repo@commit:path, git blob id). Files not listed here (e.g. the "
                 "evaluator checkpoint) are reported as 'not verified'.",
        "files": files,
        "known_bad_clips": {
            "humanml3d": {
                "ids": ["007975", "M007975"],
                "split": "test",
                "reason": "come out NaN in many local re-processings of HumanML3D; the reference loop then fails "
                          "late with an opaque FID error",
                "citation": "motioneval spec protocol.md, 'Known data gotchas'",
            }
        },
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data"))
