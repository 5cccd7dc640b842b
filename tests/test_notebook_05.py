"""notebooks/05_gan_mmi.ipynb executed by papermill on the smoke profile; checks what it wrote."""

import pytest

from ntlib.results import paper
from ntlib.run.profiles import get_profile
from ntlib.results.reports import read_json


@pytest.mark.slow
def test_notebook_05_smoke(run_notebook):
    reports = run_notebook("05_gan_mmi")
    r = read_json(reports / "results/gan_mmi_switchboard.json")
    P = get_profile("smoke")
    assert r["profile"] == "smoke" and set(r["rows"]) == {"Test-set", "Baseline", "+GAN", "+MMI"}
    assert r["seeds"] == [1, 2] and [x["seed"] for x in r["rows"]["+GAN"]] == [1, 2]   # GanConfig.seeds (smoke)
    recs = [x for v in r["rows"].values() for x in v]
    assert {(x["profile"], x["n_inputs"], x["inputs_sha"]) for x in recs} == {("smoke", 64, recs[0]["inputs_sha"])}
    rows = {k: v[0] for k, v in r["rows"].items()}
    for name, row in rows.items():
        assert 0 < row["max_ratio"] <= 1 and row["ent3"] >= 0 and row["ent2"] >= 0, name
    assert rows["+MMI"]["ppl"] is None and rows["Test-set"]["ppl"] is None
    assert rows["+GAN"]["ppl"] > 1 and rows["Baseline"]["ppl"] > 1
    assert rows["+MMI"]["bleu4_variant"] == rows["Baseline"]["bleu4_variant"]
    for s, sel in r["gan_selection"].items():
        assert [x["g_lr"] for x in sel] == [None, *P.gan.g_lrs] and sum(x["chosen"] for x in sel) == 1
    assert all(x["g_lr"] in P.gan.g_lrs for x in r["rows"]["+GAN"])
    n_settings = sum(1 for lam in P.mmi.lambdas for g in P.mmi.gs if lam or g == P.mmi.gs[0])
    assert len(r["mmi_grid"]) == n_settings * len(P.mmi.gammas)
    chosen = [g for g in r["mmi_grid"] if g["chosen"]]
    assert len(chosen) == 1 and rows["+MMI"]["setting"] == chosen[0]["setting"]
    assert rows["Test-set"]["max_ratio"] < rows["Baseline"]["max_ratio"]
    table = (reports / "table4_gan_mmi_switchboard.md").read_text()
    assert "+GAN" in table and "+MMI" in table
    assert f"({100 * paper.TABLE4['switchboard']['+MMI']['max_ratio']:.1f})" in table   # paper beside ours
    assert (reports / "mmi_grid_switchboard.csv").is_file()
    assert (reports / "figures/gan_d_fake_switchboard.png").is_file()
