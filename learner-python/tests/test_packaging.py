"""`pip install ./learner-python` works with Debian's packages alone (no download)."""

import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(HERE)


def test_pip_installs_the_library_with_its_generated_code_into_a_venv(tmp_path):
    source = tmp_path / "learner-python"
    shutil.copytree(
        PROJECT,
        source,
        ignore=shutil.ignore_patterns("target", "build", "*.egg-info", "__pycache__", "tests"),
    )
    venv = tmp_path / "venv"
    # Without the source tree on the path, so that the import proves the installed copy works.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, env=env
    )
    python = str(venv / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-index", "--no-build-isolation", str(source)],
        check=True,
        env=env,
    )
    out = subprocess.run(
        [python, "-c", "import metisfl_learner, metisfl_learner._proto as p;"
         " print(metisfl_learner.__file__); print(p.SERVICE.full_name)"],
        cwd=str(tmp_path),
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert out[0].startswith(str(venv)), out
    assert out[1] == "metisfl.v1.LearnerService"
