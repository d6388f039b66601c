"""Preset records against the spec table (protocol.md, "Presets") and override semantics."""
from __future__ import annotations

import json

import pytest

from motioneval.cli.main import main
from motioneval.cli.presets import parse_override
from motioneval.protocol.presets import PRESETS, Preset, get_preset

# The spec table, transcribed setting by setting (protocol.md "Presets"; metrics.md for the shared values).
SPEC = {
    "t2m": dict(replications=20, mm_replications=20, generated_samples=None, mm_captions=100,
                mm_selection="random_items", diversity_pairs=300, diversity_pairs_small=None,
                generated_length="estimator", generated_padding="zeros"),
    "mdm": dict(replications=20, mm_replications=5, generated_samples=1024, mm_captions=128,
                mm_selection="random_groups", diversity_pairs=300, diversity_pairs_small=None,
                generated_length="ground_truth", generated_padding="none"),
    "momask": dict(replications=20, mm_replications=20, generated_samples=None, mm_captions=96,
                   mm_selection="first_groups", diversity_pairs=300, diversity_pairs_small=100,
                   generated_length="ground_truth", generated_padding="batch_longest"),
    "t2m-gpt": dict(replications=20, mm_replications=20, generated_samples=None, mm_captions=None,
                    mm_selection="all", diversity_pairs=300, diversity_pairs_small=100,
                    generated_length="model", generated_padding="zeros"),
}
# protocol.md, "Loop semantics per lineage" (mdm-2023: mdm with text length 22 for every generated row).
SPEC["mdm-2023"] = {**SPEC["mdm"]}
LOOP = {
    "t2m": dict(generated_rows="independent", fid_reference="independent_pass", ground_truth_row=True,
                long_motions="error", text_length="true", evaluator_statistics="Comp_v6_KLD01"),
    "mdm": dict(generated_rows="independent", fid_reference="independent_pass", ground_truth_row=True,
                long_motions="error", text_length="true", evaluator_statistics="Comp_v6_KLD01"),
    "mdm-2023": dict(generated_rows="independent", fid_reference="independent_pass", ground_truth_row=True,
                     long_motions="error", text_length="max", evaluator_statistics="Comp_v6_KLD01"),
    "momask": dict(generated_rows="ground_truth_batches", fid_reference="same_batches", ground_truth_row=False,
                   long_motions="error", text_length="true", evaluator_statistics="Comp_v6_KLD005"),
    "t2m-gpt": dict(generated_rows="ground_truth_batches", fid_reference="same_batches", ground_truth_row=True,
                    long_motions="truncate", text_length="true",
                    evaluator_statistics="VQVAEV3_CB1024_CMT_H1024_NRES3"),
}
KIT_FPS = {"t2m": 20.0, "mdm": 20.0, "mdm-2023": 20.0, "momask": 20.0, "t2m-gpt": 12.5}
SHARED = dict(pool_size=32, top_k=3, unit_length=4, max_frames=196, max_text_tokens=20, min_motion_length=40,
              max_motion_length=200, fps=20.0, mm_repeats=30, mm_pairs=10)


@pytest.mark.parametrize("name", sorted(SPEC))
def test_preset_matches_spec_table(name):
    p = PRESETS[name]
    assert p.name == p.base == name and p.dataset == "humanml3d"
    for key, value in {**SPEC[name], **LOOP[name], **SHARED}.items():
        assert getattr(p, key) == value, (name, key)
    assert p.crop_shorter_probability == pytest.approx(1 / 3)
    assert p.text_tokens == 22
    assert p.differences() == {}
    assert p.description


def test_mdm_generated_samples_are_32_groups_and_mm_is_4_groups():
    p = PRESETS["mdm"]
    assert p.generated_samples == 32 * p.pool_size
    assert p.mm_captions == 4 * p.pool_size
    assert PRESETS["momask"].mm_captions == 3 * PRESETS["momask"].pool_size


@pytest.mark.parametrize("name", sorted(KIT_FPS))
def test_kit_time_stamp_rate_is_the_lineages(name):
    p = get_preset(name, dataset="kit")
    assert p.fps == KIT_FPS[name] and p.differences() == {}
    assert PRESETS[name].fps == 20.0


def test_mdm_2023_differs_from_mdm_only_in_text_length():
    a, b = PRESETS["mdm"].settings(), PRESETS["mdm-2023"].settings()
    assert {k for k in a if a[k] != b[k]} == {"name", "base", "description", "text_length"}


def test_new_loop_fields_validate_and_parse():
    with pytest.raises(ValueError, match="generated_rows"):
        get_preset("t2m", generated_rows="nope")
    with pytest.raises(ValueError, match="ground_truth_row"):
        get_preset("t2m", ground_truth_row="yes")
    assert parse_override("ground_truth_row=false") == ("ground_truth_row", False)
    assert parse_override("long_motions=truncate") == ("long_motions", "truncate")
    assert parse_override("evaluator_statistics=none") == ("evaluator_statistics", None)


def test_kit_defaults_are_not_overrides():
    p = get_preset("momask", dataset="kit")
    assert (p.min_motion_length, p.fps, p.name) == (24, 20.0, "momask")
    assert p.differences() == {}
    assert PRESETS["momask"].for_dataset("kit") == p


def test_overrides_make_custom_with_differences():
    p = get_preset("mdm", replications=3, diversity_pairs=50)
    assert p.name == "custom" and p.base == "mdm"
    assert p.differences() == {"replications": {"preset": 20, "value": 3},
                               "diversity_pairs": {"preset": 300, "value": 50}}
    assert p.effective_mm_replications == 3
    kit = p.for_dataset("kit")
    assert kit.name == "custom" and kit.min_motion_length == 24 and set(kit.differences()) == {
        "replications", "diversity_pairs"}
    # restating a preset value is not a difference
    assert get_preset("mdm", replications=20).name == "mdm"
    # re-deriving from a Preset merges overrides
    assert get_preset(p, top_k=2).differences()["top_k"] == {"preset": 3, "value": 2}
    d = p.to_dict()
    assert d["differences"] and json.loads(json.dumps(d))["name"] == "custom"


def test_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match="unknown preset 'nope'"):
        get_preset("nope")
    with pytest.raises(ValueError, match="unknown preset setting"):
        get_preset("t2m", replication=3)
    with pytest.raises(ValueError, match="pool_size"):
        get_preset("t2m", top_k=40)
    with pytest.raises(ValueError, match="multiple of pool_size"):
        get_preset("mdm", mm_captions=100)
    with pytest.raises(ValueError, match="mm_pairs"):
        get_preset("t2m", mm_repeats=10)
    with pytest.raises(ValueError, match="fid_method"):
        get_preset("t2m", fid_method="sqrtm")
    with pytest.raises(ValueError, match="cannot be overridden"):
        get_preset("t2m", base="mdm")
    with pytest.raises(ValueError):
        Preset(name="x", base="t2m", replications=0)


def test_diversity_pair_rule():
    assert PRESETS["momask"].diversity_pairs_for(301) == 300
    assert PRESETS["momask"].diversity_pairs_for(300) == 100
    assert PRESETS["t2m"].diversity_pairs_for(301) == 300
    with pytest.raises(ValueError, match="diversity_pairs"):
        PRESETS["t2m"].diversity_pairs_for(300)
    with pytest.raises(ValueError):
        PRESETS["momask"].diversity_pairs_for(100)


def test_parse_override():
    assert parse_override("replications=5") == ("replications", 5)
    assert parse_override("mm_captions=none") == ("mm_captions", None)
    assert parse_override("fps=12.5") == ("fps", 12.5)
    assert parse_override("fid_method=reference") == ("fid_method", "reference")
    assert parse_override("generated_samples=64") == ("generated_samples", 64)
    with pytest.raises(ValueError, match="key=value"):
        parse_override("replications")
    with pytest.raises(ValueError, match="unknown preset setting"):
        parse_override("foo=1")
    with pytest.raises(ValueError, match="needs a int"):
        parse_override("replications=many")


def test_presets_cli(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert "mdm" in out and "random_groups" in out and "generated_padding" in out
    assert main(["presets", "--json", "momask", "--dataset", "kit"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data) == ["momask"] and data["momask"]["min_motion_length"] == 24


def test_presets_cli_shows_the_loop_fields(capsys):
    assert main(["presets", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"t2m", "mdm", "mdm-2023", "momask", "t2m-gpt"}
    for name, fields in LOOP.items():
        for key, value in fields.items():
            assert data[name][key] == value, (name, key)
    assert main(["presets", "t2m-gpt", "momask", "--dataset", "kit"]) == 0
    table = capsys.readouterr().out
    for key in ("generated_rows", "fid_reference", "ground_truth_row", "long_motions", "text_length",
                "evaluator_statistics", "fps"):
        assert key in table
    fps_line = next(line for line in table.splitlines() if line.startswith("fps "))
    assert fps_line.split()[1:] == ["12.5", "20"]
