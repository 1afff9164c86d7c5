"""The runtime probe (``bnlint --probe``): for each finding whose rule declares a
scenario, rebuild a small model shaped like the user's (never importing or running the
user's code), replay the flagged sequence in TensorFlow/Keras and attach a verdict with
measured numbers. TensorFlow is imported only in the worker process (``worker.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, TextIO

from bnlint.probe.result import no_probe
from bnlint.probe.session import FLAVOURS, Pool, ProbeUnavailable, missing_packages, require

if TYPE_CHECKING:
    from bnlint.engine import FileResult
    from bnlint.flavour import Flavour

__all__ = ["FLAVOURS", "ProbeUnavailable", "probe_results", "summary_line"]

DEFAULT_TIMEOUT = 120.0


# Rules whose effect the catalogue measured to differ between Keras 3 and tf-keras.
FLAVOUR_DEPENDENT = frozenset({"BN108", "BN202", "BN203", "BN205", "BN206", "BN209",
                               "BN212", "BN301", "BN305"})


def flavours_for(target: Flavour | None, chosen: tuple[str, ...] | None,
                 code: str = "") -> tuple[str, ...]:
    """The flavours to probe a finding of rule ``code`` under: those asked for, else the
    file's target (tf-keras for tf-keras, Keras 2 and TF1 code when tf-keras is
    installed; Keras 3 otherwise). When nothing says which Keras the file targets, a
    rule whose effect differs between them is probed under both."""
    if chosen:
        return chosen
    tf_keras = not missing_packages("tf-keras")
    if target is not None and not target.assumed and target.name in (
            "tf-keras", "keras2", "tf1") and tf_keras:
        return ("tf-keras",)
    if (target is None or target.assumed) and code in FLAVOUR_DEPENDENT and tf_keras:
        return ("keras3", "tf-keras")
    return ("keras3",)


def probe_results(results: Sequence[FileResult], chosen: tuple[str, ...] | None = None,
                  timeout: float = DEFAULT_TIMEOUT,
                  progress: TextIO | None = None) -> list[FileResult]:
    """``results`` with each finding's probe verdicts attached (one per flavour)."""
    require(chosen or ("keras3",))
    work = [(index, finding) for index, result in enumerate(results)
            for finding in result.findings if finding.scenario is not None]
    pool = Pool(timeout)
    out = list(results)
    try:
        done = 0
        for index, result in enumerate(results):
            probed = []
            for finding in result.findings:
                if finding.scenario is None:
                    probed.append(replace(finding, probe=(no_probe(finding.code),)))
                    continue
                _show(progress, done, len(work), f"{finding.code} {result.path}")
                verdicts = tuple(pool.run(flavour, finding.scenario)
                                 for flavour in flavours_for(result.flavour, chosen,
                                                             finding.code))
                probed.append(replace(finding, probe=verdicts))
                done += 1
            out[index] = replace(result, findings=tuple(probed))
        _show(progress, done, len(work), "", end=True)
    finally:
        pool.close()
    return out


def _show(stream: TextIO | None, done: int, total: int, what: str, end: bool = False) -> None:
    """A one-line progress bar on a terminal (``stream`` is None otherwise)."""
    if stream is None or not total:
        return
    if end:
        stream.write("\r\x1b[K")
    else:
        width = 20
        filled = width * done // total
        stream.write(f"\r\x1b[Kprobe [{'#' * filled}{'.' * (width - filled)}] "
                     f"{done}/{total} {what}"[:120])
    stream.flush()


def summary_line(results: Sequence[FileResult], seconds: float) -> str:
    """``Probe: 3 confirmed, 1 not reproduced in 21.4 s (keras3: keras 3.15.1, ...)``."""
    counts: dict[str, int] = {}
    versions: dict[str, str] = {}
    for result in results:
        for finding in result.findings:
            for probe in finding.probe:
                counts[probe.verdict] = counts.get(probe.verdict, 0) + 1
                if probe.flavour and probe.versions:
                    versions[probe.flavour] = ", ".join(
                        f"{name} {version}" for name, version in probe.versions)
    order = ("confirmed", "not reproduced", "inconclusive", "error", "no probe")
    parts = [f"{counts[key]} {key}" for key in order if counts.get(key)]
    used = "; ".join(f"{flavour}: {text}" for flavour, text in sorted(versions.items()))
    return (f"Probe: {', '.join(parts) or 'nothing to probe'} in {seconds:.1f} s"
            + (f" ({used})" if used else ""))

