"""The task pages in docs/ run as written: every fenced block right after a ``<!-- tested -->`` line is executed.

Per page, the ``bash`` blocks run in order in one shell (``set -euo pipefail``; variables carry over, as when a
reader pastes them one after another) and each ``python`` block runs as a script, all in one working folder
shared by the pages (the demo dataset is built once and reused, as the commands themselves do). The slow test
needs the ``torch`` and ``viz`` extras; the fast tests check the pages' structure and the table of minimum
sample counts against the presets.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
#: Task pages, in the order a reader meets them (later pages reuse the demo folders of earlier ones).
PAGES = ("evaluate-your-model.md", "own-dataset-and-evaluator.md", "monitor-training.md", "diagnostics.md")
MARK = "<!-- tested -->"


def doc_blocks(path: Path) -> list[tuple[str, str, int]]:
    """``(language, code, line)`` of every fenced block directly after a ``<!-- tested -->`` line."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out, i = [], 0
    while i < len(lines):
        if lines[i].strip() == MARK:
            j = i + 1
            m = re.fullmatch(r"```(\w+)\s*", lines[j]) if j < len(lines) else None
            if m is None:
                raise AssertionError(f"{path.name}:{i + 1}: {MARK} must be followed by a fenced ```bash/```python block")
            end = next(k for k in range(j + 1, len(lines)) if lines[k].strip() == "```")
            out.append((m.group(1), "\n".join(lines[j + 1:end]) + "\n", j + 1))
            i = end
        i += 1
    return out


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("OMP_NUM_THREADS", "1")
    env["MPLBACKEND"] = "Agg"
    return env


def run_page(page: str, cwd: Path) -> None:
    """Run the page's tested blocks in page order in one bash shell (a python block as a script fed to
    ``python``), so that variables and files carry over as for a reader pasting them one after another."""
    script = ["set -euo pipefail"]
    for lang, code, line in doc_blocks(DOCS / page):
        script.append(f"echo '### {page}:{line}' >&2")
        if lang == "bash":
            script.append(code)
        elif lang == "python":
            script.append(f"{sys.executable} - <<'MOTIONEVAL_DOCS_EOF'\n{code}MOTIONEVAL_DOCS_EOF")
        else:
            raise AssertionError(f"{page}:{line}: tested blocks are bash or python, not {lang}")
    _run(["bash", "-c", "\n".join(script)], cwd, _env(), page)


def _run(cmd: list[str], cwd: Path, env: dict[str, str], where: str) -> None:
    proc = subprocess.run(cmd, check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise AssertionError(f"{where} failed (exit {proc.returncode}; the last '### page:line' names the block):"
                             f"\n--- stdout\n"
                             f"{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}")


# ------------------------------------------------------------------------------------------------ fast checks
@pytest.mark.parametrize("page", PAGES)
def test_every_task_page_has_tested_blocks(page):
    blocks = doc_blocks(DOCS / page)
    assert blocks, f"{page} has no {MARK} block"
    text = (DOCS / page).read_text(encoding="utf-8")
    # every command-line block on the page is tested, except those explicitly marked as not run
    for m in re.finditer(r"(?P<before>[^\n]*)\n```bash\n", text):
        before = m.group("before").strip()
        assert before == MARK or before.startswith("<!-- not tested"), (page, text[: m.start()].count("\n") + 2)


def _minimums(preset: str) -> tuple[int, int]:
    """Fewest prompts accepted by the preset, and fewest repetitions that give MultiModality, by brute force
    over the rules the evaluation checks (``Evaluation._check_feasible``)."""
    from motioneval.protocol.ground_truth import num_rows
    from motioneval.protocol.presets import get_preset

    p = get_preset(preset)

    def ok(n: int) -> bool:
        rows = num_rows(n, p, p.generated_samples)
        if rows == 0:
            return False
        try:
            p.diversity_pairs_for(rows)
        except ValueError:
            return False
        return p.mm_selection == "all" or int(p.mm_captions) <= rows

    prompts = next(n for n in range(1, 5000) if ok(n))
    reps = next(r for r in range(1, 100) if min(r, p.mm_repeats) > p.mm_pairs)
    return prompts, reps


def test_minimum_sample_counts_match_the_presets():
    from motioneval.protocol.presets import get_preset

    text = (DOCS / "evaluate-your-model.md").read_text(encoding="utf-8")
    table = text.split("<!-- preset-minimums -->", 1)[1].strip().split("\n\n", 1)[0].splitlines()[2:]
    rows = {cells[0].strip("` "): [c.strip() for c in cells[1:]]
            for cells in (line.strip("|").split("|") for line in table)}
    assert set(rows) == {"t2m", "mdm", "momask", "t2m-gpt"}
    for name, (fewest, published, mm_reps, mm_published) in rows.items():
        p = get_preset(name)
        prompts, reps = _minimums(name)
        assert int(fewest) == prompts, name
        assert int(mm_reps) == reps, name
        assert int(mm_published) == p.mm_repeats, name
        expect = str(p.generated_samples) if p.generated_samples is not None else "the whole test split"
        assert published == expect, name


def test_report_screenshot_is_shown_and_small():
    Image = pytest.importorskip("PIL.Image")
    shot = DOCS / "img" / "report.png"
    assert shot.stat().st_size < 300_000
    with Image.open(shot) as im:
        assert im.format == "PNG" and im.size[0] >= 800
    assert "](img/report.png)" in (DOCS / "diagnostics.md").read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------------------ the pages
@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    return tmp_path_factory.mktemp("docs")


@pytest.mark.slow
def test_evaluate_your_model_page(workdir):
    run_page("evaluate-your-model.md", workdir)
    tables = {k: json.loads((workdir / "runs" / k / "results.json").read_text()) for k in ("npz", "folder", "mdm")}
    model = {k: next(r for r in t["rows"] if r["kind"] == "model") for k, t in tables.items()}
    for k in ("folder", "mdm"):  # the same joints in three files: the same numbers
        assert model[k]["metrics"] == model["npz"]["metrics"], k
    assert model["npz"]["num_samples"] == 320


@pytest.mark.slow
def test_own_dataset_and_evaluator_page(workdir):
    run_page("own-dataset-and-evaluator.md", workdir)


@pytest.mark.slow
def test_monitor_training_page(workdir):
    run_page("monitor-training.md", workdir)


@pytest.mark.slow
def test_diagnostics_page(workdir):
    run_page("diagnostics.md", workdir)
