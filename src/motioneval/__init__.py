"""motioneval: exact, robust and fast evaluation of text-to-motion models.

The public API lives at the package top and is imported lazily, so ``import motioneval`` stays cheap and
never pulls in PyTorch; names that need optional extras import them only when used.

Where things live (see ``docs/ARCHITECTURE.md``):

- ``motioneval.metrics``         numeric core, numpy/scipy only (FID, R-precision, diversity, ...)
- ``motioneval.representation``  HumanML3D / KIT-ML features, skeletons, normalization
- ``motioneval.data``            dataset folders, MDM ``results.npy``, our sample interchange format
- ``motioneval.evaluators``      the T2M text/motion evaluator (PyTorch)
- ``motioneval.protocol``        presets, the replication loop, caching, results and reports
- ``motioneval.diagnostics``     ``doctor`` checks
- ``motioneval.viz``             rendering and plots
- ``motioneval.cli``             the ``motioneval`` command
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # Gaussian statistics and the Fréchet distance (numeric core)
    "GaussianStats": "motioneval.metrics.stats",
    "gaussian_stats": "motioneval.metrics.stats",
    "frechet_distance": "motioneval.metrics.frechet",
    "fid": "motioneval.metrics.frechet",
    "FrechetResult": "motioneval.metrics.frechet",
    # protocol metrics
    "r_precision": "motioneval.metrics.retrieval",
    "matching_score": "motioneval.metrics.retrieval",
    "diversity": "motioneval.metrics.diversity",
    "multimodality": "motioneval.metrics.diversity",
    "confidence_interval": "motioneval.metrics.confidence",
    # metrics beyond the reference
    "kid": "motioneval.metrics.kid",
    "precision_recall": "motioneval.metrics.manifold",
    "density_coverage": "motioneval.metrics.manifold",
    "fid_infinity": "motioneval.metrics.fid_infinity",
    "MetricAccumulator": "motioneval.metrics.accumulator",
    "physical_metrics": "motioneval.metrics.physical",
    "PhysicalConfig": "motioneval.metrics.physical",
    # representation
    "Skeleton": "motioneval.representation.skeleton",
    "HUMANML3D": "motioneval.representation.skeleton",
    "KIT": "motioneval.representation.skeleton",
    "FeatureLayout": "motioneval.representation.layout",
    "FeatureStats": "motioneval.representation.normalization",
    "renormalize": "motioneval.representation.normalization",
    "dataset_statistics": "motioneval.representation.normalization",
    "joints_to_features": "motioneval.representation.forward",
    "features_to_joints": "motioneval.representation.inverse",
    # data formats
    "MotionDataset": "motioneval.data.dataset",
    "check_dataset": "motioneval.data.dataset",
    "DatasetReport": "motioneval.data.dataset",
    "SampleSet": "motioneval.data.samples",
    "load_samples": "motioneval.data.samples",
    "read_mdm_results": "motioneval.data.mdm_results",
    # protocol
    "evaluate": "motioneval.protocol.evaluate",
    "evaluate_distributed": "motioneval.protocol.distributed",
    "Evaluation": "motioneval.protocol.evaluate",
    "CallableGenerator": "motioneval.protocol.generators",
    "SampleSetGenerator": "motioneval.protocol.generators",
    "Result": "motioneval.protocol.results",
    "PRESETS": "motioneval.protocol.presets",
    "Preset": "motioneval.protocol.presets",
    "get_preset": "motioneval.protocol.presets",
    # diagnostics and visualisation
    "doctor": "motioneval.diagnostics.doctor",
    "render": "motioneval.viz.render",
    "DoctorReport": "motioneval.diagnostics.findings",
    "filmstrip": "motioneval.viz.render",
    "plot_replications": "motioneval.viz.plots",
    "plot_training_curves": "motioneval.viz.plots",
    "write_report": "motioneval.viz.report",
    "LightEvaluation": "motioneval.protocol.monitor",
    "TrainingMonitor": "motioneval.protocol.monitor",
    "lightning_callback": "motioneval.protocol.monitor",
    # comparisons, published results and input fingerprints
    "compare": "motioneval.protocol.compare",
    "Comparison": "motioneval.protocol.compare",
    "replications_for_halfwidth": "motioneval.protocol.compare",
    "replications_to_resolve": "motioneval.protocol.compare",
    "should_stop": "motioneval.protocol.compare",
    "published": "motioneval.protocol.published",
    "verify_file": "motioneval.data.fingerprints",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'motioneval' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
