"""notebooks/07_negative_losses.ipynb executed by papermill on the smoke profile (opt-in stage 07): every
loss on both problems on the same inputs and seeds, and what it wrote."""
import pandas as pd
import pytest

from ntlib.stages import losses_compared
from ntlib.results.reports import read_json
from ntlib.results import loss_tables, loss_verdicts, verdicts


@pytest.mark.slow
def test_notebook_07_smoke(run_notebook):
    reports = run_notebook("07_negative_losses")
    r = read_json(reports / "results/negative_losses_switchboard.json")
    ccfg = losses_compared.compare_config("smoke")
    assert r["profile"] == "smoke" and r["seeds"] == [1, 2] and list(r["config"]["losses"]) == list(ccfg.losses)

    m = r["malicious"]
    n_train, n_test = m["targets"]["train"], m["targets"]["test"]
    assert n_train == n_test == ccfg.max_targets
    for loss in ccfg.losses:
        runs = m["runs"][loss]
        assert [x["seed"] for x in runs] == [1, 2]
        for x in runs:      # the same targets for every loss and seed: paired with the baseline's hits
            assert len(x["train"]["hits"]) == n_train and len(x["test"]["hits"]) == n_test
            assert len(x["collateral"]["neighbours_per_item"]) == n_train * ccfg.neighbours
            assert x["ppl"] > 0 and x["rounds"] >= 0
    assert m["neighbours"]["n"] == n_train * ccfg.neighbours and m["neighbours"]["examples"]

    f = r["frequent"]
    assert set(f["rows"]) == {"Test-set", "Baseline", *ccfg.losses}
    recs = [x for v in f["rows"].values() for x in v]
    assert len({(x["n_inputs"], x["inputs_sha"]) for x in recs}) == 1          # one evaluation set
    assert all(x["negative_loss"] == loss for loss in ccfg.losses for x in f["rows"][loss])
    assert len(f["histories"]) == len(ccfg.losses) * 2
    # same number of mini-batches for every loss
    assert len({h["step"][-1] for h in f["histories"].values()}) == 1
    # the nll models of Algorithm 2 differ from the others (the loss reached the training)
    assert f["rows"]["nll"][0]["ppl"] != f["rows"]["cringe"][0]["ppl"] != f["rows"]["unlikelihood"][0]["ppl"]

    csv = pd.read_csv(reports / "negative_losses_switchboard.csv", index_col=0)
    df = loss_tables.loss_comparison(r)
    assert list(csv.index) == list(df.index) == ["Baseline", *ccfg.losses]
    assert list(csv.columns) == list(df.columns)
    md = (reports / "negative_losses_switchboard.md").read_text(encoding="utf-8")
    assert verdicts.verdict_markdown(loss_verdicts.loss_verdicts(r)) in md
    assert (reports / "figures/negative_losses_tradeoff_switchboard.png").is_file()
