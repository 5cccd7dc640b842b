"""Shared test fixtures: a numbered notebook executed on the smoke profile (once per session: nbval's
execution of its reference when there was one, else papermill's)."""
import os
from pathlib import Path

import nbrefs
import pytest
import torch
from toys import shared_data_missing

from ntlib.machine.kernel import ensure_installed

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.fixture(scope="session")
def run_notebook(tmp_path_factory):
    """``run_notebook("02_baselines", **params)`` executes the notebook with papermill on the smoke
    profile and returns the reports folder; its runs are in ``reports.parent / "runs"``. The
    notebook tests share one folder, as a reproduction does, and 06 reads what 02–05 wrote there:
    the first call of each notebook runs in it, and a repeated call with the same parameters
    returns it without running again. A notebook called again with other parameters (e.g. another
    seed) runs in a folder of its own. When nbval executed the notebook's smoke reference in this session
    (tests/notebooks, collected first) with these parameters, its reports folder ($NTLIB_REPORTS) is
    returned instead: each notebook runs once per `make test`. Skips when the shared data cannot be
    found (the notebooks read the real corpora)."""
    root, done = tmp_path_factory.mktemp("papermill"), {}

    def run(name: str, **params) -> Path:
        pm = pytest.importorskip("papermill")
        if shared_data_missing():
            pytest.skip("shared data not found by the resolver")
        if nbrefs.executed_by_nbval(name, params):
            return Path(os.environ["NTLIB_REPORTS"])
        key = (name, tuple(sorted(params.items())))
        if key not in done:
            shared = not any(k[0] == name for k in done)
            folder = root if shared else root / f"{name}-{len(done)}"
            done[key] = folder / "reports"
            folder.mkdir(exist_ok=True)
            pm.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(folder / f"{name}.ipynb"),
                                parameters=dict(profile="smoke", corpus="switchboard", run_root=str(folder / "runs"),
                                                reports_dir=str(folder / "reports"), **params),
                                cwd=str(NOTEBOOKS), progress_bar=False, kernel_name=ensure_installed())
        return done[key]
    return run


def pytest_collection_modifyitems(config, items):
    """nbval's reference notebooks (tests/notebooks/*.ipynb) re-execute notebooks that read the real
    corpora: without the shared data they are skipped, with the reason, like the papermill tests."""
    cells = [i for i in items if i.path.suffix == ".ipynb"]
    why = shared_data_missing() if cells else None
    if why:
        skip = pytest.mark.skip(reason=f"nbval: the notebooks read the real corpora; shared data not found ({why})")
        for item in cells:
            item.add_marker(skip)
    if cells and not hf_installed():      # notebook 08 runs a Hugging Face model: the hf extra (make test installs it)
        skip = pytest.mark.skip(reason='nbval: 08_own_model needs the hf extra: pip install -e ".[hf]"')
        for item in cells:
            if item.path.stem == "08_own_model":
                item.add_marker(skip)


def hf_installed() -> bool:
    try:
        import transformers  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(autouse=True)
def one_thread():
    """Toy models run faster on one thread than contending for a shared 2-core machine
    (OpenMP oversubscription made some tests 30x slower)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
