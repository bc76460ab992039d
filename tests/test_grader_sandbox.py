"""The grader's sandbox, its refusal without one, private tests, and results that survive a crash.

The sandbox is probed from inside one kernel (what it can see, reach and start); the rest grades the
tiny synthetic chapter of test_coursework (about a second a notebook).
"""

import copy
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

import coursework as cw
import grade
import sandbox
from grader_helpers import processes_with, read_scores, require_sandbox, run_grade
from test_coursework import solve, synthetic_chapter

SCRIPTS = cw.ROOT / "scripts"

PROBE = """\
import json, os, socket, threading, time
seen = {{}}
seen["checkout"] = os.path.exists({root!r}) or os.path.exists({chapters!r})
seen["secret_file"] = os.path.exists({secret!r})
seen["env"] = sorted(k for k in os.environ if k.startswith("FFN_"))
seen["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
seen["cwd"] = os.getcwd()
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
    seen["tcp"] = "connected"
except OSError as err:
    seen["tcp"] = type(err).__name__
writable = []
for path in ({root!r} + "/PWNED-{token}", "/usr/PWNED-{token}", "/etc/PWNED-{token}", "/PWNED-{token}"):
    try:
        open(path, "w").close()
        writable.append(path)
    except OSError:
        pass
seen["writable"] = writable
threads = []
try:
    for _ in range(200):
        t = threading.Thread(target=time.sleep, args=(5,), daemon=True)
        t.start()
        threads.append(t)
except RuntimeError:
    pass
seen["threads"] = len(threads)
print(json.dumps(seen))
"""


@pytest.fixture(scope="module")
def probed(tmp_path_factory):
    require_sandbox()
    secret = tmp_path_factory.mktemp("secret") / "answers.txt"
    secret.write_text("the instructor's answers")
    token = uuid.uuid4().hex[:12]
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    os.environ["FFN_SECRET_TOKEN"] = token
    try:
        nb = new_notebook(cells=[
            new_code_cell(PROBE.format(root=str(cw.ROOT), chapters=str(cw.CHAPTERS), secret=str(secret),
                                       port=server.getsockname()[1], token=token)),
            new_code_cell("import subprocess, sys\n"
                          f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)  # {token}'],"
                          " start_new_session=True)"),
            new_code_cell("while True:\n    pass"),
        ])
        with sandbox.Sandbox() as box:
            report = box.report
        start = time.monotonic()
        replies, status, reason = grade.run_notebook(nb, 15, True)
        seconds = time.monotonic() - start
    finally:
        del os.environ["FFN_SECRET_TOKEN"]
        server.close()
    out = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    errors = [o for c in nb.cells for o in c.outputs if o.output_type == "error"]
    assert out, f"the probe printed nothing: {errors}"
    return {"seen": json.loads(out), "status": status, "seconds": seconds, "token": token, "report": report}


def test_the_sandbox_hides_the_host(probed):
    seen = probed["seen"]
    assert not seen["checkout"], "the checkout is visible"
    assert not seen["secret_file"], "a file of the instructor's is visible"
    assert seen["env"] == [], "the grader's environment leaked in"
    assert len(seen["pids"]) < 10, f"the host's processes are visible: {seen['pids']}"
    assert seen["cwd"] == "/tmp/work"


def test_the_sandbox_has_no_network(probed):
    assert probed["seen"]["tcp"] != "connected", "reached a server on the host's loopback"


def test_the_sandbox_writes_nowhere_outside(probed):
    assert probed["seen"]["writable"] == []
    assert not list(cw.ROOT.glob(f"PWNED-{probed['token']}"))
    assert not any(os.path.exists(f"{d}/PWNED-{probed['token']}") for d in ("/usr", "/etc", ""))


def test_the_sandbox_limits_processes(probed):
    if probed["report"].processes.startswith("none"):
        pytest.skip(f"no process limit can be set here: {probed['report'].processes}")
    assert probed["seen"]["threads"] < sandbox.Limits.processes


def test_the_time_limit_stops_it_and_nothing_survives(probed):
    assert probed["status"] == "timeout"
    assert probed["seconds"] < 40
    time.sleep(1)
    assert processes_with(probed["token"]) == [], "a detached process outlived the sandbox"


# --- without a sandbox -----------------------------------------------------------------------------

def small_batch(root):
    chapters, subs = root / "chapters", root / "submissions"
    chapters.mkdir()
    one = synthetic_chapter(1)
    nbformat.write(one, chapters / "01_synthetic.ipynb")
    student = cw.student_version(one, "01_synthetic")
    for name, answer in (("ann", "return x * x"), ("bob", "return 9")):
        (subs / name).mkdir(parents=True)
        solved = copy.deepcopy(student)
        solve(solved, "ex1-1", answer)
        nbformat.write(solved, subs / name / "01_synthetic.ipynb")
    return chapters, subs


def test_without_bubblewrap_grading_refuses_in_one_line(tmp_path):
    chapters, subs = small_batch(tmp_path)
    env = {**os.environ, "PATH": str(tmp_path / "empty")}  # no bwrap on the PATH
    done = subprocess.run([sys.executable, SCRIPTS / "grade.py", subs, "--out", tmp_path / "grades",
                           "--chapters", chapters], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no sandbox") and "--no-sandbox" in lines[0], done.stderr
    assert "bubblewrap" in lines[0]
    assert not (tmp_path / "grades").exists()


def test_no_sandbox_says_so_on_every_row(tmp_path):
    chapters, subs = small_batch(tmp_path)
    code, out, err = run_grade(subs, "--out", tmp_path / "grades", "--chapters", chapters, "--no-sandbox")
    assert code == 0, err
    rows = read_scores(tmp_path / "grades" / "scores.csv")
    assert rows and all(r["sandbox"] == grade.UNSANDBOXED for r in rows)
    assert out.startswith("WARNING: graded with --no-sandbox")
    assert sum(line.count("NO SANDBOX") for line in out.splitlines()) == 2, "a note on each student's line"
    assert {(r["student"], r["exercise"]): r["points"] for r in rows} == {
        ("ann", "ex1-1"): "1", ("ann", "ex1-2"): "0", ("bob", "ex1-1"): "0", ("bob", "ex1-2"): "0"}


# --- private tests ---------------------------------------------------------------------------------

def test_private_tests_run_after_the_visible_ones(tmp_path):
    require_sandbox()
    chapters, subs = small_batch(tmp_path)
    private = tmp_path / "private"
    private.mkdir()
    (private / "01_synthetic.py").write_text(
        "# Private tests for chapter 1 (not in the repository).\n"
        "# %% ex1-1\nassert square(0.5) == 0.25, 'private: fractions'\n"
        "# %% ex1-2\nassert hypotenuse(5, 12) == 13, 'private: 5-12-13'\n")
    (subs / "cheat").mkdir()
    cheat = cw.student_version(synthetic_chapter(1), "01_synthetic")
    solve(cheat, "ex1-1", "return x * x if x != 0.5 else 0")  # passes the visible and hidden tests only
    solve(cheat, "ex1-2", "return 5.0")                           # passes the visible test only
    nbformat.write(cheat, subs / "cheat" / "01_synthetic.ipynb")
    code, out, err = run_grade(subs, "--out", tmp_path / "grades", "--chapters", chapters, "--tests", private)
    assert code == 0, err
    rows = {(r["student"], r["exercise"]): (r["points"], r["reason"])
            for r in read_scores(tmp_path / "grades" / "scores.csv")}
    assert rows["ann", "ex1-1"][0] == "1", "a correct answer passes the private tests"
    assert rows["cheat", "ex1-1"] == ("0", "AssertionError: private: fractions")
    assert rows["cheat", "ex1-2"] == ("0", "AssertionError: private: 5-12-13")


@pytest.mark.parametrize("text, message", [
    ("# %% ex1-9\nassert True\n", "'ex1-9' is not an exercise"),
    ("x = 1\n# %% ex1-1\nassert True\n", "code before the first"),
    ("# %% ex1-1\nassert (\n", "does not parse"),
])
def test_a_bad_private_test_file_is_one_clear_line(tmp_path, text, message):
    chapters, subs = small_batch(tmp_path)
    private = tmp_path / "private"
    private.mkdir()
    (private / "01_synthetic.py").write_text(text)
    code, out, err = run_grade(subs, "--out", tmp_path / "grades", "--chapters", chapters, "--tests", private)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


# --- results: written as each notebook finishes, resumed after a crash --------------------------------

def test_a_killed_run_keeps_its_rows_and_a_rerun_resumes(tmp_path):
    require_sandbox()
    chapters, subs = small_batch(tmp_path)
    slow = cw.student_version(synthetic_chapter(1), "01_synthetic")
    solve(slow, "ex1-1", "while True:\n        pass")
    (subs / "zed").mkdir()
    nbformat.write(slow, subs / "zed" / "01_synthetic.ipynb")
    scores = tmp_path / "grades" / "scores.csv"
    run = subprocess.Popen([sys.executable, SCRIPTS / "grade.py", subs, "--out", tmp_path / "grades",
                            "--chapters", chapters, "--limit", "60", "--workers", "3"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        graded = {r["student"] for r in read_scores(scores)} if scores.exists() else set()
        if {"ann", "bob"} <= graded:
            break
        time.sleep(0.5)
    os.killpg(run.pid, signal.SIGKILL)  # the grader and its workers die mid-run, zed still looping
    run.wait()
    rows = read_scores(scores)
    assert {r["student"] for r in rows} == {"ann", "bob"}, "the finished notebooks' rows are on disk"
    code, out, err = run_grade(subs, "--out", tmp_path / "grades", "--chapters", chapters, "--limit", "3")
    assert code == 0 and "resuming" in err and "2 notebook(s) already graded" in err, err
    assert "graded zed/" in err and "graded ann/" not in err, "only the missing notebook is graded"
    final = read_scores(scores)
    assert sorted((r["student"], r["exercise"]) for r in final) == [
        (s, e) for s in ("ann", "bob", "zed") for e in ("ex1-1", "ex1-2")]
    assert {r["status"] for r in final if r["student"] == "zed"} == {"timeout"}
    code, out, err = run_grade(subs, "--out", tmp_path / "grades", "--chapters", chapters, "--fresh",
                               "--limit", "3")
    assert code == 0 and "resuming" not in err and "graded ann/" in err


def test_a_results_file_of_another_format_is_not_overwritten(tmp_path):
    chapters, subs = small_batch(tmp_path)
    (tmp_path / "grades").mkdir()
    with open(tmp_path / "grades" / "scores.csv", "w", newline="") as f:
        csv.writer(f).writerows([["name", "mark"], ["ann", "10"]])
    code, out, err = run_grade(subs, "--out", tmp_path / "grades", "--chapters", chapters)
    assert code == 2 and "--fresh" in err
    assert (tmp_path / "grades" / "scores.csv").read_text().startswith("name,mark")


def test_the_readme_example_of_private_tests_works(tmp_path):
    """The README's private-test example, as written: the honest solutions pass it, the stubs fail it."""
    require_sandbox()
    readme = (cw.ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("    private/06_backpropagation.py\n\n", 1)[1].split("\n\n", 1)[0]
    private = tmp_path / "private"
    private.mkdir()
    (private / "06_backpropagation.py").write_text("\n".join(line[4:] for line in block.splitlines()) + "\n")
    chapters, subs = tmp_path / "chapters", tmp_path / "submissions"
    chapters.mkdir()
    instructor = cw.read_notebook(cw.CHAPTERS / "06_backpropagation.ipynb")
    nbformat.write(instructor, chapters / "06_backpropagation.ipynb")
    for student, nb in (("honest", instructor), ("stub", cw.student_version(instructor, "06_backpropagation"))):
        (subs / student).mkdir(parents=True)
        nbformat.write(nb, subs / student / "06_backpropagation.ipynb")
    assert set(grade.read_private_tests(private, chapters)["06_backpropagation"]) == {"ex6-2", "ex6-4"}
    code, out, err = run_grade(subs, "--out", tmp_path / "grades", "--chapters", chapters, "--tests", private)
    assert code == 0, err
    got = {(r["student"], r["exercise"]): r["status"] for r in read_scores(tmp_path / "grades" / "scores.csv")}
    exercises = {e for _, e in got}
    assert {"ex6-2", "ex6-4"} <= exercises, got          # the two the private tests extend
    assert got == {(s, e): "passed" if s == "honest" else "failed" for s in ("honest", "stub") for e in exercises}
