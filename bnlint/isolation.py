"""Analyses files in worker processes, each file within a time and memory budget, so that
a crash, a hang or a memory blow-up while analysing one file costs that file only.

Every worker takes one file at a time. A worker that dies (libcst's native parser can
overflow its stack and take the process with it), that runs past the file's time budget
(it is killed) or that runs out of its memory budget (``RLIMIT_AS``, so an allocation
fails instead of the machine swapping) is replaced by a fresh one, and the file it held
gets one error that says why; the other files are analysed as usual. Workers are forked
where the platform allows it, so they start with the parent's modules already imported.
"""

from __future__ import annotations

import faulthandler
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, Generic, TypeVar

TaskT = TypeVar("TaskT")
ResultT = TypeVar("ResultT")
MEGABYTE = 1 << 20


@dataclass(frozen=True, slots=True)
class Budget:
    """What one file may cost: seconds of wall time, and MB of address space on top of
    what the worker holds before it starts (None: no limit)."""

    seconds: float
    memory_mb: int | None


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a file's analysis produced no result: ``reason`` completes the sentence
    "could not be analysed: ..."."""

    reason: str


@dataclass(slots=True)
class _Worker(Generic[TaskT]):
    process: BaseProcess
    connection: Connection
    index: int | None = None  # the task it is analysing
    deadline: float = 0.0


def run_isolated(
    tasks: Sequence[TaskT],
    analyse: Callable[[TaskT], ResultT],
    budget: Budget,
    workers: int,
    on_done: Callable[[], None] | None = None,
    prepare: Callable[[], None] | None = None,
) -> list[ResultT | Failure]:
    """``analyse`` every task in ``workers`` processes, one task at a time each; a task
    whose worker dies, overruns ``budget.seconds`` or exceeds ``budget.memory_mb`` gets
    a Failure instead of a result. Results come back in the order of ``tasks``;
    ``on_done`` is called after each task (for a progress display). Each worker runs
    ``prepare`` (say, imports) before its first task, outside the time budget."""
    results: list[ResultT | Failure | None] = [None] * len(tasks)
    waiting = list(range(len(tasks) - 1, -1, -1))  # popped from the end: in order
    context = _context()
    pool: list[_Worker[TaskT]] = []

    def start() -> _Worker[TaskT]:
        return _start(context, tasks, analyse, budget, prepare)

    try:
        pool.extend(start() for _ in range(max(1, min(workers, len(tasks)))))
        for worker in pool:
            _await_ready(worker)
        while waiting or any(worker.index is not None for worker in pool):
            for worker in pool:
                if worker.index is None and waiting:
                    worker.index = waiting.pop()
                    worker.deadline = time.monotonic() + budget.seconds
                    worker.connection.send(worker.index)
            for position, finished in _collect(pool, results, budget):
                if on_done is not None:
                    on_done()
                if finished is not None and waiting:  # the worker is gone: replace it
                    pool[position] = start()
                    _await_ready(pool[position])
    finally:
        for worker in pool:
            _stop(worker)
    return [result if result is not None else Failure("no result") for result in results]


def _collect(
    pool: list[_Worker[TaskT]], results: list[ResultT | Failure | None], budget: Budget
) -> list[tuple[int, _Worker[TaskT] | None]]:
    """Wait for the next results, deaths or overruns; record them. Returns the position
    of each worker that finished a task, with the worker when it must be replaced."""
    busy = [worker for worker in pool if worker.index is not None]
    timeout = max(0.0, min(worker.deadline for worker in busy) - time.monotonic())
    ready = set(wait([w.connection for w in busy] + [w.process.sentinel for w in busy],
                     timeout))
    finished: list[tuple[int, _Worker[TaskT] | None]] = []
    now = time.monotonic()
    for position, worker in enumerate(pool):
        index = worker.index
        if index is None:
            continue
        if worker.connection in ready or worker.process.sentinel in ready:
            outcome = _receive(worker, budget)
        elif now >= worker.deadline:
            outcome = Failure(f"stopped after {budget.seconds:g} s (`file-timeout`)")
        else:
            continue
        results[index] = outcome
        worker.index = None
        gone = isinstance(outcome, Failure)
        if gone:
            _stop(worker)
        finished.append((position, worker if gone else None))
    return finished


def _receive(worker: _Worker[TaskT], budget: Budget) -> Any:
    """The worker's result, or the Failure that explains why there is none."""
    try:
        kind, payload = worker.connection.recv()
    except (EOFError, OSError):
        worker.process.join(5)
        return Failure(_death(worker.process.exitcode, budget))
    if kind == "memory":
        return Failure(_memory(budget))
    return payload


def _death(exitcode: int | None, budget: Budget) -> str:
    """Why a worker that died without a result died."""
    if exitcode is None or exitcode >= 0:
        return f"the process analysing it exited unexpectedly (status {exitcode})"
    number = -exitcode
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    if number == signal.SIGABRT and budget.memory_mb is not None:
        # libcst's native code aborts when an allocation fails
        return f"the parser aborted ({name}), most likely beyond {_memory(budget)}"
    if number == signal.SIGSEGV:
        return f"the parser crashed ({name}), most likely on deep nesting"
    return f"the process analysing it was killed ({name})"


def _memory(budget: Budget) -> str:
    return f"exceeded the memory budget of {budget.memory_mb} MB (`file-memory`)"


# --- the worker side -------------------------------------------------------------------


def _start(
    context: multiprocessing.context.BaseContext, tasks: Sequence[TaskT],
    analyse: Callable[[TaskT], ResultT], budget: Budget, prepare: Callable[[], None] | None,
) -> _Worker[TaskT]:
    parent, child = context.Pipe()
    process = context.Process(  # type: ignore[attr-defined]
        target=_serve, args=(child, tasks, analyse, budget.memory_mb, prepare), daemon=True)
    process.start()
    child.close()
    return _Worker(process, parent)


class WorkerError(Exception):
    """A worker process could not even start (it died before its first task)."""


def _await_ready(worker: _Worker[TaskT]) -> None:
    try:
        worker.connection.recv()
    except (EOFError, OSError):
        worker.process.join()
        raise WorkerError("a worker process died while starting (status "
                          f"{worker.process.exitcode})") from None


def _serve(connection: Connection, tasks: Sequence[TaskT],
           analyse: Callable[[TaskT], ResultT], memory_mb: int | None,
           prepare: Callable[[], None] | None) -> None:
    """The worker's loop: analyse the task whose index arrives, send its result."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    faulthandler.disable()  # a crash is reported by the parent, in one line
    if prepare is not None:
        prepare()
    if memory_mb is not None:
        _limit_memory(memory_mb)
    connection.send(("ready", None))
    while True:
        try:
            index = connection.recv()
        except (EOFError, OSError):
            return
        try:
            connection.send(("result", analyse(tasks[index])))
        except MemoryError:
            connection.send(("memory", None))
            return  # a fresh worker takes over: this one's heap may be in pieces


def _limit_memory(memory_mb: int) -> None:
    """Cap the address space at what the worker uses now plus ``memory_mb``."""
    try:
        import resource
    except ImportError:  # Windows: no limit
        return
    try:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = _address_space() + memory_mb * MEGABYTE
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (OSError, ValueError):  # e.g. a platform that does not enforce it
        pass


def _address_space() -> int:
    """Bytes of address space this process maps now (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def _stop(worker: _Worker[TaskT]) -> None:
    worker.connection.close()
    if worker.process.is_alive():
        worker.process.kill()
    worker.process.join()


def _context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)
