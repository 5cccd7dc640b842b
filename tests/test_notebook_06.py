"""notebooks/06_tables.ipynb executed by papermill on the smoke profile after 01–05 (one shared run
folder): it rebuilds every table from their results and writes tables.md with the verdicts."""
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from ntlib.results import stats, tables
from ntlib.machine.kernel import ensure_installed
from ntlib.results import verdicts
from ntlib.stages import TABLE_STAGES


@pytest.mark.slow
def test_notebook_06_smoke(run_notebook):
    for stage in ("01_data", "02_baselines", "03_malicious", "05_gan_mmi"):
        run_notebook(stage)
    run_notebook("04_frequent", eos_comparison=True)         # as test_notebook_04 runs it: run once
    reports = run_notebook("06_tables")
    res = tables.load_results(reports, "switchboard")
    assert set(res) == set(TABLE_STAGES) and {r["profile"] for r in res.values()} == {"smoke"}

    md = (reports / "tables.md").read_text(encoding="utf-8")
    assert md.startswith("# Tables: ours (paper) — switchboard, profile smoke")
    assert "Stages (profile / corpus): data smoke / switchboard, baselines smoke / switchboard" in md
    judged = verdicts.verdicts(res)
    for name, builder in (("Table 8", tables.table8), ("Table 4", tables.table4), ("Table 9", tables.table9),
                          ("Table 3", tables.table3)):
        slug = name.lower().replace(" ", "")
        assert f"## {name}" in md
        # the CSV is the table built from the results, and the markdown carries its verdicts
        csv = pd.read_csv(reports / f"{slug}_switchboard.csv", index_col=0)
        df = builder(res, "switchboard")
        assert list(csv.index) == list(df.index) and list(csv.columns) == list(df.columns)
        assert verdicts.verdict_markdown(judged[name]) in md
        assert all(isinstance(v, stats.Verdict) for v in judged[name])
    assert "+neg-train (1%)" in md and "+GAN" in md and "+neg-tr(0.5k)" in md
    assert "![baselines_curves_switchboard](figures/baselines_curves_switchboard.png)" in md
    assert "### Table 4 · Top-10 responses" in md and "### Table 9 · BLEU-4 variants" in md


@pytest.mark.slow
def test_notebook_06_refuses_results_of_two_profiles(run_notebook, tmp_path):
    """One stage's results from another profile: notebook 06 stops, naming the stages."""
    pm = pytest.importorskip("papermill")
    for stage in ("01_data", "02_baselines", "03_malicious", "04_frequent", "05_gan_mmi"):
        run_notebook(stage)
    reports = tmp_path / "reports"
    shutil.copytree(run_notebook("02_baselines"), reports)
    path = reports / "results/frequent_switchboard.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "profile": "small"}))
    notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    with pytest.raises(pm.PapermillExecutionError, match="mix runs.*frequent: profile 'small'"):
        pm.execute_notebook(str(notebooks / "06_tables.ipynb"), str(tmp_path / "06.ipynb"),
                            parameters=dict(profile="smoke", corpus="switchboard", reports_dir=str(reports),
                                            run_root=str(tmp_path / "runs")),
                            cwd=str(notebooks), progress_bar=False, kernel_name=ensure_installed())
