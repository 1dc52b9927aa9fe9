"""./scripts/serve: installs into its venv the first time, then starts offline, calling pip only when
pyproject.toml changed.

Each test runs the script of a copy of the project (scripts, pyproject.toml, README.md, src) with its own
venv, whose dependencies come from this venv's site-packages (a .pth file), so that the first install
builds only OpenOVC itself. A `pip` package put first on PYTHONPATH stands in for pip on the later runs:
it records that it was called and fails, so a run that starts proves no pip call was made.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import tempfile
import venv
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.support.server import RunningServer, clean_environment

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PIP_REFUSED = 3
OFFLINE = {"PIP_NO_INDEX": "1", "PIP_INDEX_URL": "http://127.0.0.1:9/simple"}
INSTALL_TIMEOUT_S = 300.0


def _project(where: Path) -> Path:
    project = where / "project"
    (project / "scripts").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts" / "serve", project / "scripts" / "serve")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, project / name)
    shutil.copytree(ROOT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return project


def _venv(where: Path) -> Path:
    path = where / "venv"
    venv.create(path, with_pip=True)
    [packages] = path.glob("lib/python3*/site-packages")
    (packages / "openovc-test-dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return path


def _pip_stand_in(where: Path) -> tuple[Path, Path]:
    """A directory holding a `pip` that records its call in the returned file and exits PIP_REFUSED."""
    shim = where / "no-pip"
    called = where / "pip-was-called"
    (shim / "pip").mkdir(parents=True)
    (shim / "pip" / "__init__.py").write_text("")
    (shim / "pip" / "__main__.py").write_text(
        f"import sys\nopen({str(called)!r}, 'a').write(' '.join(sys.argv) + '\\n')\nsys.exit({PIP_REFUSED})\n"
    )
    return shim, called


def _serve(project: Path, venv_path: Path, data_dir: Path, extra_env: Mapping[str, str]) -> RunningServer:
    env = clean_environment({"OPENOVC_VENV": str(venv_path), **extra_env})
    args = [str(project / "scripts" / "serve"), "--host", "127.0.0.1", "--port", "0"]
    args += ["--data-dir", str(data_dir), "--no-demo"]
    fd, log_name = tempfile.mkstemp(prefix="openovc-serve-script-", suffix=".log")
    with os.fdopen(fd, "wb") as log:
        process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
        )
    return RunningServer(process, Path(log_name))


def _answers(server: RunningServer) -> None:
    with server.client() as client:
        health = client.get("/_openovc/health")
        version = client.get("/api/version")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert version.status_code == 200
    assert version.json()["REST_API_Version"] == "1.25"


def test_installs_once_then_starts_offline_without_pip(tmp_path: Path) -> None:
    project, venv_path = _project(tmp_path), _venv(tmp_path)
    stamp = venv_path / ".openovc-installed"

    with _serve(project, venv_path, tmp_path / "data", {}) as first:
        first.wait_ready(INSTALL_TIMEOUT_S)
        _answers(first)
        assert first.stop() == 0
    assert (venv_path / "bin" / "openovc").is_file()
    assert stamp.read_text().split()[1:] == [str(project), "0.1.0"]

    shim, called = _pip_stand_in(tmp_path)
    with _serve(project, venv_path, tmp_path / "data", {**OFFLINE, "PYTHONPATH": str(shim)}) as second:
        second.wait_ready()
        _answers(second)
        assert second.stop() == 0
    assert not called.exists(), called.read_text()

    # A venv that lost the command is installed into again, whatever the stamp says.
    (venv_path / "bin" / "openovc").unlink()
    with _serve(project, venv_path, tmp_path / "data", {**OFFLINE, "PYTHONPATH": str(shim)}) as third:
        assert third.process.wait(INSTALL_TIMEOUT_S) == PIP_REFUSED
    assert called.read_text().splitlines() == [f"{shim}/pip/__main__.py install -q --upgrade pip"]
    assert not stamp.exists()


def test_reinstalls_when_pyproject_changes_and_keeps_no_stamp_when_that_fails(tmp_path: Path) -> None:
    project, venv_path = _project(tmp_path), _venv(tmp_path)
    stamp = venv_path / ".openovc-installed"
    with _serve(project, venv_path, tmp_path / "data", {}) as first:
        first.wait_ready(INSTALL_TIMEOUT_S)
        assert first.stop() == 0
    assert stamp.is_file()

    shim, called = _pip_stand_in(tmp_path)
    with (project / "pyproject.toml").open("a") as pyproject:
        pyproject.write("\n# a change: the next start must install again\n")
    with _serve(project, venv_path, tmp_path / "data", {**OFFLINE, "PYTHONPATH": str(shim)}) as second:
        assert second.process.wait(INSTALL_TIMEOUT_S) == PIP_REFUSED
        assert "listening on" not in second.output()
    assert called.read_text().splitlines() == [f"{shim}/pip/__main__.py install -q --upgrade pip"]
    # The failed install left no stamp: the next start tries again instead of running a stale install.
    assert not stamp.exists()
