"""The HTML report opened in a real headless browser (Chromium): it renders, its images load, its table reads.

Skipped where no Chromium is installed (``.ci/run`` installs Debian's ``chromium-headless-shell``).
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from PIL import Image  # noqa: E402

from motioneval.viz.report import write_report  # noqa: E402
from test_report import _result  # noqa: E402

BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")
BROWSER = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
pytestmark = [pytest.mark.skipif(BROWSER is None, reason=f"no headless browser ({', '.join(BROWSERS)})"),
              pytest.mark.slow]

# Appended to a copy of the report: after every image has loaded (or failed), write what the browser sees
# into the DOM, which --dump-dom then prints.
_PROBE = """
<script>
window.addEventListener("load", () => {
  const imgs = Array.from(document.images).map(i => ({w: i.naturalWidth, h: i.naturalHeight,
                                                      done: i.complete, alt: i.alt}));
  const rows = Array.from(document.querySelectorAll("table tr")).map(
      tr => Array.from(tr.cells).map(c => c.innerText.trim()));
  const tables = Array.from(document.querySelectorAll("table")).map(t => {
      const r = t.getBoundingClientRect(); return {w: r.width, h: r.height}; });
  const fs = parseFloat(getComputedStyle(document.querySelector("td") || document.body).fontSize);
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify({imgs, rows, tables, fontSize: fs, viewport: window.innerWidth});
  document.body.appendChild(pre);
});
</script>
"""


def _browser(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    cmd = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--virtual-time-budget=10000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def test_report_renders_in_a_browser(tmp_path, data_dir):
    from motioneval.data.samples import SampleSet

    clip = np.load(data_dir / "HumanML3D" / "new_joint_vecs" / "012314.npy")
    sset = SampleSet(captions=["a person walks", "a person turns"], lengths=np.array([40, 36]),
                     motions=np.stack([clip[:40], clip[60:100]]), normalization="raw")
    files = write_report(_result(), tmp_path / "report", sset, reference=np.stack([clip[10:50], clip[100:140]]))
    page = files["html"].read_text(encoding="utf-8")
    probe_page = tmp_path / "probe.html"
    probe_page.write_text(page.replace("</body>", _PROBE + "</body>"), encoding="utf-8")

    dom = _browser("--window-size=1280,1600", "--dump-dom", probe_page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom.stdout, re.S)
    assert found, f"the page's scripts did not run; browser said: {dom.stderr[-1000:]}"
    seen = json.loads(found.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
                      .replace("&amp;", "&"))
    # every image decoded to real pixels: replication plot, animated samples, filmstrip
    assert len(seen["imgs"]) == 3
    assert all(i["done"] and i["w"] > 50 and i["h"] > 50 for i in seen["imgs"]), seen["imgs"]
    # the results table reads as the result: header, ground truth and model rows with mean ± CI
    rows = seen["rows"]
    names = [r[0] for r in rows if r]
    assert "ground truth" in names and "my<model>" in names
    fid = _result().row("my<model>")["fid"]
    assert any(f"{fid.mean:.3f} ± {fid.ci95:.3f}" in cell for r in rows for cell in r)
    # readable: the table fits the window and its text is not tiny
    assert all(0 < t["w"] <= seen["viewport"] for t in seen["tables"])
    assert seen["fontSize"] >= 11

    shot = tmp_path / "report.png"
    out = _browser("--window-size=1280,1600", f"--screenshot={shot}", files["html"].as_uri())
    assert out.returncode == 0 and shot.is_file(), out.stderr[-2000:]
    rgb = np.asarray(Image.open(shot).convert("RGB"))
    assert rgb.shape[:2] == (1600, 1280)
    assert (rgb.std(axis=(0, 1)) > 10).all()  # not a blank page
