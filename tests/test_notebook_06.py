"""notebooks/06_tables.ipynb executed by papermill on the smoke profile after 01–05 (one shared run
folder): it rebuilds every table from their results and writes tables.md with the verdicts."""
import pandas as pd
import pytest

from ntlib import tables


@pytest.mark.slow
def test_notebook_06_smoke(run_notebook):
    for stage in ("01_data", "02_baselines", "03_malicious", "05_gan_mmi"):
        run_notebook(stage)
    run_notebook("04_frequent", eos_comparison=True)         # as test_notebook_04 runs it: run once
    reports = run_notebook("06_tables")
    res = tables.load_results(reports, "switchboard")
    assert set(res) == set(tables.STAGES) and {r["profile"] for r in res.values()} == {"smoke"}

    md = (reports / "tables.md").read_text(encoding="utf-8")
    assert md.startswith("# Tables: ours (paper) — switchboard, profile smoke")
    verdicts = tables.verdicts(res)
    for name, builder in (("Table 8", tables.table8), ("Table 4", tables.table4), ("Table 9", tables.table9),
                          ("Table 3", tables.table3)):
        slug = name.lower().replace(" ", "")
        assert f"## {name}" in md
        # the CSV is the table built from the results, and the markdown carries its verdicts
        csv = pd.read_csv(reports / f"{slug}_switchboard.csv", index_col=0)
        df = builder(res, "switchboard")
        assert list(csv.index) == list(df.index) and list(csv.columns) == list(df.columns)
        assert tables.verdict_markdown(verdicts[name]) in md
    assert "+neg-train (1%)" in md and "+GAN" in md and "+neg-tr(0.5k)" in md
    assert "![baselines_curves_switchboard](figures/baselines_curves_switchboard.png)" in md
