"""Shared test fixtures: executing a numbered notebook with papermill on the smoke profile."""
from pathlib import Path

import pytest
import torch

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.fixture(scope="session")
def run_notebook(tmp_path_factory):
    """``run_notebook("02_baselines", **params)`` executes the notebook with papermill on the smoke
    profile and returns the reports folder; its runs are in ``reports.parent / "runs"``. All the
    notebook tests share one folder, as a reproduction does: each notebook runs once per session
    (the first call's parameters count), and 06 reads what 02–05 wrote. Skips when the shared data
    cannot be found (the notebooks read the real corpora)."""
    root, done = tmp_path_factory.mktemp("papermill"), {}

    def run(name: str, **params) -> Path:
        pm = pytest.importorskip("papermill")
        from ntlib import sources as D
        try:
            D.resolve_data([("swda/swb1_dialogact_annot.tar.gz", "swda/split_official.tsv", D.OFFICIAL_VALID)])
        except D.DataError:
            pytest.skip("shared data not found by the resolver")
        reports = root / "reports"
        if name not in done:
            done[name] = params
            pm.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(root / f"{name}.ipynb"),
                                parameters=dict(profile="smoke", corpus="switchboard", run_root=str(root / "runs"),
                                                reports_dir=str(reports), **params),
                                cwd=str(NOTEBOOKS), progress_bar=False, kernel_name="python3")
        return reports
    return run


@pytest.fixture(autouse=True)
def one_thread():
    """Toy models run faster on one thread than contending for a shared 2-core machine
    (OpenMP oversubscription made some tests 30x slower)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
