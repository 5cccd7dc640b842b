"""`make browser-check` fails on what a reader must not see (issue 30): a notebook with a planted progress bar,
opened in JupyterLab in headless Chromium. Skipped without Debian's Chromium or playwright (the Makefile target
installs playwright; `apt-get install -y chromium`)."""
import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not Path("/usr/bin/chromium").exists() or importlib.util.find_spec("playwright") is None,
                                reason="needs /usr/bin/chromium and playwright (make browser-check installs it)")


def test_a_planted_progress_bar_fails_the_browser_check(tmp_path, capsys):
    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    import check
    folder = ROOT / "runs" / "browser-planted"          # under the repository: JupyterLab serves ROOT
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        nb = json.loads((ROOT / "notebooks" / "06_tables.ipynb").read_text(encoding="utf-8"))
        code = next(c for c in nb["cells"] if c["cell_type"] == "code")
        code["outputs"] = [{"output_type": "stream", "name": "stdout",
                            "text": "lm epoch 1 lr=0.002:   0%|          | 0/938 [00:00<?, ?it/s]\n"}]
        (folder / "06_tables.ipynb").write_text(json.dumps(nb, indent=1), encoding="utf-8")
        rc = check.main(["--folder", "runs/browser-planted", "--notebooks", "06_tables", "--out", str(tmp_path / "out")])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    out = capsys.readouterr().out
    assert rc == 1
    assert "06_tables.ipynb cell" in out and "progress-bar debris" in out          # in the file
    assert "page shows 06_tables.ipynb: progress-bar debris" in out               # and on the rendered page
