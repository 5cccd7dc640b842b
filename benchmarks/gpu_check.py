"""One-shot GPU check for the lent GPU machine (issue 18): run it ONCE there, ≤ 8 minutes wall.

    python benchmarks/gpu_check.py                 # on the GPU machine (device auto → cuda)
    python benchmarks/gpu_check.py --quick         # a 1-minute rehearsal on a CPU

Needs: Python ≥ 3.11 with torch (a CUDA build), numpy, pandas, sacrebleu, nltk, tqdm, tabulate
and pytest at pyproject.toml's pins (papermill/jupyter are NOT needed: no notebook runs). Run
from the repository root; no internet. Data: the Switchboard files of /work/shared/data, found
through $NTLIB_DATA, or ./shared/data (copy /work/shared/data there before the run: it is not
ignored by git, so it travels with the working tree); without them the estimate and the
training fall back to synthetic batches of the same shapes (said in the output).

Steps, each in its own subprocess with a timeout, so one failure still runs the others:
  1. env        nvidia-smi, torch / CUDA versions, packages           → env.txt
  2. tests      NTLIB_DEVICE=<device> pytest -q on the unit tests     → pytest.txt
  3. bench      benchmarks/train_throughput.py + gibbs_enum.py, and (not --quick) the training
                step under torch.compile(mode="reduce-overhead"): CUDA graphs  → benchmarks.txt
  4. estimate   python -m ntlib.run.reproduce --profile paper --estimate  → estimate.txt
  5. train      Table 8's paper-size LM and seq2seq (emb 300 / hidden 600, SGD LR 1, batch 64,
                dropout 0.3, clip 5) for --train-seconds each: loss curve, tokens/s, valid PPL
                                                                       → train.txt
Everything lands flat in $OUT (default ./gpu_out): the five files above + summary.json.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
import ntlib  # noqa: E402,F401  (pins torch's float path before torch loads, here and in the subprocesses)

UNIT_TESTS = ["tests/unit/test_device.py", "tests/unit/test_models.py", "tests/unit/test_train.py",
              "tests/unit/test_decode.py", "tests/unit/test_gibbs_enum.py", "tests/unit/test_gibbs_enum_lockstep.py",
              "tests/unit/test_malicious.py", "tests/unit/test_frequent.py", "tests/unit/test_gan.py",
              "tests/unit/test_mmi.py", "tests/unit/test_metrics.py", "tests/unit/test_device_bf16.py",
              "tests/unit/test_estimate.py"]
QUICK_TESTS = ["tests/unit/test_device.py", "tests/unit/test_device_bf16.py"]


def run(name: str, cmd: list[str], out: Path, timeout: float, env: dict, summary: dict, mode: str = "w") -> None:
    """Run ``cmd`` with a timeout, appending stdout+stderr to ``out``; record status and seconds."""
    timeout = max(5.0, timeout)
    t0 = time.time()
    with open(out, mode, encoding="utf-8") as f:
        f.write(f"$ {' '.join(cmd)}   (timeout {timeout:.0f} s)\n")
        f.flush()
        try:
            p = subprocess.run(cmd, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT, timeout=timeout)
            status = "ok" if p.returncode == 0 else f"exit {p.returncode}"
        except subprocess.TimeoutExpired:
            status = f"timeout after {timeout:.0f} s"
        except OSError as e:
            status = f"could not start: {e}"
        f.write(f"\n[{name}: {status} in {time.time() - t0:.0f} s]\n")
    summary["steps"][name] = {"status": status, "seconds": round(time.time() - t0, 1)}
    print(f"[gpu_check] {name}: {status} ({time.time() - t0:.0f} s)", flush=True)


def train_for(kind: str, seconds: float, device: str, quick: bool, bf16: bool = False) -> dict:
    """Paper-size training of ``kind`` for ``seconds`` (fit's loop: length-bucketed batches, SGD,
    clipping); prints the loss curve; returns tokens/s, steps, epochs and the valid PPL."""
    import torch

    from ntlib.machine.device import autocast, resolve_device, synchronize, to_device
    from ntlib.methods.evaluate import LOSSES, evaluate_nll, sort_lengths, take
    from ntlib.methods.models import build_model
    from ntlib.methods.train import epoch_batches, make_optimizer, sgd_step
    from ntlib.run.estimate import _counts
    from ntlib.run.profiles import get_profile
    dev = resolve_device(device)
    P = get_profile("smoke" if quick else "paper")
    ds, _, note = _counts(P, None)
    mcfg, tcfg = (P.lm, P.lm_train) if kind == "lm" else (P.seq2seq, P.train)
    train, valid = (ds.train.tgt, ds.valid.tgt) if kind == "lm" else (ds.train, ds.valid)
    torch.manual_seed(tcfg.seed)
    model = build_model(kind, len(ds.vocab), mcfg).to(dev)
    opt = make_optimizer(model, tcfg)
    gen = torch.Generator().manual_seed(tcfg.seed)
    lengths = sort_lengths(train)
    print(f"{kind}: emb {mcfg.emb} hidden {mcfg.hidden} dropout {mcfg.dropout}, {tcfg.optimizer} lr {tcfg.lr}, "
          f"batch {tcfg.batch_size}, {len(train)} train rows on {dev}{' bf16' if bf16 else ''}; {note}", flush=True)
    nll0, n0 = evaluate_nll(model, kind, valid)
    curve, steps, tokens, epochs, t_train = [], 0, 0, 0, 0.0
    win_loss, win_tok, t_win = 0.0, 0, time.perf_counter()
    deadline = time.perf_counter() + seconds
    model.train()
    while time.perf_counter() < deadline:
        for idx in epoch_batches(lengths, tcfg.batch_size, tcfg.max_pairs_per_epoch, gen):
            batch = to_device(take(train, idx), dev)
            t0 = time.perf_counter()
            with autocast(dev, bf16):
                nll, n = LOSSES[kind](model, batch)
            loss = sgd_step(model, opt, nll / max(n, 1), tcfg.clip_norm)   # float(): synchronises
            t_train += time.perf_counter() - t0
            steps, tokens, win_loss, win_tok = steps + 1, tokens + n, win_loss + loss * n, win_tok + n
            if steps % 200 == 0:
                now = time.perf_counter()
                curve.append({"step": steps, "loss": win_loss / win_tok, "tokens_per_s": win_tok / (now - t_win)})
                print(f"  step {steps}: loss {win_loss / win_tok:.3f}  {win_tok / (now - t_win):.0f} tok/s", flush=True)
                win_loss, win_tok, t_win = 0.0, 0, now
            if time.perf_counter() >= deadline:
                break
        else:
            epochs += 1
    synchronize(dev)
    t_eval = time.perf_counter()
    nll, n = evaluate_nll(model, kind, valid)
    t_eval = time.perf_counter() - t_eval
    res = {"kind": kind, "device": str(dev), "bf16": bf16, "steps": steps, "epochs_done": epochs,
           "epoch_fraction": steps * tcfg.batch_size / min(len(train), tcfg.max_pairs_per_epoch or len(train)),
           "train_tokens": tokens, "train_seconds": t_train, "tokens_per_s": tokens / max(t_train, 1e-9),
           "valid_ppl_start": math.exp(nll0 / n0), "valid_ppl": math.exp(nll / n),
           "valid_eval_seconds": t_eval, "valid_tokens": n, "curve": curve, "data": note}
    print(f"{kind}: {steps} steps ({res['epoch_fraction']:.2f} epochs) in {t_train:.0f} s of training, "
          f"{res['tokens_per_s']:.0f} target tok/s; valid PPL {res['valid_ppl_start']:.0f} → {res['valid_ppl']:.2f} "
          f"(eval of {n} tokens in {t_eval:.1f} s)", flush=True)
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--quick", action="store_true", help="CPU rehearsal: smoke sizes, a minute")
    ap.add_argument("--train-seconds", type=float, default=80.0, help="per model (paper run)")
    ap.add_argument("--budget", type=float, default=560.0, help="wall seconds for the whole check")
    ap.add_argument("--train-only", choices=["lm", "seq2seq"], help=argparse.SUPPRESS)
    ap.add_argument("--bf16", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.train_only:
        print("RESULT " + json.dumps(train_for(a.train_only, a.train_seconds, a.device, a.quick, a.bf16)), flush=True)
        return 0

    t_start = time.time()
    out = Path(os.environ.get("OUT") or ROOT / "gpu_out")
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               NTLIB_DEVICE=a.device, MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    if "NTLIB_DATA" not in env and (ROOT / "shared" / "data").is_dir():
        env["NTLIB_DATA"] = str(ROOT / "shared" / "data")
    py = sys.executable
    summary = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "device_setting": a.device, "quick": a.quick,
               "ntlib_data": env.get("NTLIB_DATA"), "steps": {}}
    train_s = 5.0 if a.quick else a.train_seconds

    # timeouts (s): tests 100, benchmarks 60 + 150 (the gibbs-enum benchmark took > 45 s on an H200) + 150
    # (compiled training), estimate 75, each training train_s + 30
    # (start, data, valid PPL) — about 8 minutes when every step runs to its limit
    limits = {"tests": 120, "bench": 60, "gibbs": 60, "estimate": 60} if a.quick else \
        {"tests": 100, "bench": 60, "gibbs": 150, "estimate": 75, "compile": 150}

    env_py = ("import sys, torch, importlib\n"
              "print('python', sys.version.split()[0], '| torch', torch.__version__, '| cuda', torch.version.cuda,"
              " '| available', torch.cuda.is_available())\n"
              "if torch.cuda.is_available():\n"
              "    p = torch.cuda.get_device_properties(0)\n"
              "    print('device:', p.name, f'{p.total_memory / 2**30:.1f} GiB', 'SMs', p.multi_processor_count,"
              " 'bf16', torch.cuda.is_bf16_supported(), 'cudnn', torch.backends.cudnn.version())\n"
              "for m in ('numpy', 'pandas', 'sacrebleu', 'nltk', 'tqdm', 'tabulate', 'pytest'):\n"
              "    try: print(m, importlib.import_module(m).__version__)\n"
              "    except Exception as e: print(m, 'MISSING', e)\n"
              "import ntlib.machine.device as d; print('ntlib resolve_device:', d.resolve_device())\n")
    run("env", ["nvidia-smi"], out / "env.txt", 20, env, summary)
    run("env-python", [py, "-c", env_py], out / "env.txt", 60, env, summary, mode="a")
    tests = QUICK_TESTS if a.quick else UNIT_TESTS
    missing = [t for t in tests if not (ROOT / t).exists()]
    if missing:        # pytest without files would run the whole suite: a moved test file is this script's bug
        raise SystemExit(f"gpu_check: test files not found (moved?): {', '.join(missing)}")
    run("tests", [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", *tests],
        out / "pytest.txt", limits["tests"], env, summary)
    quick = ["--quick"] if a.quick else []
    run("bench-train", [py, "benchmarks/train_throughput.py", "--device", a.device, *quick],
        out / "benchmarks.txt", limits["bench"], env, summary)
    run("bench-gibbs", [py, "benchmarks/gibbs_enum.py", "--device", a.device, *quick],
        out / "benchmarks.txt", limits["gibbs"], env, summary, mode="a")
    left = a.budget - (time.time() - t_start) - limits["estimate"] - 2 * 70     # keep the estimate and training
    if not a.quick and left >= 60:   # issue 31: do torch.compile / CUDA graphs pay for the launch-bound training?
        run("bench-compile", [py, "benchmarks/train_throughput.py", "--device", a.device, "--no-cpu",
                              "--compile", "reduce-overhead"], out / "benchmarks.txt", min(limits["compile"], left),
            env, summary, mode="a")
    elif not a.quick:
        summary["steps"]["bench-compile"] = {"status": f"skipped: {left:.0f} s of the budget left", "seconds": 0}
    run("estimate", [py, "-m", "ntlib.run.reproduce", "--profile", "smoke" if a.quick else "paper", "--estimate",
                     "--device", a.device], out / "estimate.txt", limits["estimate"], env, summary)
    results = {}
    for i, kind in enumerate(("lm", "seq2seq")):
        remaining = a.budget - (time.time() - t_start) - 30 * (2 - i)      # earlier steps overran: shrink
        secs = max(5.0, min(train_s, remaining / (2 - i)))
        run(f"train-{kind}", [py, "benchmarks/gpu_check.py", "--train-only", kind, "--train-seconds", str(secs),
                              "--device", a.device, *(["--quick"] if a.quick else [])],
            out / "train.txt", secs + 60, env, summary, mode="w" if i == 0 else "a")
    for line in (out / "train.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("RESULT "):
            r = json.loads(line[7:])
            results[r["kind"]] = {k: v for k, v in r.items() if k != "curve"}
    summary["train"] = results
    summary["wall_seconds"] = round(time.time() - t_start, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(f"[gpu_check] done in {summary['wall_seconds']:.0f} s; files in {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
