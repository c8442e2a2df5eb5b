"""The batch lock: DIR/.tcmr-lock (backend.result's convention) held for the whole batch, so two
`batch` commands on one --out never both write batch.json; the second fails fast with BATCH_LOCKED."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from backend.batch.runner import batch_lock
from backend.errors import BackendError, Code
from backend.result import LOCK_FILE
from tests.batch.conftest import FAST, REPO, batch_cmd, run_batch
from tests.pipeline.conftest import backend_env, parse


def test_live_lock_refuses_dead_lock_is_taken_over(tmp_path):
    out = tmp_path / "out"
    with batch_lock(out) as held:
        assert (held / LOCK_FILE).read_text().strip() == str(os.getpid())
        with pytest.raises(BackendError) as info, batch_lock(out):
            pass
        assert info.value.code == Code.BATCH_LOCKED and str(os.getpid()) in info.value.message
        assert "another --out" in info.value.hint
    assert not (out / LOCK_FILE).exists()  # released

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    (out / LOCK_FILE).write_text(dead + "\n")  # a batch that was killed: its lock is stale
    with batch_lock(out):
        assert (out / LOCK_FILE).read_text().strip() == str(os.getpid())


def test_second_batch_on_same_out_fails_fast(inputs, model_data_dir, tmp_path):
    out = tmp_path / "out"
    args = (inputs / "walk.mp4", "--out", out, "--data-dir", model_data_dir, "--workers", "1", *FAST)
    env = backend_env()
    env["OMP_NUM_THREADS"] = "1"
    first = subprocess.Popen(batch_cmd(*args), cwd=REPO, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    events = []
    for line in first.stdout:  # the first batch has taken the lock once it planned its inputs
        events.append(parse(line)[0])
        if events[-1]["event"] == "stage" and events[-1]["stage"] == "batch":
            break
    second = run_batch(*args)  # refused only while the first holds the lock: the two overlapped
    assert second.rc == 2 and second.of("error")[0]["code"] == "BATCH_LOCKED", second.stderr
    assert str(first.pid) in second.of("error")[0]["message"]
    assert not second.of("stage")  # refused before planning or starting any worker
    _, err = first.communicate(timeout=240)
    assert first.returncode == 0, err[-3000:]
    data = json.loads((out / "batch.json").read_text())
    assert [(e["name"], e["status"]) for e in data["inputs"]] == [("walk", "done")]
    assert not (out / LOCK_FILE).exists()
