"""Protocol reader (Contract 2, docs/contracts.md) and job state: pure, no bpy."""

import json

from addon.core.job import JobState, RateMeter, format_eta
from addon.core.protocol import LineSplitter, parse_line


def test_known_event_keeps_known_fields_and_drops_unknown_ones():
    ev = parse_line(json.dumps({"event": "progress", "stage": "detect", "done": 3, "total": 10,
                                "new_field": [1, 2]}) + "\n")
    assert ev.kind == "progress"
    assert ev.fields == {"stage": "detect", "done": 3, "total": 10}
    assert ev.extra == {"new_field": [1, 2]}  # kept apart, for callers that read them


def test_unknown_event_blank_and_garbage_lines_are_none():
    assert parse_line('{"event": "telemetry", "x": 1}') is None
    assert parse_line("") is None
    assert parse_line("   \n") is None
    assert parse_line("Traceback (most recent call last):") is None
    assert parse_line("[1, 2, 3]") is None
    assert parse_line('{"no_event": 1}') is None


def test_wrongly_typed_fields_are_ignored_not_trusted():
    ev = parse_line('{"event": "progress", "stage": "detect", "done": "3", "total": true}')
    assert ev.kind == "progress" and ev.fields == {"stage": "detect"}


def test_line_splitter_joins_partial_lines():
    sp = LineSplitter()
    assert sp.feed('{"event": "sta') == []
    assert sp.feed('ge", "stage": "detect"}\n{"event"') == ['{"event": "stage", "stage": "detect"}']
    assert sp.feed(': "result", "path": "/r"}\r\n') == ['{"event": "result", "path": "/r"}']
    assert sp.flush() == []
    sp.feed('{"event": "err')
    assert sp.flush() == ['{"event": "err']


def test_job_state_follows_a_run():
    state = JobState()
    lines = [
        '{"event": "hello", "protocol": 1, "backend_version": "0.1.0", "device": "cpu", "command": "run"}',
        '{"event": "stage", "stage": "detect", "message": "Detecting people"}',
        '{"event": "progress", "stage": "detect", "done": 0, "total": 100}',
        '{"event": "progress", "stage": "detect", "done": 20, "total": 100}',
        "some stray text",
        '{"event": "warning", "code": "SHORT_TRACK", "message": "short", "hint": "h"}',
        '{"event": "progress", "stage": "detect", "done": 40, "total": 100}',
    ]
    for t, line in enumerate(lines):
        state.apply(parse_line(line), now=float(t))
    assert state.device == "cpu" and state.protocol == 1
    assert state.stage == "detect" and state.stage_label == "Detecting people"
    assert state.factor == 0.4
    # 0 -> 20 -> 40 frames at t = 2, 3, 6: 40 frames in 4 s
    assert abs(state.rate - 10.0) < 1e-9
    assert abs(state.eta - 6.0) < 1e-9
    assert state.warnings == [("SHORT_TRACK", "short", "h")]
    assert state.ignored_lines == 1
    assert not state.finished
    state.apply(parse_line('{"event": "stage", "stage": "regress"}'), now=7.0)
    assert state.factor == 0.0 and state.rate == 0.0 and state.eta is None
    err = '{"event": "error", "code": "NO_PERSON", "message": "nobody", "hint": "crop"}'
    state.apply(parse_line(err), 8.0)
    assert state.finished and state.error == ("NO_PERSON", "nobody", "crop")
    state.apply(parse_line('{"event": "result", "path": "/x"}'), 9.0)  # only the first end counts
    assert state.result_path is None


def test_crash_without_end_event_becomes_an_error_with_the_last_stderr_line():
    state = JobState()
    state.fail_from_exit(-9, "loading\nSegmentation fault\n")
    assert state.error[0] == "BACKEND_CRASHED"
    assert "-9" in state.error[1] and "Segmentation fault" in state.error[1]


def test_rate_meter_window_and_restart():
    m = RateMeter(window_s=2.0)
    for t, d in [(0, 0), (1, 100), (2, 110), (3, 120), (4, 130)]:
        m.add(float(t), float(d))
    assert abs(m.rate() - 10.0) < 1e-9  # the early burst fell out of the window
    m.add(5.0, 5.0)  # counter went back: a new pass
    assert m.rate() == 0.0


def test_format_eta():
    assert format_eta(None) == "--"
    assert format_eta(65.4) == "1:05"
    assert format_eta(3725) == "1:02:05"


def test_newer_protocol_is_a_warning_not_a_failure():
    state = JobState()
    state.apply(parse_line('{"event": "hello", "protocol": 7, "device": "cuda"}'), 0.0)
    assert state.warnings[0][0] == "PROTOCOL_NEWER" and not state.finished and state.device == "cuda"


def test_events_are_typed_and_the_result_keeps_its_extra_fields():
    from addon.core.protocol import Progress, Result

    ev = parse_line('{"event": "progress", "stage": "detect", "done": 2, "total": 4}')
    assert isinstance(ev, Progress) and (ev.stage, ev.done, ev.total) == ("detect", 2, 4)
    line = json.dumps({"event": "result", "path": "/r", "torch": "2.6", "files": [{"status": "found"}]})
    ev = parse_line(line)
    assert isinstance(ev, Result) and ev.path == "/r"
    assert ev.extra == {"torch": "2.6", "files": [{"status": "found"}]}
    state = JobState()
    state.apply(ev, 0.0)
    assert state.result_path == "/r" and state.result.extra["torch"] == "2.6"


def test_progress_unit_comes_from_the_event_and_defaults_to_frames():
    state = JobState()
    line = '{"event": "progress", "stage": "hash", "done": 1.5, "total": 3, "unit": "MB"}'
    state.apply(parse_line(line), 0.0)
    assert state.unit == "MB" and state.factor == 0.5
    state.apply(parse_line('{"event": "progress", "stage": "detect", "done": 1, "total": 3}'), 1.0)
    assert state.unit == "frames"
