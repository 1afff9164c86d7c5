"""Runs probe scenarios in worker processes (one per Keras flavour, TensorFlow imported
once there), with a time limit per scenario: a scenario that crashes its worker or runs
out of time gets verdict ``error`` and the worker is started afresh for the rest."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.util import find_spec
from typing import IO, Any

from bnlint.probe.result import ProbeResult
from bnlint.probe.scenario import Scenario

FLAVOURS = ("keras3", "tf-keras")
INSTALL_HINT = "pip install 'bnlint[probe]'"
# Importing TensorFlow and Keras takes about 5 s on 2 cores; leave room for a slow disk.
START_TIMEOUT = 180.0


class ProbeUnavailable(Exception):
    """The probe cannot run here (TensorFlow or the flavour's Keras is not installed)."""


def missing_packages(flavour: str) -> list[str]:
    """The packages ``flavour`` needs that are not installed (found without importing)."""
    needed = ["tensorflow", "tf_keras" if flavour == "tf-keras" else "keras"]
    return [name for name in needed if find_spec(name) is None]


def require(flavours: tuple[str, ...]) -> None:
    """Raise ProbeUnavailable naming the install command when TensorFlow is missing."""
    if find_spec("tensorflow") is None or ("keras3" in flavours and find_spec("keras") is None):
        raise ProbeUnavailable(f"--probe needs TensorFlow and Keras: {INSTALL_HINT}")


@dataclass(slots=True)
class Worker:
    """One worker process and the versions it reported."""

    flavour: str
    process: subprocess.Popen[str]
    versions: tuple[tuple[str, str], ...]

    @classmethod
    def start(cls, flavour: str) -> Worker | str:
        """A ready worker, or why it could not start."""
        missing = missing_packages(flavour)
        if missing:
            extra = "pip install tf-keras" if "tf_keras" in missing else INSTALL_HINT
            return f"{', '.join(missing)} not installed ({extra})"
        process = subprocess.Popen(
            [sys.executable, "-m", "bnlint.probe.worker", "--flavour", flavour],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        hello = _read_line(process, START_TIMEOUT)
        if not isinstance(hello, dict) or not hello.get("ready"):
            _kill(process)
            reason = hello.get("error") if isinstance(hello, dict) else None
            return f"the {flavour} worker did not start ({reason or 'no answer'})"
        versions = hello.get("versions")
        pairs = tuple(sorted((str(k), str(v)) for k, v in versions.items())) if isinstance(
            versions, dict) else ()
        return cls(flavour, process, pairs)

    def run(self, scenario: Scenario, timeout: float) -> ProbeResult:
        """Run one scenario; on a timeout or a crash the worker is stopped."""
        started = time.perf_counter()
        try:
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps({"id": 0, "scenario": scenario.to_json()}) + "\n")
            self.process.stdin.flush()
        except OSError:
            return self._failed("the probe worker exited", started)
        answer = _read_line(self.process, timeout)
        if answer is _TIMED_OUT:
            self.stop()
            return self._failed(f"stopped after {timeout:g} s", started)
        if not isinstance(answer, dict):
            try:
                code: int | str = self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.stop()
                code = "none: it stopped answering"
            return self._failed(f"the probe worker crashed (exit code {code})", started)
        return ProbeResult.from_json(answer, self.flavour, self.versions,
                                     time.perf_counter() - started)

    def _failed(self, reason: str, started: float) -> ProbeResult:
        return ProbeResult("error", reason, self.flavour, self.versions,
                           seconds=time.perf_counter() - started)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        _kill(self.process)


_TIMED_OUT = "timed out"


def _read_line(process: subprocess.Popen[str],
               timeout: float) -> dict[str, Any] | str | None:
    """The worker's next JSON line within ``timeout`` seconds; ``_TIMED_OUT`` when none
    came in time; None when the worker closed its output or sent something else."""
    stream: IO[str] | None = process.stdout
    if stream is None:
        return None
    ready, _, _ = select.select([stream], [], [], timeout)
    if not ready:
        return _TIMED_OUT
    line = stream.readline()
    if not line:
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _kill(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass


Progress = Callable[[int, int, str], None]


class Pool:
    """Workers by flavour, started on first use and restarted after a failure; the
    result of each distinct (flavour, scenario) is computed once."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._workers: dict[str, Worker | str] = {}
        self._done: dict[tuple[str, Scenario], ProbeResult] = {}

    def run(self, flavour: str, scenario: Scenario) -> ProbeResult:
        key = (flavour, scenario)
        if key not in self._done:
            self._done[key] = self._run(flavour, scenario)
        return self._done[key]

    def _run(self, flavour: str, scenario: Scenario) -> ProbeResult:
        worker = self._workers.get(flavour)
        if worker is None or (isinstance(worker, Worker) and not worker.alive):
            worker = self._workers[flavour] = Worker.start(flavour)
        if isinstance(worker, str):
            return ProbeResult("error", worker, flavour)
        return worker.run(scenario, self.timeout)

    def versions(self) -> dict[str, tuple[tuple[str, str], ...]]:
        return {flavour: worker.versions for flavour, worker in self._workers.items()
                if isinstance(worker, Worker)}

    def close(self) -> None:
        for worker in self._workers.values():
            if isinstance(worker, Worker):
                worker.stop()
