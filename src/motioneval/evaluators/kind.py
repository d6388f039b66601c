"""Which evaluator family a folder holds (``t2m`` or ``tmr``), from its layout alone (no torch import)."""
from __future__ import annotations

from pathlib import Path

KINDS = ("t2m", "tmr")


def _is_tmr_run(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any(folder.glob("*_weights/text_encoder.*"))


def _is_t2m(folder: Path) -> bool:
    rel = "text_mot_match/model/finest.tar"
    return ((folder / rel).is_file() or any(folder.glob(f"*/{rel}")) or any(folder.glob(f"checkpoints/*/{rel}"))
            or folder.name == "finest.tar")


def detect_evaluator_kind(path: str | Path) -> str:
    """``"tmr"`` for a TMR run folder (``config.json`` + ``<ckpt>_weights/text_encoder.pt``), ``"t2m"`` for a T2M
    evaluator folder (``[<dataset>/]text_mot_match/model/finest.tar``) or a ``finest.tar``; otherwise
    ``ValueError`` saying what was looked for (pass ``--evaluator-kind`` then)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"evaluator path {p} does not exist")
    tmr, t2m = (p.is_dir() and _is_tmr_run(p)), _is_t2m(p)
    if tmr and t2m:
        raise ValueError(f"{p} holds both a TMR run and a T2M evaluator; choose with --evaluator-kind t2m|tmr")
    if tmr:
        return "tmr"
    if t2m:
        return "t2m"
    runs = [r for r in p.glob("models/*") if r.is_dir() and _is_tmr_run(r)] if p.is_dir() else []
    hint = (f"; it is a TMR checkout: pass one of its runs, e.g. {runs[0]}" if runs else "")
    raise ValueError(
        f"cannot tell the evaluator kind of {p}: no TMR run (config.json + last_weights/text_encoder.pt) and no T2M "
        f"checkpoint (t2m/text_mot_match/model/finest.tar){hint}"
    )
