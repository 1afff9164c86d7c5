"""The probe worker: a process of its own that imports TensorFlow and Keras once (for
one flavour), then answers scenario requests, one JSON object per line on stdin, with one
JSON object per line on stdout. The first line it writes says which versions it runs, or
why it cannot start.

    python -m bnlint.probe.worker --flavour keras3|tf-keras

Never imported by the linter itself: TensorFlow's import cost is paid here only."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, TextIO


def _prepare_environment(flavour: str) -> None:
    """CPU only, quiet, repeatable; tf-keras through TensorFlow's own switch."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    os.environ["KERAS_BACKEND"] = "tensorflow"
    os.environ["TF_USE_LEGACY_KERAS"] = "1" if flavour == "tf-keras" else "0"
    os.environ.setdefault("PYTHONHASHSEED", "0")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def _import_keras(flavour: str) -> tuple[Any, dict[str, str]]:
    import warnings

    warnings.filterwarnings("ignore")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    if flavour == "tf-keras":
        import tf_keras as keras
    else:
        import keras
    keras.utils.disable_interactive_logging() if hasattr(
        keras.utils, "disable_interactive_logging") else None
    return keras, {"tensorflow": tf.__version__, "keras": keras.__version__}


def serve(flavour: str, requests: TextIO, answers: TextIO) -> int:
    """Answer requests until stdin closes."""
    _prepare_environment(flavour)
    try:
        keras, versions = _import_keras(flavour)
    except Exception as error:  # noqa: BLE001 - report why, the parent decides
        _send(answers, {"ready": False, "error": f"{type(error).__name__}: {error}"})
        return 1
    import numpy

    from bnlint.probe.lab import Lab
    from bnlint.probe.scenario import Scenario
    from bnlint.probe.scenarios import SCENARIOS

    lab = Lab(keras, numpy)
    _send(answers, {"ready": True, "versions": versions})
    for line in requests:
        if not line.strip():
            continue
        request = json.loads(line)
        scenario = Scenario.from_json(request.get("scenario", {}))
        started = time.perf_counter()
        run = SCENARIOS.get(scenario.rule)
        if run is None:
            answer: dict[str, Any] = {"verdict": "no probe",
                                      "summary": f"no probe for {scenario.rule}",
                                      "metrics": {}}
        else:
            try:
                outcome = run(lab, scenario)
                answer = {"verdict": outcome.verdict, "summary": outcome.summary,
                          "metrics": outcome.metrics}
            except Exception as error:  # noqa: BLE001 - one scenario's failure is its verdict
                answer = {"verdict": "error", "metrics": {},
                          "summary": f"the scenario failed: {type(error).__name__}: "
                                     f"{str(error)[:200]}"}
        answer["id"] = request.get("id")
        answer["seconds"] = time.perf_counter() - started
        _send(answers, answer)
    return 0


def _send(stream: TextIO, value: dict[str, Any]) -> None:
    stream.write(json.dumps(value) + "\n")
    stream.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bnlint.probe.worker")
    parser.add_argument("--flavour", choices=("keras3", "tf-keras"), default="keras3")
    args = parser.parse_args(argv)
    # Keras and TensorFlow print to stdout; answers go to the real stdout only.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return serve(args.flavour, sys.stdin, answers)


if __name__ == "__main__":
    raise SystemExit(main())
