"""Seeing a tuning run: the progress display without a terminal and in a pseudo-terminal, and
`edgetune report` opened in real headless Chromium (no console errors, a non-blank page that
lists every task), as Markdown, as PNGs, and side by side with other results."""

from __future__ import annotations

import json
import os
import pty
import select
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyte
import pytest
from browser_support import pixel_spread, visit

from edgetune.paths import REPO_DIR
from edgetune.records import read_batches, read_tasks
from edgetune.search.progress import PlainProgress, Progress

ENV = {**os.environ, "PYTHONPATH": str(REPO_DIR)}
MODEL, TRIALS = "tiny_fp32", 10  # 5 tasks: two candidates per batch reach every task
COLS, ROWS = 160, 40


def _tune(recs: Path, trials: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "edgetune", "tune", MODEL, "--trials", str(trials),
            "--per-round", "2", "--records", str(recs), "--no-library", *extra]  # fmt: skip


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """A real tiny tune, its progress on a pipe: (records folder, stderr, stdout)."""
    recs = tmp_path_factory.mktemp("report") / "tuned"
    done = subprocess.run(
        _tune(recs, TRIALS, "--final-top", "0"), env=ENV, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return recs, done.stderr, done.stdout


def _in_terminal(cmd: list[str], interrupt_when: Path | None = None) -> tuple[int, str]:
    """Run `cmd` in a pseudo-terminal of COLS x ROWS: (exit code, everything it received).
    With `interrupt_when`, one Ctrl-C (SIGINT) is sent once that file exists."""
    pid, fd = pty.fork()
    if pid == 0:  # the child
        os.environ.update(ENV, COLUMNS=str(COLS), LINES=str(ROWS), TERM="xterm-256color")
        os.execv(sys.executable, cmd)
    out, deadline = b"", time.time() + 300
    while time.time() < deadline:
        if interrupt_when is not None and interrupt_when.exists():
            os.kill(pid, signal.SIGINT)
            interrupt_when = None
        if select.select([fd], [], [], 0.5)[0]:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


def _screen_lines(raw: str) -> list[str]:
    """What a terminal shows (scrolled-off lines included) after receiving `raw`."""
    screen = pyte.HistoryScreen(COLS, ROWS, history=2000)
    screen.set_mode(pyte.modes.LNM)  # a terminal's onlcr: \n starts a new line
    pyte.ByteStream(screen).feed(raw.encode())
    top = ["".join(ch.data for ch in row.values()) for row in screen.history.top]
    return [ln.rstrip() for ln in top + screen.display if ln.strip()]


@pytest.fixture(scope="module")
def failed(tuned, tmp_path_factory):
    """The tuned folder resumed in a pseudo-terminal with builds that cannot finish (0.01 s
    timeout): (records folder, everything the terminal received)."""
    recs = tmp_path_factory.mktemp("report") / "failed"
    shutil.copytree(tuned[0], recs, ignore=shutil.ignore_patterns("edgetune.lock"))
    code, out = _in_terminal(_tune(recs, TRIALS + 2, "--build-timeout", "0.01"))
    assert code == 1, out  # every candidate of the run failed
    return recs, out


def _no_repeats(lines: list[str]) -> None:
    repeats = [a for a, b in zip(lines, lines[1:]) if a == b]
    assert repeats == []


def test_plain_progress_without_a_terminal_and_the_batch_log(tuned):
    recs, err, out = tuned
    progress = [ln for ln in err.splitlines() if "trials]" in ln]
    assert progress and progress[-1].startswith(f"[{TRIALS}/{TRIALS} trials] est. end-to-end ")
    assert "tasks measured 5/5" in progress[-1] and "ETA" in progress[-1]
    _no_repeats(err.splitlines())
    assert "\x1b[" not in err  # no terminal codes on a pipe
    assert f"measured {TRIALS} new trials" in out
    batches = read_batches(recs)
    assert sum(len(b["candidates"]) for b in batches) == TRIALS
    assert [b["trials"] for b in batches] == list(range(2, TRIALS + 1, 2))
    assert all(b["time"] >= b["session"] for b in batches)
    names = {t["name"] for t in read_tasks(recs)["tasks"]}
    assert {b["task"] for b in batches} == names  # every task measured once at least
    assert batches[-1]["estimate_ms"] > 0


def test_plain_lines_are_printed_only_when_the_status_changes(capsys):
    class Ok:
        error_msg, run_secs = None, [1e-5]

    progress, show = Progress(["a", "b"], [1, 1], budget=4), PlainProgress()
    progress.record(0, [Ok()], [Ok()])
    show(progress)
    progress.record(1, [Ok()], [Ok()])
    show(progress)
    show(progress)  # called again: nothing new to say
    progress.record(1, [], [])  # an empty batch
    show(progress)
    progress.record(0, [], [])  # another task's empty batch: only the task's name changed
    show(progress)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and lines[1].startswith("[2/4 trials] est. end-to-end 0.02 ms")
    assert progress.curve == [(1, None), (2, 2e-5)]  # the empty batches add no point


def test_eta_counts_the_pace_after_the_first_batch(monkeypatch):
    """The first batch carries the set-up (tasks, spaces, workers; a resume's library): 60 s
    of set-up and a 4-trial batch, then 4 trials in 8 s, leave 92 trials at 2 s each, not at
    the 8.5 s of the run's mean (an ETA of 13 min, swinging down batch after batch)."""

    class Ok:
        error_msg, run_secs = None, [1e-5]

    now = [1000.0]
    monkeypatch.setattr("edgetune.search.progress.time.time", lambda: now[0])
    progress = Progress(["a"], [1], budget=100, started=now[0])
    now[0] += 60
    progress.record(0, [Ok()] * 4, [Ok()] * 4)
    assert progress.eta_s == pytest.approx(96 * 60 / 4)  # one batch: its pace, set-up included
    now[0] += 8
    progress.record(0, [Ok()] * 4, [Ok()] * 4)
    assert progress.eta_s == pytest.approx(92 * 2.0)


def test_live_display_in_a_terminal(failed):
    _, raw = failed
    assert "\x1b[" in raw  # drawn with terminal codes, not plain lines
    lines = _screen_lines(raw)
    _no_repeats(lines)
    frame = "\n".join(lines)
    assert f"{TRIALS + 2}/{TRIALS + 2} trials" in frame and "ETA" in frame
    assert "failed builds 2, runs 0" in frame
    assert "measured 2 new trials (2 failed builds, 0 failed runs)" in frame  # the summary
    assert "error: all 2 candidates of this run failed, most often: 2 x " in frame
    assert f"[{TRIALS + 2}/" not in frame  # no plain progress lines besides the live view


def test_ctrl_c_under_the_live_display_keeps_the_records_and_says_how_to_resume(tmp_path):
    recs = tmp_path / "recs"
    cmd = _tune(recs, 40)
    code, raw = _in_terminal(cmd, interrupt_when=recs / "logs" / "edgetune-batches.jsonl")
    lines = _screen_lines(raw)
    assert code == 130 and "Traceback" not in raw
    _no_repeats(lines)
    kept = len(read_batches(recs)) * 2
    again = shlex.join(
        [
            "edgetune",
            "tune",
            MODEL,
            "--trials",
            "40",
            "--records",
            str(recs),
            "--per-round",
            "2",
            "--no-library",
        ]
    )  # the command as given
    assert raw.replace("\r\n", "\n").endswith(
        f"edgetune: interrupted; {kept} measured trials are kept in {recs} ({kept} valid "
        f"records): run the same command again to resume:\n  {again}\n"
    )
    assert any(f"{kept}/40 trials" in ln for ln in lines)  # the last frame stays on screen


def test_console_errors_are_seen_by_the_browser_check(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text("<html><body>x<script>console.error('boom')</script></body></html>")
    assert any("boom" in e["message"] for e in visit(page).console)


@pytest.mark.parametrize("which", ["tuned", "failed"])
def test_html_report_in_headless_chromium(which, tuned, failed, tmp_path, cli):
    recs = {"tuned": tuned, "failed": failed}[which][0]
    page = tmp_path / "report.html"
    done = cli("report", recs, "-o", page)
    assert done.code == 0, done.err
    html = page.read_text()
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<script" not in html and html.count("<svg") == 2
    seen = visit(page)
    assert seen.console == []
    assert pixel_spread(seen.png) > 10
    tasks = read_tasks(recs)["tasks"]
    for t in tasks:  # one row per task: name, weight, family, kernel path
        row = next(ln for ln in seen.text.splitlines() if f"\t{t['name']}\t" in f"{ln}\t")
        assert f"\t{t['weight']}\t" in row and t["family"] in row and row.endswith(t["path"])
    assert "Estimated end-to-end latency vs trials" in seen.text and "host" in seen.text
    if which == "failed":
        assert "build timed out: killed after 0.01 seconds" in seen.text
        assert "build\t2\t" in seen.text
    else:
        assert "No failed candidates" in seen.text


def test_side_by_side_markdown_and_pngs(tuned, failed, tmp_path, cli):
    compare = tmp_path / "compare.json"
    lat = {"median_ms": 0.05, "p90_ms": 0.06, "min_ms": 0.04, "mean_ms": 0.05, "repeat": 5}
    compare.write_text(json.dumps({"model": MODEL, "board": "host", "tuned_tasks": 5,
                                   "total_tasks": 5, "edgetune": lat,
                                   "litert": {**lat, "median_ms": 0.1}}))  # fmt: skip
    profile = REPO_DIR / "docs/results/profile_fp32_2026-11-30_s4.json"
    md = tmp_path / "r.md"
    args = ["--with", tuned[0], "--with", compare, "--with", profile]
    done = cli("report", failed[0], "--format", "md", "-o", md, *args, "--png", tmp_path / "png")
    assert done.code == 0, done.err
    text = md.read_text()
    assert f"| failed | {MODEL} | host | 12 | 2 | 5/5 |" in text
    assert f"| tuned | {MODEL} | host | 10 | 0 | 5/5 |" in text
    assert "| compare.json | tiny_fp32 | 5/5 | 0.050 | 0.100 | 0.50x |" in text
    assert json.loads(profile.read_text())["verdict"] in text
    for t in read_tasks(failed[0])["tasks"]:
        assert f"| {t['name']} | {t['weight']} |" in text
    pngs = sorted((tmp_path / "png").glob("*.png"))
    assert [p.name for p in pngs] == [
        "estimated_end_to_end_latency_vs_trials.png",
        "estimated_end_to_end_latency_vs_tuning_time.png",
    ]
    from PIL import Image

    for png in pngs:
        assert Image.open(png).size == (560, 360) and pixel_spread(png.read_bytes()) > 10


def test_report_json_writes_no_page_unless_asked(tuned, tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    done = cli("report", tuned[0], "--json")
    assert done.code == 0, done.err
    data = json.loads(done.out)
    assert data["output"] is None and data["pngs"] == [] and list(tmp_path.iterdir()) == []
    assert {t["name"] for t in data["per_task"]} == {
        t["name"] for t in read_tasks(tuned[0])["tasks"]
    }
    done = cli("report", tuned[0], "--json", "-o", "r.md")
    assert json.loads(done.out)["output"] == "r.md" and "| tuned |" not in done.out
    assert (tmp_path / "r.md").read_text().startswith("#")


def test_report_says_how_many_candidates_were_timed_scaled(tuned, tmp_path, cli):
    """Candidates timed on fewer CPUs of a busy host (the batch log's `scaled`): their times
    do not compare with the rest for microsecond kernels, and the report says how many."""
    recs = tmp_path / "recs"
    shutil.copytree(tuned[0], recs, ignore=shutil.ignore_patterns("edgetune.lock"))
    log = recs / "logs" / "edgetune-batches.jsonl"
    batches = [json.loads(ln) for ln in log.read_text().splitlines()]
    for b in batches[1:]:  # the first batch as the tune logged it, the others scaled
        b["scaled"] = {"cpus": [1], "factor": 0.5}
    log.write_text("".join(json.dumps(b) + "\n" for b in batches))
    data = json.loads(cli("report", recs, "--json", "-o", tmp_path / "r.md").out)
    first = len(batches[0]["candidates"]) if batches[0].get("scaled") else 0
    assert data["trials_timed_scaled"] == TRIALS - len(batches[0]["candidates"]) + first
    page = (tmp_path / "r.md").read_text()
    assert f"{data['trials_timed_scaled']} of these candidates were timed on fewer CPUs" in page


def test_report_refuses_what_is_not_a_records_folder(tmp_path, cli):
    done = cli("report", tmp_path)
    assert done.code != 0 and done.err.strip().splitlines() == [
        f"edgetune: error: {tmp_path}: not an edgetune records folder (no edgetune-records.json)"
    ]
    done = cli("report", tmp_path / "missing")
    assert done.err.strip() == (f"edgetune: error: {tmp_path / 'missing'}: no such folder (a "
                                "records folder of `edgetune tune`)")  # fmt: skip
    (tmp_path / "x.json").write_text("[1, 2]")
    (tmp_path / "edgetune-records.json").write_text("{}")
    (tmp_path / "edgetune-tasks.json").write_text('{"tasks": [], "tuned_with": {}}')
    done = cli("report", tmp_path, "--with", tmp_path / "x.json")
    assert done.code != 0 and done.err.strip() == (
        f"edgetune: error: --with {tmp_path / 'x.json'}: not the JSON of `edgetune compare "
        "--json` or `profile --json`"
    )


def test_charts_place_points_on_round_ticks_and_say_when_empty():
    from edgetune.report import LineChart, Series

    chart = LineChart("t", "x", "y", [Series("a", [(0, 1.5), (100, 8.0)])], log_y=True)
    svg = chart.svg()
    labels = {ln.rsplit(">", 2)[-2].split("<")[0] for ln in svg.splitlines() if "</text>" in ln}
    assert {"1", "2", "5", "10", "0", "100"} <= labels
    assert svg.count("<circle") == 2 and "no data" not in svg
    assert "no data" in LineChart("t", "x", "y", [Series("a", [])]).svg()
