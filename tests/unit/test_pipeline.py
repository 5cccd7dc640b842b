"""Issue 14, defect 4: the seed parameter is a setting, not a label — it reaches every stage
config's seed (training init, subsampling, dropout, gibbs-enum restarts, sampling) and the run
folder key; two seeds give different baselines, the same seed twice identical ones."""
import dataclasses

import pytest
import torch

from ntlib.results.reports import read_json
from ntlib.run.config import Profile
from ntlib.run.pipeline import baselines, baselines_run_dir
from ntlib.run.profiles import baseline_profile, baseline_seeds, get_profile, with_seed


def _seeds(p: Profile) -> dict:
    return {f.name: getattr(p, f.name).seed for f in dataclasses.fields(p)
            if hasattr(getattr(p, f.name), "seed")}


def test_seed_reaches_every_stage_config_with_a_seed():
    seeds = _seeds(get_profile("smoke", seed=7))
    assert set(seeds) == {"train", "lm_train", "gibbs", "malicious", "frequent", "gan"}
    assert set(seeds.values()) == {7}
    assert set(_seeds(get_profile("smoke")).values()) == {1}              # the presets' own seed
    assert with_seed(get_profile("small"), 3) == get_profile("small", seed=3)


def test_baselines_differ_in_every_seed_but_share_the_lm():
    P = get_profile("small", seed=4)
    assert baseline_seeds(P) == [4, 5, 6]
    profiles = [baseline_profile(P, s) for s in baseline_seeds(P)]
    assert [q.train.seed for q in profiles] == [q.malicious.seed for q in profiles] == [4, 5, 6]
    assert [q.frequent.seed for q in profiles] == [q.gan.seed for q in profiles] == [q.gibbs.seed for q in profiles]
    assert {q.lm_train.seed for q in profiles} == {4}          # one LM for all baselines
    with pytest.raises(ValueError, match="not one of the profile's baseline seeds"):
        baseline_profile(P, 7)


def test_seed_is_part_of_the_baselines_run_folder(tmp_path):
    a, b = (baselines_run_dir(get_profile("smoke", seed=s), tmp_path) for s in (7, 8))
    assert a != b and a == baselines_run_dir(get_profile("smoke", seed=7), tmp_path)


def _same(m1, m2) -> bool:
    return all(torch.equal(x, y) for x, y in zip(m1.state_dict().values(), m2.state_dict().values()))


@pytest.mark.slow
def test_same_seed_twice_trains_identical_baselines(tmp_path):
    from ntlib.data import dataset
    try:
        dataset.resolve_data([("swda/swb1_dialogact_annot.tar.gz", "swda/split_official.tsv")])
    except dataset.DataError:
        pytest.skip("shared data not found by the resolver")
    a = baselines(get_profile("smoke", seed=7), tmp_path / "a", progress=False)
    b = baselines(get_profile("smoke", seed=7), tmp_path / "b", progress=False)   # trained again
    assert _same(a.lm, b.lm) and _same(a.seq2seq, b.seq2seq)


@pytest.mark.slow
def test_two_seeds_of_notebook_02_give_different_baselines(run_notebook, tmp_path):
    from ntlib.methods.train import load_model
    out = {}
    for seed in (7, 8):
        r = read_json(run_notebook("02_baselines", seed=seed) / "results/baselines_switchboard.json")
        out[seed] = (r, load_model(f"{r['run_dirs'][0]}/seq2seq.pt"))
    assert out[7][0]["seeds"] == [7, 8] and out[8][0]["seeds"] == [8, 9]      # recorded truthfully ...
    assert out[7][0]["lm_dir"] != out[8][0]["lm_dir"]                        # ... and used: one LM per run, its seed
    assert out[7][0]["run_dirs"][1] != out[8][0]["run_dirs"][0]              # (another LM: another folder)
    assert not _same(out[7][1], out[8][1])
    assert out[7][0]["seq2seq"][0]["ppl"] != out[8][0]["seq2seq"][0]["ppl"]
    assert out[7][0]["seq2seq"][1]["ppl"] == out[8][0]["seq2seq"][0]["ppl"]  # seed 8 twice: the same seq2seq
