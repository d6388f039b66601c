"""Doctor checks of a TMR evaluator's inputs: run folder, config, weights, motion statistics, text model.

A TMR evaluator (:class:`motioneval.evaluators.tmr.TMREvaluator`) needs four things, in TMR's own layout:

``tmr_config``      ``<run>/config.json``: TMR's resolved config, with ``model.motion_encoder`` and
                    ``model.text_encoder`` (ACTOR-style encoder sizes; equal latent sizes; motion input 263-d
                    HumanML3D features at 20 fps);
``tmr_weights``     ``<run>/<ckpt>_weights/{motion_encoder,text_encoder}.{safetensors,pt}``: every tensor name
                    and shape against the config (needs torch; without it only presence and sha256 are checked);
``tmr_stats``       TMR's own motion statistics ``mean``/``std`` (``.pt`` or ``.npy``), searched as the loader
                    does (``data.motion_loader.normalizer.base_dir`` relative to the run, its parent and
                    grand-parent, then ``<run>/stats``, ``<run>``; or ``stats=``): shape ``(nfeats,)``, finite,
                    std > 0;
``tmr_text_model``  the frozen text model (DistilBERT) as a local ``transformers`` folder (``text_model=``, or a
                    folder named as ``data.text_to_token_emb.modelname`` next to the run, its parent or
                    grand-parent): ``config.json`` whose hidden size equals the text encoder's input, tokenizer
                    files, weights; ``transformers`` installed.

Each check gives :class:`~motioneval.diagnostics.findings.Finding` objects (ok / info / warning / error) with the
file paths, and sha256 digests in the weights finding's numbers. Nothing is downloaded and no pickle is run
(``.pt`` files are read with ``weights_only=True``).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .. import _npio
from .._io import sha256_file
from ..constants import HUMANML3D_DATASET
from .findings import Finding

__all__ = ["TMR_CHECKS", "check_tmr_folder", "find_tmr_stats", "find_tmr_text_model"]

TMR_CHECKS = ("tmr_config", "tmr_weights", "tmr_stats", "tmr_text_model")
_ENCODERS = ("motion_encoder", "text_encoder")
_REQUIRED = ("nfeats", "vae", "latent_dim", "ff_size", "num_layers", "num_heads")
#: TMR reads HumanML3D "Guo" features (all dims) at the dataset's frame rate
_TMR_FPS = HUMANML3D_DATASET.fps
_MOTION_NFEATS = HUMANML3D_DATASET.dim
_DEFAULT_TEXT_MODEL = "distilbert-base-uncased"


def _get(config: dict[str, Any], *keys: str) -> Any:
    node: Any = config
    for k in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(k)
    return node


def find_tmr_stats(folder: str | os.PathLike[str], config: dict[str, Any],
                   stats: str | os.PathLike[str] | None = None) -> tuple[Path, Path] | None:
    """``(mean, std)`` paths of TMR's motion statistics, in the order ``TMREvaluator.load`` searches; ``None``."""
    folder = Path(folder)
    if stats is not None:
        candidates = [Path(stats)]
    else:
        base = _get(config, "data", "motion_loader", "normalizer", "base_dir")
        candidates = [r / str(base) for r in (folder, folder.parent, folder.parent.parent)] if base else []
        candidates += [folder / "stats", folder]
    for c in candidates:
        for ext in (".pt", ".npy"):
            m, s = c / f"mean{ext}", c / f"std{ext}"
            if m.is_file() and s.is_file():
                return m, s
    return None


def find_tmr_text_model(folder: str | os.PathLike[str], config: dict[str, Any],
                        text_model: str | os.PathLike[str] | None = None) -> Path | None:
    """The local text-model folder ``TMREvaluator.load`` would use (``text_model`` if a folder, else the config's
    model name next to the run, its parent or grand-parent); ``None`` when there is none."""
    if text_model is not None:
        return Path(text_model) if Path(text_model).is_dir() else None
    folder = Path(folder)
    name = str(_get(config, "data", "text_to_token_emb", "modelname") or _DEFAULT_TEXT_MODEL)
    for root in (folder, folder.parent, folder.parent.parent):
        if (root / name).is_dir():
            return root / name
    return None


def _encoder_problems(block: Any, name: str) -> list[str]:
    if not isinstance(block, dict):
        return [f"model.{name} is missing"]
    out = []
    target = block.get("_target_")
    if target is not None and not str(target).endswith("ACTORStyleEncoder"):
        out.append(f"model.{name}._target_ is {target!r}; only TMR's ACTORStyleEncoder is supported")
    missing = [k for k in _REQUIRED if k not in block]
    if missing:
        out.append(f"model.{name} lacks {missing}")
        return out
    for k in _REQUIRED:
        v = block[k]
        if k == "vae":
            if not isinstance(v, bool):
                out.append(f"model.{name}.vae must be true or false; got {v!r}")
        elif isinstance(v, bool) or not isinstance(v, int) or v < 1:
            out.append(f"model.{name}.{k} must be a positive integer; got {v!r}")
    if not out and block["latent_dim"] % block["num_heads"]:
        out.append(f"model.{name}: latent_dim {block['latent_dim']} is not divisible by num_heads {block['num_heads']}")
    return out


def _config_findings(folder: Path) -> tuple[list[Finding], dict[str, Any] | None]:
    path = folder / "config.json"
    if not path.is_file():
        hint = (" It looks like a TMR training folder: split logs/checkpoints/*.ckpt with TMR's extract.py first."
                if (folder / "logs" / "checkpoints").is_dir() else "")
        runs = [r for r in folder.glob("models/*") if (r / "config.json").is_file()]
        if runs:
            hint += f" It looks like a TMR checkout: point at one of its runs, e.g. {runs[0]}."
        return [Finding("tmr_config", "error", "no config.json in the TMR folder",
                        f"{folder} has no config.json. A TMR run folder (e.g. models/tmr_humanml3d_guoh3dfeats) holds "
                        f"config.json and last_weights/{{motion_encoder,text_encoder}}.pt.{hint}",
                        "Point --evaluator at the run folder TMR's download script or training created.")], None
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return [Finding("tmr_config", "error", "config.json cannot be read",
                        f"{path}: {exc}.", "Restore the run's config.json (TMR writes it when training).")], None
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
        return [Finding("tmr_config", "error", "config.json has no 'model' section",
                        f"{path} is not TMR's resolved config (expected model.motion_encoder and model.text_encoder).",
                        "Restore the run's config.json.")], None
    problems = [p for name in _ENCODERS for p in _encoder_problems(config["model"].get(name), name)]
    if problems:
        return [Finding("tmr_config", "error", "config.json does not describe TMR's encoders",
                        f"{path}: " + "; ".join(problems) + ".", "Restore the run's config.json.")], None
    enc = {n: config["model"][n] for n in _ENCODERS}
    findings = []
    numbers = {f"{n}.{k}": enc[n][k] for n in _ENCODERS for k in ("nfeats", "latent_dim", "num_layers")}
    if enc["motion_encoder"]["latent_dim"] != enc["text_encoder"]["latent_dim"]:
        findings.append(Finding("tmr_config", "error", "motion and text encoders have different latent sizes",
                                f"{path}: {enc['motion_encoder']['latent_dim']} vs {enc['text_encoder']['latent_dim']}; "
                                f"their embeddings could not be compared.", "Restore the run's config.json.",
                                numbers=numbers))
        return findings, None
    fps = _get(config, "data", "motion_loader", "fps")
    nfeats = enc["motion_encoder"]["nfeats"]
    notes = []
    if nfeats != _MOTION_NFEATS:
        notes.append(f"the motion encoder reads {nfeats}-d features, not TMR's {_MOTION_NFEATS}-d HumanML3D features; "
                     f"motioneval feeds it HumanML3D features, which will be refused")
    if fps is not None and float(fps) != _TMR_FPS:
        notes.append(f"data.motion_loader.fps is {fps}, not TMR's {_TMR_FPS:g}: the evaluator was trained on motions at "
                     f"another frame rate than the HumanML3D features evaluated")
    if notes:
        findings.append(Finding("tmr_config", "warning", "TMR config differs from TMR's motion input",
                                f"{path}: " + "; ".join(notes) + ".",
                                "Use a TMR model trained on HumanML3D (guoh3dfeats) features at 20 fps.", numbers=numbers))
    else:
        findings.append(Finding("tmr_config", "ok", "TMR config read",
                                f"{path}: motion encoder {nfeats} -> {enc['motion_encoder']['latent_dim']}, text encoder "
                                f"{enc['text_encoder']['nfeats']} -> {enc['text_encoder']['latent_dim']}.", numbers=numbers))
    return findings, config


def _weights_findings(folder: Path, config: dict[str, Any], ckpt: str, load_weights: bool) -> list[Finding]:
    wdir = folder / f"{ckpt}_weights"
    if not wdir.is_dir():
        return [Finding("tmr_weights", "error", f"no {ckpt}_weights folder",
                        f"{wdir} does not exist; TMR keeps each module's weights there "
                        f"({ckpt}_weights/motion_encoder.pt, text_encoder.pt).",
                        "Download the model again or run TMR's extract.py on the checkpoint.")]
    paths: dict[str, Path] = {}
    missing = []
    for name in _ENCODERS:
        hit = next((wdir / f"{name}{ext}" for ext in (".safetensors", ".pt") if (wdir / f"{name}{ext}").is_file()), None)
        if hit is None:
            missing.append(f"{name}.pt")
        else:
            paths[name] = hit
    if missing:
        return [Finding("tmr_weights", "error", "TMR encoder weights missing",
                        f"{wdir} lacks {', '.join(missing)} (found {sorted(p.name for p in wdir.iterdir())}).",
                        "Download the model again or run TMR's extract.py on the checkpoint.")]
    digests = {str(p): sha256_file(p) for p in paths.values()}
    if not load_weights:
        return [Finding("tmr_weights", "info", "TMR weights present (not read)",
                        "Tensor names and shapes were not checked (load_weights=False).", numbers={"sha256": digests})]
    try:
        from ..evaluators.tmr import _read_state_dict
        from ..evaluators.tmr_modules import TMREncoderConfig, check_state_dict
    except ImportError as exc:
        return [Finding("tmr_weights", "info", "TMR weights present; shapes not checked",
                        f"Checking tensor names and shapes needs PyTorch ({exc}).", "pip install 'motioneval[torch]'",
                        numbers={"sha256": digests})]
    errors = []
    for name, path in paths.items():
        try:
            conf = TMREncoderConfig.from_tmr(config["model"][name], source=f"config.json model.{name}")
            check_state_dict(_read_state_dict(path), conf, source=str(path))
        except (ValueError, KeyError, TypeError) as exc:
            errors.append(str(exc))
    if errors:
        return [Finding("tmr_weights", "error", "TMR weights do not match the config",
                        " ".join(errors), "Use the weights and config.json of the same run; download them again if "
                        "a file is truncated.", numbers={"sha256": digests})]
    return [Finding("tmr_weights", "ok", "TMR weights match the config",
                    f"Every tensor name and shape of {', '.join(p.name for p in paths.values())} matches config.json.",
                    numbers={"sha256": digests})]


def _read_vector(path: Path) -> np.ndarray:
    if path.suffix == ".npy":
        return np.asarray(_npio.load(path, allow_pickle=False), dtype=np.float64)
    import torch

    t = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"holds a {type(t).__name__}, not one tensor")
    return np.asarray(t.detach().to(torch.float64).numpy())


def _stats_findings(folder: Path, config: dict[str, Any], stats: Any) -> list[Finding]:
    found = find_tmr_stats(folder, config, stats)
    base = _get(config, "data", "motion_loader", "normalizer", "base_dir")
    if found is None:
        where = f"{stats}" if stats is not None else (f"{base} relative to {folder}, its parent and grand-parent, "
                                                      f"{folder / 'stats'} and {folder}")
        return [Finding("tmr_stats", "error", "TMR's motion statistics not found",
                        f"No mean/std (.pt or .npy) in {where}. TMR normalizes motions with its own statistics, "
                        f"kept in its repository (stats/<dataset>/guoh3dfeats/), not in the downloaded run folder.",
                        "Pass the folder with --tmr-stats (Python: stats=); do not substitute the dataset's "
                        "Mean.npy/Std.npy: they are other numbers and shift every embedding.")]
    mean_path, std_path = found
    nfeats = int(config["model"]["motion_encoder"]["nfeats"])
    try:
        mean, std = _read_vector(mean_path), _read_vector(std_path)
    except ImportError:
        return [Finding("tmr_stats", "info", "TMR statistics found; not read",
                        f"{mean_path} and {std_path} are torch files; reading them needs PyTorch.",
                        "pip install 'motioneval[torch]'")]
    except Exception as exc:  # noqa: BLE001 - any unreadable file is reported with its path
        return [Finding("tmr_stats", "error", "TMR statistics cannot be read",
                        f"{mean_path} / {std_path}: {exc}.", "Restore the statistics files from TMR's repository.")]
    numbers = {"mean": str(mean_path), "std": str(std_path)}
    problems = []
    for label, arr in (("mean", mean), ("std", std)):
        if arr.shape != (nfeats,):
            problems.append(f"{label} has shape {arr.shape}; the motion encoder reads {nfeats} dims")
        elif not np.isfinite(arr).all():
            problems.append(f"{label} holds NaN or Inf in dims {np.flatnonzero(~np.isfinite(arr))[:10].tolist()}")
    if not problems and (std <= 0).any():
        problems.append(f"std is <= 0 in dims {np.flatnonzero(std <= 0)[:10].tolist()} (normalizing divides by it)")
    if problems:
        return [Finding("tmr_stats", "error", "TMR statistics are unusable", "; ".join(problems) + ".",
                        "Restore the statistics files from TMR's repository.", numbers=numbers)]
    return [Finding("tmr_stats", "ok", "TMR motion statistics found", f"{mean_path.parent}: {nfeats} dims.",
                    numbers=numbers)]


def _text_model_findings(folder: Path, config: dict[str, Any], text_model: Any) -> list[Finding]:
    findings = []
    try:
        import transformers  # noqa: F401
    except ImportError:
        findings.append(Finding("tmr_text_model", "warning", "transformers is not installed",
                                "TMR embeds captions with a frozen DistilBERT, run by `transformers`; without it no "
                                "text embedding, so none of TMR's retrieval protocols, can be computed.",
                                "pip install 'motioneval[tmr]'"))
    name = str(_get(config, "data", "text_to_token_emb", "modelname") or _DEFAULT_TEXT_MODEL)
    local = find_tmr_text_model(folder, config, text_model)
    if local is None:
        if text_model is not None:
            findings.append(Finding("tmr_text_model", "error", "text model folder not found",
                                    f"{text_model} is not a folder.",
                                    "Pass the folder of a transformers model saved with save_pretrained."))
        else:
            findings.append(Finding("tmr_text_model", "warning", f"no local folder for the text model {name!r}",
                                    f"No folder named {name!r} next to {folder}, its parent or grand-parent. The loader "
                                    f"will then look in the local Hugging Face cache only (never the network unless "
                                    f"asked by name).",
                                    f"Save {name} with save_pretrained into a folder and pass it with --tmr-text-model."))
        return findings
    cfg_path = local / "config.json"
    if not cfg_path.is_file():
        findings.append(Finding("tmr_text_model", "error", "text model folder has no config.json",
                                f"{local} is not a transformers model folder.",
                                "Save the model there with save_pretrained."))
        return findings
    try:
        tcfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        findings.append(Finding("tmr_text_model", "error", "text model config.json cannot be read",
                                f"{cfg_path}: {exc}.", "Save the model again with save_pretrained."))
        return findings
    problems, notes = [], []
    hidden = tcfg.get("dim", tcfg.get("hidden_size"))
    want = config["model"]["text_encoder"]["nfeats"]
    if hidden != want:
        problems.append(f"its token features are {hidden}-d but TMR's text encoder reads {want}-d "
                        f"(model.text_encoder.nfeats): it is not the text model this TMR was trained with")
    if not any((local / f).is_file() for f in ("tokenizer.json", "vocab.txt")):
        problems.append("no tokenizer files (tokenizer.json or vocab.txt)")
    weights = [f for f in ("model.safetensors", "pytorch_model.bin") if (local / f).is_file()]
    if not weights and not any(local.glob("model-*.safetensors")):
        problems.append("no weights (model.safetensors or pytorch_model.bin)")
    if tcfg.get("model_type") not in (None, "distilbert"):
        notes.append(f"model_type is {tcfg.get('model_type')!r}; TMR's released models use {_DEFAULT_TEXT_MODEL}")
    numbers = {"folder": str(local), "hidden size": hidden}
    if problems:
        findings.append(Finding("tmr_text_model", "error", "the text model does not fit this TMR",
                                f"{local}: " + "; ".join(problems) + ".",
                                f"Use the text model named in config.json ({name}).", numbers=numbers))
    elif notes:
        findings.append(Finding("tmr_text_model", "info", "text model found (not TMR's usual one)",
                                f"{local}: " + "; ".join(notes) + ".", numbers=numbers))
    else:
        findings.append(Finding("tmr_text_model", "ok", "text model found", f"{local}: {hidden}-d token features.",
                                numbers=numbers))
    return findings


def check_tmr_folder(folder: str | os.PathLike[str], *, stats: str | os.PathLike[str] | None = None,
                     text_model: str | os.PathLike[str] | None = None, ckpt: str = "last",
                     load_weights: bool = True) -> list[Finding]:
    """Findings of the checks ``tmr_config``, ``tmr_weights``, ``tmr_stats``, ``tmr_text_model`` on a TMR run
    folder (see the module docstring). Later checks are skipped when the config cannot be read."""
    folder = Path(folder)
    if not folder.is_dir():
        return [Finding("tmr_config", "error", "TMR folder not found", f"{folder} does not exist or is not a folder.",
                        "Point --evaluator at a TMR run folder (config.json + last_weights/).")]
    findings, config = _config_findings(folder)
    if config is None:
        return findings
    findings += _weights_findings(folder, config, ckpt, load_weights)
    findings += _stats_findings(folder, config, stats)
    findings += _text_model_findings(folder, config, text_model)
    return findings
