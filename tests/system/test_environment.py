"""environment.yml (conda) and pyproject.toml (pip) pin the same packages at the same versions."""
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pins(lines):
    return dict(re.match(r"^\s*([A-Za-z0-9_.\-]+)==([^\s;]+)", l).groups() for l in lines
                if re.match(r"^\s*[A-Za-z0-9_.\-]+==", l))


def test_environment_yml_matches_pyproject():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pip_pins = _pins(deps)
    yml = [l.strip().lstrip("-").strip() for l in (ROOT / "environment.yml").read_text().splitlines()]
    conda_pins = _pins(yml)
    assert pip_pins, "pyproject.toml pins nothing"
    assert pip_pins == conda_pins
    assert all("==" in d for d in deps), "every dependency is pinned exactly"


def test_the_hf_extra_is_mirrored_in_environment_yml():
    """The optional extra's pins, commented out in environment.yml after its marker line."""
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["hf"]
    text = (ROOT / "environment.yml").read_text()
    commented = [l.strip().lstrip("#").strip().lstrip("-").strip() for l in text.split("the hf extra", 1)[1].splitlines()]
    assert _pins(extra) and _pins(extra) == _pins(commented)
    assert all("==" in d for d in extra)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme[:4000] and "make reproduce" in readme[:4000]
    assert re.search(r"^make test$", ci, re.M)
