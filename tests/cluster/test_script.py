"""``scripts/cluster`` itself: bad flags name the flag and the limit, ``down`` is safe on a half-started
cluster and on recycled pids, and an interrupted ``up`` stops what it had started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cluster.lib import SCRIPT, missing, script, until

pytestmark = [pytest.mark.cluster]


def ticks(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[19])


def gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2 :].split()[0] in ("Z", "X")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--api", "99"], "--api 99 is out of range (limit: 0-64)"),
        (["--workers", "-1"], "--workers -1 is out of range (limit: 0-64)"),
        (["--concurrency", "0"], "--concurrency must be at least 1 (limit: 1-64)"),
        (["--env", "NOEQUALS"], "--env 'NOEQUALS': expected KEY=VALUE"),
    ],
)
def test_bad_flags_name_the_flag_and_the_limit(tmp_path, args, message):
    done = script("up", str(tmp_path / "c"), *args, check=False, timeout=120)
    assert done.returncode in (1, 2) and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    state = tmp_path / "c" / "cluster.json"
    if state.exists():  # a refusal after it began: nothing left running
        comps = json.loads(state.read_text()).get("components", {})
        assert all(gone(c["pid"]) for c in comps.values() if c.get("pid"))


def test_commands_on_no_cluster_say_so(tmp_path):
    assert script("down", str(tmp_path), check=False).stdout.startswith("no cluster in")
    done = script("status", str(tmp_path), check=False)
    assert done.returncode == 1 and "no cluster in" in done.stdout


def test_down_signals_only_the_processes_it_started(tmp_path):
    """A component whose pid now belongs to another process (start time differs) is left alone; one
    that is still ours is stopped; ``down`` twice is fine."""
    sleeper = subprocess.Popen(["sleep", "300"], start_new_session=True)
    stranger = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        state = {
            "components": {
                "worker-1": {"kind": "worker", "pid": sleeper.pid, "ticks": ticks(sleeper.pid), "log": "/dev/null"},
                "worker-2": {"kind": "worker", "pid": stranger.pid, "ticks": ticks(stranger.pid) - 1, "log": "x"},
            }
        }
        (tmp_path / "cluster.json").write_text(json.dumps(state))
        status = script("status", str(tmp_path), check=False)
        assert status.returncode == 1 and "worker-2" in status.stdout
        script("down", str(tmp_path), "--grace", "5")
        assert sleeper.wait(timeout=30) == -signal.SIGTERM
        assert stranger.poll() is None  # not ours any more: never signalled
        assert "is down" in script("down", str(tmp_path)).stdout
    finally:
        for p in (sleeper, stranger):
            p.kill()
            p.wait()


@pytest.mark.slow
def test_an_interrupted_up_stops_what_it_had_started(tmp_path):
    reason = missing()
    if reason:
        pytest.skip(f"no local cluster here: {reason}")
    root = tmp_path / "c"
    up = subprocess.Popen(
        [str(SCRIPT), "up", str(root), "--api", "1", "--workers", "1", "--storage", "file"],
        env={**os.environ, "SEQEDIT_PYTHON": sys.executable},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def redis_up():
            try:
                comps = json.loads((root / "cluster.json").read_text())["components"]
            except (OSError, ValueError, KeyError):
                return None
            return comps if comps.get("redis", {}).get("state") == "running" else None

        started = until(redis_up, 180, "up started redis")
        up.send_signal(signal.SIGTERM)
        _, err = up.communicate(timeout=180)
        assert up.returncode != 0 and "cluster up failed; stopping what was started" in err
        pids = [c["pid"] for c in started.values() if c.get("pid")]
        assert pids and all(gone(p) for p in pids), started
        after = json.loads((root / "cluster.json").read_text())["components"]
        assert {c["state"] for c in after.values()} <= {"stopped"}
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        script("down", str(root), "--grace", "5", check=False)
