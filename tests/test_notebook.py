"""The notebook front door: every view executed (nbclient), exported, rendered offline.

tests/notebooks/views.ipynb holds one cell per view. It is executed in a real
kernel, exported to HTML with nbconvert, its MathJax script removed (an export
opened offline), and rendered in headless Chromium; a script in the page
reports the layout it sees, which the test checks: no raw `$...$` anywhere,
and each matrix laid out as a table of math (rows at different heights,
columns at different offsets), which only native MathML rendering gives.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "tests" / "notebooks" / "views.ipynb"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")

# Runs in the page after load: what the browser laid out, as JSON in a <pre>.
PROBE = """
<script>
window.addEventListener("load", () => {
  const box = (e) => e.getBoundingClientRect();
  const matrices = Array.from(document.querySelectorAll("math.symgrad-matrix"));
  const report = {
    text: document.body.innerText,
    maths: document.querySelectorAll("math").length,
    matrices: matrices.map((m) => {
      const rows = Array.from(m.querySelectorAll("mtr"));
      const lefts = Array.from(rows[rows.length - 1].querySelectorAll("mtd"))
        .map((c) => Math.round(box(c).left));
      return {
        rows: rows.length,
        tops: new Set(rows.map((r) => Math.round(box(r).top))).size,
        lefts: new Set(lefts).size,
        cells: lefts.length,
        height: box(m).height,
      };
    }),
  };
  const pre = document.createElement("pre");
  pre.id = "symgrad-probe";
  pre.textContent = JSON.stringify(report);
  document.body.appendChild(pre);
});
</script>
"""


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The notebook, executed in a fresh kernel from the repository root."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    saved = dict(os.environ)
    # the kernel inherits the environment: this checkout's symgrad, a private cache
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [saved.get("PYTHONPATH")])]
    )
    os.environ["SYMGRAD_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    try:
        client = nbclient.NotebookClient(
            notebook,
            timeout=120,
            kernel_name="python3",
            resources={"metadata": {"path": str(ROOT)}},
        )
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return notebook


def code_cells(notebook) -> list:
    return [c for c in notebook.cells if c.cell_type == "code"]


@pytest.mark.slow
def test_every_view_renders_as_html(executed):
    for cell in code_cells(executed):
        kinds = [o.output_type for o in cell.outputs]
        assert "error" not in kinds, cell.outputs
        (result,) = [o for o in cell.outputs if o.output_type == "execute_result"]
        assert "text/html" in result.data, cell.source  # one rendering for all
        page = result.data["text/html"]
        assert "$" not in page and "<pre" not in page.split("<details>")[0]


@pytest.mark.slow
def test_latex_is_kept_for_latex_exporters(executed):
    sources = {c.source.splitlines()[-1]: c for c in code_cells(executed)}
    for line in ("f.grad", "f.hessian", "model.loss.grad"):
        data = sources[line].outputs[0].data
        assert data["text/latex"].startswith("$\\displaystyle")
    assert "σ" in sources["model.loss.grad"].outputs[0].data["text/html"]


def exported_page(executed, directory: Path) -> Path:
    """The notebook as HTML, MathJax removed (as opened offline), with the probe."""
    from nbconvert import HTMLExporter

    page, _ = HTMLExporter().from_notebook_node(executed)
    page = re.sub(r"<script[^>]*mathjax[^>]*>\s*</script>", "", page, flags=re.I)
    path = directory / "views.html"
    path.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    return path


def browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(
        "no headless Chromium (.ci/run installs Debian's chromium where apt works)"
    )


@pytest.fixture(scope="module")
def rendered(executed, tmp_path_factory) -> dict:
    """What Chromium laid out for the exported page."""
    pytest.importorskip("nbconvert")
    program = browser()
    directory = tmp_path_factory.mktemp("page")
    page = exported_page(executed, directory)
    done = subprocess.run(
        [
            program, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-dev-shm-usage", f"--user-data-dir={directory / 'profile'}",
            "--virtual-time-budget=10000", "--dump-dom", page.as_uri(),
        ],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    match = re.search(r'<pre id="symgrad-probe">(.*?)</pre>', done.stdout, re.S)
    assert match, done.stderr[-2000:]
    import html

    return json.loads(html.unescape(match.group(1)))


@pytest.mark.slow
def test_no_raw_latex_in_the_offline_page(rendered):
    text = rendered["text"]
    assert "\\displaystyle" not in text and "\\frac" not in text
    assert not re.search(r"\$[^$\n]*\\[a-z]+", text)
    assert "<mo>" not in text and "<mi>" not in text  # no escaped markup
    assert ("σ" in text or "𝜎" in text) and "∂" in text  # <mi>σ</mi> is italic


@pytest.mark.slow
def test_matrices_are_laid_out_as_tables_of_math(rendered):
    assert rendered["maths"] >= 10
    matrices = rendered["matrices"]
    assert len(matrices) >= 3  # f.hessian, f.hessian.at, model.loss.hessian
    for m in matrices:
        # a header row and one row per variable, each at its own height;
        # a label column and one column per variable, each at its own offset
        assert m["tops"] == m["rows"] >= 3
        assert m["lefts"] == m["cells"] >= 3
        assert m["height"] > 30
