"""Training-time monitoring: light evaluation wiring, logging from a plain loop, best checkpoint, resume,
TensorBoard and the Lightning callback (each when its package is installed)."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("motioneval.metrics.frechet")

from motioneval.protocol.monitor import LightEvaluation, TrainingMonitor  # noqa: E402
from motioneval.representation.normalization import FeatureStats  # noqa: E402
from motioneval.testing import ToyEvaluator, ToyGenerator, write_toy_dataset  # noqa: E402


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    from motioneval.data.dataset import MotionDataset
    from motioneval.protocol.ground_truth import GroundTruthItems

    root = write_toy_dataset(tmp_path_factory.mktemp("toy") / "HumanML3D", num_clips=160, seed=5)
    items = GroundTruthItems.from_dataset(MotionDataset(root, "test"))
    dstats = items.dataset_stats
    rng = np.random.default_rng(0)
    estats = FeatureStats(np.asarray(dstats.mean) + 0.1, np.asarray(dstats.std) * rng.uniform(0.5, 2.0, dstats.dim))
    light = LightEvaluation(items, ToyEvaluator(estats), num_samples=96, seed=1)
    return items, light


def test_light_evaluation_prompts_and_reference(toy):
    items, light = toy
    assert light.num_samples == 96 and len(light.captions) == 96  # three pools of 32
    assert light.text_emb.shape == (96, 16)
    assert set(light.reference) == {"r_precision_top1", "r_precision_top2", "r_precision_top3", "matching_score",
                                    "fid", "diversity"}
    # prompts are fixed: a second preparation with the same seed draws the same ones
    again = LightEvaluation(items, light.evaluator, num_samples=96, seed=1)
    assert again.captions == light.captions and np.array_equal(again.lengths, light.lengths)


class _GroundTruthCrops:
    """Returns the raw ground-truth crops of the light evaluation's own prompts."""

    kind, normalization, name, version = "features", "raw", "gt-crops", "1"

    def __init__(self, items, plan):
        self.items, self.plan = items, plan

    def generate(self, captions, lengths, seed):
        t = np.arange(int(lengths.max()))
        idx = self.items.offsets[self.plan.item][:, None] + self.plan.starts[:, None] + np.minimum(
            t[None, :], self.plan.lengths[:, None] - 1)
        return self.items.frames[idx], lengths


def test_generated_path_reproduces_the_direct_ground_truth_path(toy):
    items, light = toy
    # a "generator" returning the prompts' own ground-truth crops must score exactly as the directly embedded
    # ground truth: checks the generate -> raw -> evaluator features -> embed -> metrics wiring
    got = light(_GroundTruthCrops(items, light.plan))
    for k, v in light.reference.items():
        if k == "diversity":
            continue  # the reference diversity is the ground-truth pass's; a different set of rows
        assert got[k] == pytest.approx(v, rel=1e-5, abs=1e-6), k
    assert got["seconds"] > 0


def test_light_metrics_order_generators_by_quality(toy):
    items, light = toy
    results = [light(ToyGenerator(items.dataset_stats, noise=noise)) for noise in (0.3, 1.5, 4.0)]
    fids = [r["fid"] for r in results]
    assert fids[0] < fids[1] < fids[2]  # (the toy evaluator's text side is random: R-precision is at chance)


class _ImprovingModel(torch.nn.Module):
    """A stand-in model whose generations get less noisy as training proceeds."""

    def __init__(self, stats):
        super().__init__()
        self.w = torch.nn.Linear(3, 2)
        self.noise = 4.0
        self.gen = ToyGenerator(stats)

    def sample(self, captions, lengths, seed):
        self.gen.noise = self.noise
        return self.gen.generate(captions, lengths, seed)


def test_monitor_logs_from_a_plain_loop_and_keeps_the_best(toy, tmp_path):
    items, light = toy
    model = _ImprovingModel(items.dataset_stats)
    with TrainingMonitor(light, tmp_path / "run", every=10, best_metric="fid", tensorboard=False) as mon:
        returned = []
        for step in range(41):
            model.noise = 4.0 / (1 + step / 5)  # "training"
            rec = mon.step(step, model.sample, model=model)
            if rec is not None:
                returned.append(rec)
            if step == 25:
                assert mon.step(step, model.sample) is None  # not due
        assert mon.step(40, model.sample) is None  # the same step twice (gradient accumulation): skipped
    assert [r["step"] for r in returned] == [0, 10, 20, 30, 40]
    fids = [r["fid"] for r in returned]
    assert fids == sorted(fids, reverse=True)  # improves every time ...
    assert all(r["is_best"] for r in returned)  # ... so every record was the best so far
    rows = list(csv.DictReader((tmp_path / "run" / "metrics.csv").open()))
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [int(r["step"]) for r in rows] == [r["step"] for r in lines] == [0, 10, 20, 30, 40]
    np.testing.assert_allclose([float(r["fid"]) for r in rows], fids, rtol=1e-15)
    ckpt = torch.load(tmp_path / "run" / "best.pt", weights_only=False)
    assert ckpt["step"] == 40 and set(ckpt["state_dict"]) == {"w.weight", "w.bias"}
    best = json.loads((tmp_path / "run" / "best.json").read_text())
    assert best["record"]["step"] == 40 and best["best_metric"] == "fid"


def test_save_fn_resume_and_max_mode(toy, tmp_path):
    items, light = toy
    saved = []
    quality = {0: 3.0, 5: 0.4, 10: 2.0, 15: 1.0}
    gen = ToyGenerator(items.dataset_stats)

    def fn(captions, lengths, seed, _step=[0]):  # noqa: B006 - a call counter on purpose
        gen.noise = quality[_step[0]]
        return gen.generate(captions, lengths, seed)

    mon = TrainingMonitor(light, tmp_path / "r", every=5, best_metric="r_precision_top1",
                          save_fn=lambda step, metrics: saved.append(step), tensorboard=False)
    assert mon.mode == "max"
    for step in (0, 5, 10):
        fn.__defaults__[0][0] = step
        mon.step(step, fn)
    assert saved == [0, 5]  # step 10 (noisier) is worse than step 5
    assert mon.best["step"] == 5
    # resume from the step-5 checkpoint: the record of the abandoned step 10 is dropped at the first new step
    resumed = TrainingMonitor(light, tmp_path / "r", every=5, best_metric="r_precision_top1",
                              save_fn=lambda step, metrics: saved.append(step), tensorboard=False)
    assert [r["step"] for r in resumed.records] == [0, 5, 10]
    fn.__defaults__[0][0] = 10
    resumed.step(10, fn)
    fn.__defaults__[0][0] = 15
    resumed.step(15, fn)
    steps = [json.loads(x)["step"] for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [0, 5, 10, 15]
    assert resumed.best["step"] == 5 and saved == [0, 5]


def test_tensorboard_logging(toy, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    items, light = toy
    with TrainingMonitor(light, tmp_path / "tb", every=1, tensorboard=True) as mon:
        for step in (1, 2):
            mon.step(step, ToyGenerator(items.dataset_stats, noise=1.0))
    acc = EventAccumulator(str(tmp_path / "tb" / "tensorboard"))
    acc.Reload()
    assert "motioneval/fid" in acc.Tags()["scalars"]
    events = acc.Scalars("motioneval/fid")
    assert [e.step for e in events] == [1, 2]
    logged = [json.loads(x)["fid"] for x in (tmp_path / "tb" / "metrics.jsonl").read_text().splitlines()]
    np.testing.assert_allclose([e.value for e in events], logged, rtol=1e-6)


@pytest.mark.slow
def test_lightning_callback_logs(toy, tmp_path):
    L = pytest.importorskip("lightning.pytorch")
    from motioneval.protocol.monitor import lightning_callback

    items, light = toy

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)
            self.gen = ToyGenerator(items.dataset_stats, noise=1.0)
            self.modes = []
            self.train_modes = []

        def training_step(self, batch, batch_idx):
            self.train_modes.append(self.training)
            (x,) = batch
            return self.layer(x).pow(2).mean()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

        def generate(self, captions, lengths, seed):
            self.modes.append(self.training)
            return self.gen.generate(captions, lengths, seed)

    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(64, 4)), batch_size=4)
    module = Module()
    mon = TrainingMonitor(light, tmp_path / "pl", every=4, tensorboard=False)
    trainer = L.Trainer(max_steps=12, callbacks=[lightning_callback(mon)], logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", devices=1)
    trainer.fit(module, data)
    steps = [json.loads(x)["step"] for x in (tmp_path / "pl" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [4, 8, 12]
    assert module.modes == [False, False, False]  # evaluated in eval mode ...
    assert len(module.train_modes) == 12 and all(module.train_modes)  # ... and training resumed in train mode
    ckpt = torch.load(tmp_path / "pl" / "best.pt", weights_only=False)
    assert "layer.weight" in ckpt["state_dict"]
