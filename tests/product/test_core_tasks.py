"""core/tasks.py: Python work on a thread as a protocol-speaking task, then optionally a
backend process in the same task (pure, no bpy)."""

from __future__ import annotations

import sys
import threading
import time

from addon.core.errors import AddonError
from addon.core.job import JobState
from addon.core.protocol import LineSplitter, parse_line
from addon.core.tasks import ThreadTask


def _drive(task, timeout_s: float = 20.0) -> JobState:
    state, splitter, deadline = JobState(), LineSplitter(), time.monotonic() + timeout_s
    while True:
        lines, done = task.poll()
        for chunk in lines:
            for line in splitter.feed(chunk):
                state.apply(parse_line(line), time.monotonic())
        if done:
            return state
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_work_then_the_process_it_asks_for_are_one_task(tmp_path):
    child = "import json; print(json.dumps({'event': 'result', 'path': '/r', 'n': 3}), flush=True)"

    def work(emit, token):
        emit("stage", stage="hash", message="Hashing")
        return [sys.executable, "-c", child]

    task = ThreadTask(work, tmp_path / "logs" / "t.log", cwd=str(tmp_path))
    state = _drive(task)
    assert state.counts == {"stage": 1, "result": 1} and state.result.extra == {"n": 3}
    assert task.pid is not None and task.returncode == 0
    assert "$ " in (tmp_path / "logs" / "t.log").read_text()  # the process appended its command line


def test_an_addon_error_is_one_error_event_with_the_tasks_code(tmp_path):
    def work(emit, token):
        raise AddonError("the disk is full", "Free some space.")

    task = ThreadTask(work, tmp_path / "t.log", error_code="INSTALL_FAILED")
    assert _drive(task).error == ("INSTALL_FAILED", "the disk is full", "Free some space.")
    assert task.pid is None and task.returncode == 1


def test_a_bug_is_an_internal_error_with_the_traceback_in_the_log(tmp_path):
    task = ThreadTask(lambda emit, token: 1 / 0, tmp_path / "t.log")
    code, message, _hint = _drive(task).error
    assert code == "INTERNAL" and "ZeroDivisionError" in message
    assert "Traceback" in (tmp_path / "t.log").read_text()


def test_cancel_stops_the_work_and_no_process_starts(tmp_path):
    running = threading.Event()

    def work(emit, token):
        running.set()
        while True:
            token.check()
            time.sleep(0.01)

    task = ThreadTask(work, tmp_path / "t.log")
    assert running.wait(10)
    task.kill_tree()
    state = _drive(task, 5)
    assert task.process is None and not state.finished  # no answer: the job engine says Cancelled
