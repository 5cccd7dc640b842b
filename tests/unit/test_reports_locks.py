"""Issue 14, defect 7: atomic writes keep the umask's permissions, temporary files left by a kill
are cleaned on start, and a run folder is locked against a second concurrent run."""
import os
import stat
import subprocess
import sys

import pytest

from ntlib.results import reports
from ntlib.results.reports import atomic_path, atomic_write_text, clean_stale_tmp, run_lock


def test_atomic_writes_keep_the_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "r.json", "{}")
        assert stat.S_IMODE(path.stat().st_mode) == 0o644        # mkstemp alone gives 0600
        os.umask(0o077)
        path = atomic_write_text(tmp_path / "private.json", "{}")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_stale_temporary_files_of_dead_writers_are_removed(tmp_path):
    # a writer killed mid-write: its temporary file stays; its pid is no longer alive
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / "baselines-x" / f".lm.pt{reports.TMP_MARK}{dead}-abc123.tmp"
    stale.parent.mkdir()
    stale.write_bytes(b"half a checkpoint")
    with atomic_path(tmp_path / "live.pt") as live:               # this process is alive
        live.write_bytes(b"x")
        assert clean_stale_tmp(tmp_path) == [stale]
        assert live.exists() and not stale.exists()
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["live.pt"]


def test_a_second_run_in_a_locked_folder_gets_a_clear_error(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from ntlib.results.reports import run_lock\n"
         f"with run_lock({str(tmp_path)!r}):\n    print('locked', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True, env={**os.environ})
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RuntimeError, match=f"another reproduction \\(pid {holder.pid}\\).*{tmp_path.name}"):
            with run_lock(tmp_path, what="reproduction"):
                pass
    finally:
        holder.kill()
        holder.wait()
    with run_lock(tmp_path):          # the OS freed the lock of the killed process
        pass


def test_reproduce_refuses_a_second_concurrent_reproduction(tmp_path):
    from ntlib.run.reproduce import reproduce
    out = tmp_path / "runs" / "reproduce-switchboard-smoke"
    with run_lock(out, what="reproduction"):
        with pytest.raises(RuntimeError, match="another reproduction"):
            reproduce("smoke", "switchboard", run_root=tmp_path / "runs", reports_dir=tmp_path / "rep",
                      stages=("01_data",), notebooks_dir=tmp_path)
