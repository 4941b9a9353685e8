"""Refuses to package the library without its generated protocol code (made by the Maven build)."""

import os

from setuptools import setup

GENERATED = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "src", "metisfl_learner", "_generated", "metisfl", "v1", "learner_pb2.py",
)
if not os.path.exists(GENERATED):
    raise SystemExit(
        "metisfl_learner's generated protocol code is missing (src/metisfl_learner/_generated):"
        " run `mvn -B -q -pl learner-python -am generate-sources` in the repository first"
    )
setup()
