"""What the probe measured for one finding: a verdict, the numbers behind it and one
sentence that interprets them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["confirmed", "not reproduced", "inconclusive", "error", "no probe"]
VERDICTS: tuple[Verdict, ...] = (
    "confirmed", "not reproduced", "inconclusive", "error", "no probe")


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """The verdict of one scenario run (``flavour`` and ``versions`` say under which
    Keras), its metrics (name, value) and how long it took."""

    verdict: Verdict
    summary: str
    flavour: str | None = None
    versions: tuple[tuple[str, str], ...] = ()
    metrics: tuple[tuple[str, float], ...] = ()
    seconds: float = 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "verdict": self.verdict,
            "summary": self.summary,
            "flavour": self.flavour,
            "versions": dict(self.versions),
            "metrics": dict(self.metrics),
            "seconds": round(self.seconds, 2),
        }

    @classmethod
    def from_json(cls, value: Mapping[str, object], flavour: str | None = None,
                  versions: tuple[tuple[str, str], ...] = (),
                  seconds: float = 0.0) -> ProbeResult:
        """A result from the worker's answer; anything malformed becomes an error."""
        verdict = value.get("verdict")
        summary = value.get("summary")
        metrics = value.get("metrics")
        if verdict not in VERDICTS or not isinstance(summary, str):
            return ProbeResult("error", "the probe worker sent a malformed answer",
                               flavour, versions, seconds=seconds)
        numbers = tuple(
            (str(key), float(item)) for key, item in
            (metrics.items() if isinstance(metrics, Mapping) else ())
            if isinstance(item, (int, float)) and not isinstance(item, bool))
        return ProbeResult(verdict, summary, flavour, versions, numbers,
                           seconds)


def no_probe(code: str) -> ProbeResult:
    """The result for a finding whose rule has no scenario."""
    return ProbeResult("no probe", f"no probe for {code}")


def probe_text(result: ProbeResult) -> str:
    """One line for reports: ``confirmed (keras3): 3 BN layers ...``."""
    if result.verdict == "no probe":
        return "no probe for this rule"
    where = f" ({result.flavour})" if result.flavour else ""
    return f"{result.verdict}{where}: {result.summary}"
