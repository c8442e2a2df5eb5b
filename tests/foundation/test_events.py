"""Contract 2 (docs/contracts.md) emitter: JSON lines on stdout only, exactly one result or error."""

import io
import json

import pytest

from backend.errors import BackendError, Code
from backend.events import Reporter


def _lines(buf: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


def test_jsonl_events_are_one_object_per_line_and_stderr_stays_free():
    out, err = io.StringIO(), io.StringIO()
    rep = Reporter(jsonl=True, out=out, err=err, min_interval_s=0.0)
    rep.hello(device="cpu", command="run")
    rep.stage("detect", "Detecting people")
    rep.progress("detect", 3, 10)
    rep.warning("SHORT_TRACK", "track 2 has 3 frames", "use --min-track-length")
    rep.result("/tmp/out", tracks=2)
    events = _lines(out)
    assert [e["event"] for e in events] == ["hello", "stage", "progress", "warning", "result"]
    assert events[0]["protocol"] == 1 and events[0]["device"] == "cpu"
    assert events[2] == {"event": "progress", "stage": "detect", "done": 3, "total": 10}
    assert events[4]["path"] == "/tmp/out" and events[4]["tracks"] == 2
    assert err.getvalue() == ""


def test_progress_is_throttled_but_the_final_update_always_arrives():
    out = io.StringIO()
    rep = Reporter(jsonl=True, out=out, err=io.StringIO(), min_interval_s=3600.0)
    rep.stage("features")
    for done in range(1, 101):
        rep.progress("features", done, 100)
    progress = [e for e in _lines(out) if e["event"] == "progress"]
    assert progress[0]["done"] == 1 and progress[-1]["done"] == 100
    assert len(progress) == 2


def test_a_command_ends_with_exactly_one_result_or_error():
    rep = Reporter(jsonl=True, out=io.StringIO(), err=io.StringIO())
    rep.error(BackendError(Code.NO_PERSON, "nobody", "use --bbox"))
    with pytest.raises(RuntimeError):
        rep.result("/x")


def test_error_event_carries_code_message_and_hint():
    out = io.StringIO()
    Reporter(jsonl=True, out=out, err=io.StringIO()).error(
        BackendError(Code.DATA_MISSING, "SMPL_NEUTRAL.pkl is missing", "put it in the data folder"))
    assert _lines(out) == [{"event": "error", "code": "DATA_MISSING",
                            "message": "SMPL_NEUTRAL.pkl is missing", "hint": "put it in the data folder"}]


def test_human_mode_keeps_stdout_empty_and_draws_on_stderr():
    out, err = io.StringIO(), io.StringIO()
    rep = Reporter(jsonl=False, out=out, err=err, min_interval_s=0.0)
    rep.stage("features", "Extracting features")
    rep.progress("features", 5, 10)
    rep.result("/tmp/r")
    assert out.getvalue() == ""
    assert "5/10" in err.getvalue() and "/tmp/r" in err.getvalue()
