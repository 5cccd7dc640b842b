"""Test-session settings shared by pytest and nbval: notebooks run on the smoke profile and
write their runs and reports to a temporary folder, never to the committed reports/."""
import os
import tempfile

_tmp = tempfile.mkdtemp(prefix="ntlib-test-")
os.environ.setdefault("NTLIB_PROFILE", "smoke")
os.environ.setdefault("NTLIB_RUNS", os.path.join(_tmp, "runs"))
os.environ.setdefault("NTLIB_REPORTS", os.path.join(_tmp, "reports"))
os.environ.setdefault("MPLBACKEND", "Agg")
