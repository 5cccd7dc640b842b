"""`make test` (the README's test command, which .ci/run runs) fails when pytest collects no tests:
this project has tests, so pytest's exit code 5 means a broken collection, never a pass."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")
def test_make_test_fails_when_no_test_is_collected():
    env = {**os.environ, "PYTEST_ADDOPTS": "-p no:cacheprovider -k no_test_has_this_name_xyz tests/system/test_make.py"}
    # -o: do not rebuild the venv stamp here; the inner pytest selects nothing, so it exits 5
    r = subprocess.run(["make", "-s", "-o", ".venv/.ntlib-setup", "test", f"PY={sys.executable}"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode != 0, r.stdout[-2000:]
    assert "pytest collected no tests (exit 5)" in r.stderr
    assert "\nmake test\n" in (ROOT / ".ci" / "run").read_text()
