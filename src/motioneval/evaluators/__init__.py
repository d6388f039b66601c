"""Text/motion evaluators (PyTorch). Import of this package does not import torch; its modules do.

``T2MEvaluator`` (``evaluators.t2m``), ``WordVectorizer`` (``evaluators.word_vectorizer``),
``T2MConfig`` (``evaluators.t2m_modules``) and ``train_evaluator`` / ``TrainingConfig``
(``evaluators.training``) are resolved lazily.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "T2MEvaluator": "motioneval.evaluators.t2m",
    "T2MConfig": "motioneval.evaluators.t2m_modules",
    "WordVectorizer": "motioneval.evaluators.word_vectorizer",
    "tag_captions": "motioneval.evaluators.word_vectorizer",
    "train_evaluator": "motioneval.evaluators.training",
    "TrainingConfig": "motioneval.evaluators.training",
    "TMREvaluator": "motioneval.evaluators.tmr",
    "TMREncoderConfig": "motioneval.evaluators.tmr_modules",
    "detect_evaluator_kind": "motioneval.evaluators.kind",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'motioneval.evaluators' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
