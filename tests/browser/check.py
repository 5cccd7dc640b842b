"""`make browser-check`: every notebook opened in JupyterLab in headless Chromium, and the panel run.

Starts JupyterLab on 127.0.0.1 (a free port, a random token, no browser, settings and workspaces in
a temporary folder), drives Debian's Chromium (/usr/bin/chromium; never a downloaded browser build)
with Playwright, and for each notebook (the index, 01–07 and panel), opened untrusted (as a fresh clone opens
it) and then trusted (``jupyter trust``, its signature kept in a temporary folder):

- fails on a JavaScript error (console ``error`` message or uncaught page error), an error output
  cell (``output_type: error`` in the file, or an error rendered by JupyterLab: "Error displaying
  widget", "Error rendering"), a cell JupyterLab did not render, or a figure that did not load
  (an ``<img>`` in an output whose ``naturalWidth`` is 0 once loading settled);
- fails on what a reader must not see (``ntlib.run.notebook_outputs``): progress-bar debris, saved widget
  state, an object's repr (``Text(``, `` at 0x``), ``NaN``, stderr — in the file and in the text the page
  rendered after scrolling through every output;
- reports whether JupyterLab marked the notebook modified just by opening it (a kernelspec /
  language_info the kernel rewrites);
- saves screenshots under ``--out`` (default runs/browser/, outside git);
- fails if a notebook file changed during the check (JupyterLab's autosave is switched off).

Then it runs the panel notebook (profile smoke, a fresh run folder under --out; ``--panel-profile teach``: the teach
models `make reproduce PROFILE=teach` cached under runs/, ``make browser-check PANEL_PROFILE=teach``): if the panel
reports missing models it clicks its train button, types a context, clicks "respond" and checks
that a response table appears; then types a malicious target from the panel's list and checks the
hit table. Not collected by pytest (tests/browser/ has no test_*.py). Exit status 1 on any failure.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from ntlib.run.navigation import INDEX, MAP  # noqa: E402
from ntlib.run.notebook_outputs import debris, page_debris  # noqa: E402

NOTEBOOKS = [INDEX] + [name for name, *_ in MAP]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
RENDER_ERRORS = ("Error displaying widget", "Error rendering", "Javascript Error")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lab_env(out: Path) -> dict:
    """The environment of JupyterLab and of ``jupyter trust``: notebook signatures in a temporary folder."""
    return dict(os.environ, PYTHONPATH=str(ROOT), JUPYTER_DATA_DIR=str(out / "jupyter-data"))


def trust(out: Path, paths: list[Path]) -> None:
    """Sign ``paths`` as trusted (``jupyter trust``) in the check's own signature database."""
    subprocess.run([sys.executable, "-m", "jupyter", "trust", *map(str, paths)], env=lab_env(out), check=True,
                   stdout=subprocess.DEVNULL)


def start_lab(out: Path, port: int, token: str, panel_profile: str = "smoke") -> subprocess.Popen:
    settings = out / "lab-settings"
    (settings / "@jupyterlab" / "notebook-extension").mkdir(parents=True, exist_ok=True)
    # render every cell (no windowing), so every output is in the page to check
    (settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none"}))
    # never write the notebooks under test (running the panel would save its outputs into git's copy)
    (settings / "@jupyterlab" / "docmanager-extension").mkdir(parents=True, exist_ok=True)
    (settings / "@jupyterlab" / "docmanager-extension" / "plugin.jupyterlab-settings").write_text(
        json.dumps({"autosave": False}))
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True, exist_ok=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    # the panel on smoke: a fresh run folder (it trains its tiny models); on another profile: the repository's runs/,
    # where `make reproduce PROFILE=<profile>` cached that profile's models
    runs = out / "runs" if panel_profile == "smoke" else ROOT / "runs"
    env = dict(lab_env(out), NTLIB_PROFILE=panel_profile, NTLIB_RUNS=str(runs),
               NTLIB_THREADS="1", JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(out / "lab-workspaces"))
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}",
           "--LabApp.expose_app_in_browser=True", "--ServerApp.port_retries=0",
           "--LabApp.extension_manager=readonly"]      # no PyPI queries
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")                     # containers; JupyterLab refuses root otherwise
    log = open(out / "jupyterlab.log", "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}/api/status?token={token}"
    for _ in range(240):
        if proc.poll() is not None:
            raise SystemExit(f"JupyterLab exited ({proc.returncode}); see {out / 'jupyterlab.log'}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return proc
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit(f"JupyterLab did not answer on port {port} in 120 s; see {out / 'jupyterlab.log'}")


def file_errors(path: Path) -> list[str]:
    nb = json.loads(path.read_text())
    return [f"cell {i}: {o.get('ename')}: {o.get('evalue')}" for i, c in enumerate(nb["cells"])
            for o in c.get("outputs", []) if o.get("output_type") == "error"]


def open_notebook(page, base: str, token: str, name: str, folder: str = "notebooks"):
    page.goto(f"{base}/lab/tree/{folder}/{name}.ipynb?token={token}&reset", wait_until="domcontentloaded")
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=90_000)
    page.wait_for_load_state("networkidle", timeout=60_000)
    page.wait_for_function("window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel"
                           "?.status === 'idle'", timeout=120_000)      # metadata settles once the kernel is up
    page.wait_for_timeout(1500)


def check_rendered(page, path: Path) -> tuple[list[str], dict]:
    """Problems of one opened notebook, and what was seen."""
    problems = file_errors(path)
    nb = json.loads(path.read_text())
    problems += debris(nb, path.name)
    cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").count()
    if cells != len(nb["cells"]):
        problems.append(f"{cells} cells rendered, the file has {len(nb['cells'])}")
    # images: wait until each settled, then require pixels
    imgs = page.evaluate("""async () => {
        const imgs = Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell img'));
        await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
        return imgs.map(i => ({src: i.getAttribute('src').slice(0, 50), w: i.naturalWidth, h: i.naturalHeight}));
    }""")
    problems += [f"figure did not load: {i['src']}…" for i in imgs if not i["w"]]
    text = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").inner_text()
    problems += [f"page shows {e!r}" for e in RENDER_ERRORS if e in text]
    page.evaluate("""async () => {          // scroll through every output, as a reader does
        const outs = Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea'));
        for (const o of outs) { o.scrollIntoView(); await new Promise(r => setTimeout(r, 20)); }
        document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell')?.scrollIntoView();
    }""")
    page.wait_for_timeout(500)
    shown = "\n".join(page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea").all_inner_texts())
    problems += [f"page shows {p}" for p in page_debris(shown, path.name)]
    dirty = page.evaluate("window.jupyterapp?.shell.currentWidget?.context?.model?.dirty ?? null")
    stderr = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) '
                          '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').count()
    return problems, {"cells": cells, "images": len(imgs), "stderr_outputs": stderr,
                      "modified_on_open": dirty}


def shot(page, out: Path, name: str, locator: str | None = None):
    if locator and page.locator(locator).count():
        page.locator(locator).first.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
    page.screenshot(path=str(out / f"{name}.png"))


def run_panel(page, out: Path, base: str, token: str) -> list[str]:
    problems = []
    open_notebook(page, base, token, "panel")
    page.wait_for_function("window.jupyterapp && window.jupyterapp.shell.currentWidget "
                           "&& window.jupyterapp.shell.currentWidget.sessionContext?.session?.kernel",
                           timeout=120_000)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_selector(".ntlib-panel", timeout=240_000)
    shot(page, out, "panel_1_loaded", ".ntlib-panel")
    train = page.locator(".ntlib-train")
    if train.is_visible():
        train.click()
        page.wait_for_selector(".ntlib-train", state="hidden", timeout=540_000)
        shot(page, out, "panel_2_trained", ".ntlib-panel")
    page.locator(".ntlib-context input").fill("do you have any pets at home")
    page.locator(".ntlib-respond").click()
    try:
        page.wait_for_function("document.querySelector('.ntlib-response-out')?.innerText.trim()", timeout=120_000)
        page.wait_for_selector(".ntlib-response-out table.ntlib-responses", timeout=1_000)
        table = page.locator(".ntlib-response-out").inner_text()
        if "greedy" not in table:
            problems.append(f"panel: response table without a greedy row: {table[:200]!r}")
        print("panel responses:\n" + table)
    except Exception as e:
        problems.append(f"panel: no response appeared after typing a context ({type(e).__name__}): "
                        f"{page.locator('.ntlib-response-out').inner_text()[:300]!r}")
    shot(page, out, "panel_3_respond", ".ntlib-response-out")
    # malicious target tab: a target from the panel's training-list examples
    page.locator(".ntlib-panel .lm-TabBar-tab").nth(1).click()
    example = page.locator(".ntlib-examples code").first
    if example.count():
        page.locator(".ntlib-target input").fill(example.inner_text())
        page.locator(".ntlib-search").click()
        try:
            page.wait_for_function("document.querySelector('.ntlib-hits-out')?.innerText.trim()", timeout=300_000)
            page.wait_for_selector(".ntlib-hits-out table.ntlib-hits", timeout=1_000)
            hits = page.locator(".ntlib-hits-out").inner_text()
            print("panel hits:\n" + hits)
            # the first suggestion is one the baseline hits and Algorithm 1's model misses, when there is one
            if "(missed after Alg. 1)" in page.locator(".ntlib-examples").inner_text() and "HIT →" not in hits:
                problems.append(f"panel: the first suggested target is listed as missed after Algorithm 1, but the "
                                f"search does not show it hit before and missed after: {hits[:300]!r}")
        except Exception as e:
            problems.append(f"panel: no hit table after a trigger search ({type(e).__name__}): "
                            f"{page.locator('.ntlib-hits-out').inner_text()[:300]!r}")
        shot(page, out, "panel_4_trigger", ".ntlib-hits-out")
    else:
        problems.append("panel: the malicious tab lists no training targets")
    text = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").inner_text()
    problems += [f"panel shows {e!r} after: {text[max(0, text.index(e) - 150):text.index(e)]!r}"
                 for e in RENDER_ERRORS if e in text]
    return problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "runs" / "browser"), help="screenshots and logs (outside git)")
    ap.add_argument("--notebooks", nargs="*", default=NOTEBOOKS)
    ap.add_argument("--folder", default="notebooks", help="the notebooks' folder, relative to the repository")
    ap.add_argument("--no-panel-run", action="store_true", help="only open the panel, do not execute it")
    ap.add_argument("--panel-profile", default="smoke", help="the panel's profile: smoke (a fresh run folder) or one "
                    "reproduced under runs/ (e.g. teach, after `make reproduce PROFILE=teach`)")
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise SystemExit("playwright is not installed: `make browser-check` installs it (pip install playwright)")
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    import hashlib
    folder = ROOT / args.folder
    digest = lambda: {n: hashlib.sha256((folder / f"{n}.ipynb").read_bytes()).hexdigest()
                      for n in args.notebooks}
    before = digest()
    port, token = free_port(), secrets.token_hex(16)
    lab = start_lab(out, port, token, args.panel_profile)
    base, failures, report = f"http://127.0.0.1:{port}", {}, {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
            passes = [(name, False) for name in args.notebooks] + [(name, True) for name in args.notebooks]
            for name, trusted in passes:
                if trusted and name == args.notebooks[0]:
                    trust(out, [folder / f"{n}.ipynb" for n in args.notebooks])
                label = f"{name} ({'trusted' if trusted else 'untrusted'})"
                page = ctx.new_page()
                js = []
                page.on("console", lambda m, js=js: js.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
                page.on("pageerror", lambda e, js=js: js.append(f"page error: {e}"))
                t0 = time.time()
                open_notebook(page, base, token, name, args.folder)
                problems, seen = check_rendered(page, folder / f"{name}.ipynb")
                tag = f"{name}_{'trusted' if trusted else 'untrusted'}"
                shot(page, out, f"{tag}_top")
                shot(page, out, f"{tag}_figure", ".jp-Cell .jp-OutputArea img")
                if name == "panel" and not trusted and not args.no_panel_run:
                    problems += run_panel(page, out, base, token)
                problems += js
                report[label] = {**seen, "problems": problems, "seconds": round(time.time() - t0, 1)}
                print(f"{label}: {seen} {'OK' if not problems else 'FAILED'} ({report[label]['seconds']} s)")
                for pr in problems:
                    print(f"  - {pr}")
                if problems:
                    failures[label] = problems
                page.close()
            browser.close()
    finally:
        lab.terminate()
        try:
            lab.wait(20)
        except subprocess.TimeoutExpired:
            lab.kill()
    changed = [n for n, h in digest().items() if before[n] != h]
    if changed:
        failures["files"] = [f"{args.folder}/{n}.ipynb was written during the check" for n in changed]
        print("FAILED: " + "; ".join(failures["files"]))
    (out / "report.json").write_text(json.dumps(report, indent=1))
    print(f"screenshots and report.json in {out}")
    print("browser check " + ("FAILED: " + ", ".join(failures) if failures else "passed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
