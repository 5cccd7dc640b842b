"""notebooks/05_gan_mmi.ipynb executed by papermill on the smoke profile; checks what it wrote."""

import pytest

from ntlib import paper
from ntlib.config import get_profile
from ntlib.reports import read_json


@pytest.mark.slow
def test_notebook_05_smoke(run_notebook):
    reports = run_notebook("05_gan_mmi")
    r = read_json(reports / "results/gan_mmi_switchboard.json")
    P = get_profile("smoke")
    assert r["profile"] == "smoke" and set(r["rows"]) == {"Test-set", "Baseline", "+GAN", "+MMI"}
    for name, row in r["rows"].items():
        assert 0 < row["max_ratio"] <= 1 and row["ent3"] >= 0 and row["ent2"] >= 0, name
    assert r["rows"]["+MMI"]["ppl"] is None and r["rows"]["Test-set"]["ppl"] is None
    assert r["rows"]["+GAN"]["ppl"] > 1 and r["rows"]["Baseline"]["ppl"] > 1
    assert r["rows"]["+GAN"]["g_lr"] in P.gan.g_lrs
    assert [s["g_lr"] for s in r["gan_selection"]] == [None, *P.gan.g_lrs]
    assert sum(s["chosen"] for s in r["gan_selection"]) == 1
    n_settings = sum(1 for lam in P.mmi.lambdas for g in P.mmi.gs if lam or g == P.mmi.gs[0])
    assert len(r["mmi_grid"]) == n_settings * len(P.mmi.gammas)
    chosen = [g for g in r["mmi_grid"] if g["chosen"]]
    assert len(chosen) == 1 and r["rows"]["+MMI"]["setting"] == chosen[0]["setting"]
    assert r["rows"]["Test-set"]["max_ratio"] < r["rows"]["Baseline"]["max_ratio"]
    table = (reports / "table4_gan_mmi_switchboard.md").read_text()
    assert "+GAN" in table and "+MMI" in table
    assert f"({paper.TABLE4['switchboard']['+MMI']['max_ratio']:.3f})" in table   # paper beside ours
    assert (reports / "mmi_grid_switchboard.csv").is_file()
    assert (reports / "figures/gan_d_fake_switchboard.png").is_file()
