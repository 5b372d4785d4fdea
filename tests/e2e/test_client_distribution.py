"""The client as its users get it: both wheels built, the client's installed alone into a fresh
virtual environment (no server dependency there), then used, library and command line, from a
project that has its own `app/` package, against the running service."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import JFK, JFK_TEXT
from tests.e2e.conftest import ROOT, Service
from tests.transcripts import wer

UV = [shutil.which("uv") or sys.executable, *([] if shutil.which("uv") else ["-m", "uv"])]


def run(*argv: str | Path, cwd: Path = ROOT, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{argv}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    run(*UV, "build", "--package", "whisper-jobs-client", "--wheel", "-o", out)
    run(*UV, "build", "--package", "whisper-jobs", "--wheel", "-o", out)
    found = {p.name.split("-")[0].replace("_", "-"): p for p in out.glob("*.whl")}
    assert set(found) == {"whisper-jobs-client", "whisper-jobs"}, found
    return found


@pytest.fixture(scope="module")
def client_venv(
    wheels: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    venv = tmp_path_factory.mktemp("client-venv") / "venv"
    run(*UV, "venv", "--python", sys.executable, venv)
    python = venv / "bin" / "python"
    run(*UV, "pip", "install", "--python", python, f"{wheels['whisper-jobs-client']}[cli]")
    yield venv


def top_level(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as zf:
        return {name.split("/")[0] for name in zf.namelist()}


def test_the_client_wheel_holds_only_the_client(wheels: dict[str, Path]) -> None:
    tops = top_level(wheels["whisper-jobs-client"])
    assert {t for t in tops if not t.endswith(".dist-info")} == {"whisper_jobs_client"}
    with zipfile.ZipFile(wheels["whisper-jobs-client"]) as zf:
        assert "whisper_jobs_client/py.typed" in zf.namelist()
    assert {"app", "worker"} <= top_level(wheels["whisper-jobs"])
    assert not {"tests", "client", "whisper_jobs_client"} & top_level(wheels["whisper-jobs"])
    with zipfile.ZipFile(wheels["whisper-jobs"]) as zf:  # the console ships with the server
        names = set(zf.namelist())
    assert {f"app/api/console/{f}" for f in ("index.html", "app.js", "console.css")} <= names


def test_no_server_dependency_is_installed_with_the_client(client_venv: Path) -> None:
    probe = (
        "import importlib.util as u\n"
        "names = ('app', 'worker', 'fastapi', 'celery', 'redis', 'av', 'faster_whisper')\n"
        "print(','.join(n for n in names if u.find_spec(n)))\n"
    )
    assert run(client_venv / "bin" / "python", "-c", probe, cwd=client_venv).strip() == ""


def test_a_project_with_its_own_app_package_uses_client_and_cli(
    client_venv: Path, service: Service, tmp_path: Path
) -> None:
    project = tmp_path / "receiver"
    (project / "app").mkdir(parents=True)
    (project / "app" / "__init__.py").write_text('"""The caller\'s own app package."""\n')
    env = {"PATH": f"{client_venv / 'bin'}:/usr/bin:/bin", "WHISPER_JOBS_SERVER": service.url}
    code = (
        "import app, sys\n"
        "from whisper_jobs_client import Client, JobStatus\n"
        f"job = Client().transcribe({str(JFK)!r}, temperature=0)\n"
        "assert job.status is JobStatus.COMPLETED, job\n"
        "print(job.id)\n"
    )
    job_id = run(client_venv / "bin" / "python", "-c", code, cwd=project, env=env).strip()
    listed = run(
        client_venv / "bin" / "whisper-jobs", "list", "--status", "completed", cwd=project, env=env
    )
    assert job_id in listed
    status = run(client_venv / "bin" / "whisper-jobs", "status", job_id, cwd=project, env=env)
    assert status.split()[:2] == [job_id, "completed"]
    waited = run(
        client_venv / "bin" / "whisper-jobs",
        "wait",
        job_id,
        "--format",
        "srt",
        cwd=project,
        env=env,
    )
    assert waited.startswith(f"{job_id}  completed  100%") and "-->" in waited
    submitted = run(
        client_venv / "bin" / "whisper-jobs",
        "submit",
        str(JFK),
        "--wait",
        "--format",
        "text",
        "-o",
        "-",
        "--temperature",
        "0",
        cwd=project,
        env=env,
    )
    assert wer(JFK_TEXT, submitted) <= 0.1  # the CLI alone, from a wheel, end to end
    version = run(client_venv / "bin" / "whisper-jobs", "--version", cwd=project, env=env)
    assert version.startswith("whisper-jobs-client ")
    helped = run(client_venv / "bin" / "whisper-jobs", "--help", cwd=project, env=env)
    assert "{submit,status,get,wait,cancel,list,completion}" in helped  # no server commands here


def readme_install_commands() -> list[str]:
    """The commands of the README's first shell block (its "Install the client" section)."""
    from tests.test_docs import README

    section = README.split("## Install the client", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_the_readmes_install_commands_work_as_written(tmp_path: Path) -> None:
    import shlex

    checkout, from_url, build, from_wheel = readme_install_commands()
    venv = tmp_path / "venv"
    run(*UV, "venv", "--python", sys.executable, venv)
    python = venv / "bin" / "python"
    # `pip install X` as `uv pip install --python VENV X`: the same resolution, into the venv.
    assert checkout.startswith("pip install ")
    run(*UV, "pip", "install", "--python", python, *shlex.split(checkout)[2:], cwd=ROOT)
    assert "whisper-jobs" in run(venv / "bin" / "whisper-jobs", "--help")
    # The wheel: built where the README says, under the name its next line installs.
    out = tmp_path / "dist"
    run(*UV, *shlex.split(build)[1:-1], str(out), cwd=ROOT)
    wheel = shlex.split(from_wheel)[2].removesuffix("[cli]").removeprefix("dist/")
    assert (out / wheel).is_file(), sorted(p.name for p in out.iterdir())
    run(*UV, "pip", "install", "--python", python, "--reinstall", f"{out / wheel}[cli]")
    # The URL form needs the repository's address (not reachable here): its shape is checked.
    assert from_url.startswith('pip install "whisper-jobs-client[cli] @ git+')
    assert (
        from_url.endswith('#subdirectory=client"')
        and (ROOT / "client" / "pyproject.toml").is_file()
    )
