"""`pip install ./client` into a fresh venv, offline: the bindings need none of the server.

No package registry is asked: the client's build backend (setuptools) and its one
dependency, requests (with its own), are packed as wheels from the distributions already
installed in this venv, and pip is run with `--no-index --find-links` on them. A server
package in the client's dependencies would not be found, and the install would fail.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

CLIENT = Path(__file__).resolve().parents[2] / "client"
SERVER = ("flask", "celery", "sqlalchemy", "marshmallow", "app", "config", "tasks")


def installed_closure(*names: str) -> set[str]:
    """`names` and every distribution they require (no extras), as installed here."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        dist = importlib.metadata.distribution(todo.pop())
        name = dist.metadata["Name"].lower()
        if name in seen:
            continue
        seen.add(name)
        for requirement in map(Requirement, dist.requires or []):
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


def wheel_of_installed(name: str, folder: Path) -> Path:
    """A wheel of the installed distribution `name`, packed from the files it installed."""
    dist = importlib.metadata.distribution(name)
    tag = re.search(r"^Tag: (\S+)$", dist.read_text("WHEEL"), re.MULTILINE)[1]
    project = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    path = folder / f"{project}-{dist.version}-{tag}.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for file in dist.files:
            if not str(file).startswith("..") and "__pycache__" not in str(file):
                wheel.write(file.locate(), str(file))
    return path


@pytest.mark.slow
def test_the_client_installs_into_a_fresh_venv_without_the_servers_dependencies(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for name in installed_closure("requests", "setuptools"):
        wheel_of_installed(name, wheels)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=300)
    python = str(venv / "bin" / "python")

    install = subprocess.run(
        [python, "-m", "pip", "install", "--isolated", "--no-index", "--find-links", wheels,
         "--disable-pip-version-check", str(CLIENT)],
        capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]

    check = subprocess.run([python, "-c", (
        "import importlib.util, json, sys, taskplane_client\n"
        f"absent = [m for m in {SERVER!r} if importlib.util.find_spec(m) is None]\n"
        "print(json.dumps({'file': taskplane_client.__file__, 'absent': absent,"
        " 'client': taskplane_client.Client.__name__}))")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert check.returncode == 0, check.stderr[-3000:]
    assert f'"absent": {list(SERVER)!r}'.replace("'", '"') in check.stdout
    assert str(venv) in check.stdout and '"client": "Client"' in check.stdout
