"""``motioneval presets``: list the protocol presets and their settings."""
from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "presets",
        help="list the protocol presets (t2m, mdm, mdm-2023, momask, t2m-gpt) and their settings",
        description="List the named protocol presets. Any setting can be overridden in `motioneval evaluate` "
                    "with --set key=value; the result is then labelled 'custom' with the differences.",
    )
    p.add_argument("names", nargs="*", help="presets to show (default: all)")
    p.add_argument("--dataset", choices=["humanml3d", "kit"], default="humanml3d",
                   help="dataset-dependent defaults (minimum length, the KIT caption time-stamp rate each lineage uses)")
    p.add_argument("--json", action="store_true", help="print one JSON object {name: settings}")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..protocol.presets import PRESET_NAMES, get_preset

    names = args.names or list(PRESET_NAMES)
    presets = [get_preset(n, dataset=args.dataset) for n in names]
    if args.json:
        print(json.dumps({p.name: p.settings() for p in presets}, indent=2))
        return 0
    print(format_table(presets))
    return 0


def format_table(presets: list) -> str:
    """A plain-text table: one row per setting, one column per preset."""
    keys = [k for k in presets[0].settings() if k not in ("name", "base", "description")]
    header = ["setting"] + [p.name for p in presets]
    rows = [[k] + [_fmt(k, p.settings()[k]) for p in presets] for k in keys]
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(header, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    lines.append("")
    lines += [f"{p.name}: {p.description}" for p in presets]
    return "\n".join(lines)


def _fmt(key: str, value: object) -> str:
    if value is None:
        return "all" if key in ("generated_samples", "mm_captions") else "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def parse_override(text: str) -> tuple[str, Any]:
    """Parse a CLI ``key=value`` override; the value is converted to the setting's type
    (``none``/``null`` -> ``None``, ints, floats, strings)."""
    if "=" not in text:
        raise ValueError(f"override {text!r} must look like key=value (e.g. replications=5)")
    key, raw = (s.strip() for s in text.split("=", 1))
    from ..protocol.presets import NOT_OVERRIDABLE, PRESETS, Preset

    fields = {f.name: f for f in dataclasses.fields(Preset)}
    if key not in fields or key in NOT_OVERRIDABLE:
        raise ValueError(f"unknown preset setting {key!r} in --set {text!r}; valid settings: "
                         f"{', '.join(sorted(set(fields) - NOT_OVERRIDABLE))}")
    if raw.lower() in ("none", "null"):
        return key, None
    default = getattr(PRESETS["t2m"], key)
    kinds = [type(getattr(p, key)) for p in PRESETS.values() if getattr(p, key) is not None]
    kind = kinds[0] if kinds else type(default)
    if kind is bool:
        if raw.lower() in ("true", "yes", "1"):
            return key, True
        if raw.lower() in ("false", "no", "0"):
            return key, False
        raise ValueError(f"--set {text!r}: {key} needs true or false; got {raw!r}")
    try:
        if kind is int:
            return key, int(raw)
        if kind is float:
            return key, float(raw)
    except ValueError:
        raise ValueError(f"--set {text!r}: {key} needs a {kind.__name__}; got {raw!r}") from None
    return key, raw
