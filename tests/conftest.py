"""Shared test fixtures: executing a numbered notebook with papermill on the smoke profile."""
from pathlib import Path

import pytest
import torch

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.fixture
def run_notebook(tmp_path):
    """``run_notebook("02_baselines", **params)`` executes the notebook on the smoke profile with
    runs and reports in ``tmp_path`` and returns the reports folder. Skips when the shared data
    cannot be found (the notebooks read the real corpora)."""
    def run(name: str, **params) -> Path:
        pm = pytest.importorskip("papermill")
        from ntlib import sources as D
        try:
            D.resolve_data([("swda/swb1_dialogact_annot.tar.gz", "swda/split_official.tsv", D.OFFICIAL_VALID)])
        except D.DataError:
            pytest.skip("shared data not found by the resolver")
        reports = tmp_path / "reports"
        pm.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(tmp_path / f"{name}.ipynb"),
                            parameters=dict(profile="smoke", corpus="switchboard", run_root=str(tmp_path / "runs"),
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
