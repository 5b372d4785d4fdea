import base64
import os
import subprocess
import sys

import pytest

from app.core.cli import main, worker_argv
from app.core.config import Settings


def test_worker_consumes_one_queue_per_offered_model() -> None:
    argv = worker_argv(Settings(redis_url="redis://x", models=["base", "tiny.en"]))
    assert argv[argv.index("--queues") + 1] == "transcribe.base,transcribe.tiny.en,maintenance"


def test_worker_can_be_dedicated_to_some_models() -> None:
    argv = worker_argv(Settings(redis_url="redis://x"), ["base"])
    assert argv[argv.index("--queues") + 1] == "transcribe.base,maintenance"


def test_jobs_decoded_together_run_in_one_process_of_that_many_threads() -> None:
    one = worker_argv(Settings(redis_url="redis://x"))
    assert one[one.index("--pool") + 1] == "prefork" and one[one.index("--concurrency") + 1] == "1"
    argv = worker_argv(Settings(redis_url="redis://x", batch_jobs=8))
    assert argv[argv.index("--pool") + 1] == "threads"
    assert argv[argv.index("--concurrency") + 1] == "8"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"WHISPER_JOBS_BATCH_JOBS": "4", "WHISPER_JOBS_WORKER_CONCURRENCY": "2"},
            "WHISPER_JOBS_BATCH_JOBS over 1 runs one worker process",
        ),
        (
            {"WHISPER_JOBS_MODEL_REPLICAS": "2"},
            "WHISPER_JOBS_MODEL_REPLICAS over 1 needs WHISPER_JOBS_BATCH_JOBS over 1.",
        ),
    ],
)
def test_worker_refuses_settings_that_cannot_decode_jobs_together(
    monkeypatch: pytest.MonkeyPatch, capsys, env: dict[str, str], message: str
) -> None:
    monkeypatch.setenv("WHISPER_JOBS_REDIS_URL", "redis://127.0.0.1:1/0")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert run_fresh(["worker"]) == 78  # EX_CONFIG: not a crash to restart
    assert message in capsys.readouterr().err
    assert run_fresh(["check"]) == 78  # the check says the same before anything starts
    assert message in capsys.readouterr().err


def test_worker_refuses_a_model_the_deployment_does_not_offer(
    monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("WHISPER_JOBS_REDIS_URL", "redis://127.0.0.1:1/0")
    assert run_fresh(["worker", "--models", "large-v3"]) == 78
    assert "large-v3" in capsys.readouterr().err


def test_check_refuses_an_open_api_and_a_missing_redis_and_passes_a_good_one(
    monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.delenv("WHISPER_JOBS_REDIS_URL", raising=False)
    assert run_fresh(["check"]) == 78
    assert "WHISPER_JOBS_REDIS_URL is not set" in capsys.readouterr().err
    monkeypatch.setenv("WHISPER_JOBS_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("WHISPER_JOBS_API_HOST", "0.0.0.0")
    assert run_fresh(["check"]) == 78
    assert "WHISPER_JOBS_ALLOW_OPEN" in capsys.readouterr().err
    monkeypatch.setenv("WHISPER_JOBS_API_KEYS", "ops:" + "ab" * 32)
    assert run_fresh(["check"]) == 0
    assert "valid" in capsys.readouterr().err


def run_fresh(argv: list[str]) -> int:
    """`whisper-jobs ARGV` with the settings read again from the environment."""
    from app.core.config import get_settings

    get_settings.cache_clear()
    try:
        return main(argv)
    finally:
        get_settings.cache_clear()


def test_every_job_option_of_the_api_is_a_cli_flag() -> None:
    from whisper_jobs_client._cli import JOB_OPTIONS

    from app.api.forms import JobForm

    assert {field for _, field, _, _ in JOB_OPTIONS} == set(JobForm.model_fields) - {"audio_url"}
    assert all(help_text for *_, help_text in JOB_OPTIONS)


def test_cli_flags_become_form_fields() -> None:
    import argparse

    from whisper_jobs_client._cli import add_job_options, job_options

    parser = argparse.ArgumentParser()
    add_job_options(parser)
    args = parser.parse_args(
        [
            "--vad",
            "--no-condition-on-previous-text",
            "--prompt",
            "Hi.",
            "--metadata",
            '{"a": 1}',
            "--beam-size",
            "3",
        ]
    )
    given = {k: v for k, v in job_options(args).items() if v is not None}
    assert given == {
        "vad_filter": True,
        "condition_on_previous_text": False,
        "initial_prompt": "Hi.",
        "metadata": '{"a": 1}',
        "beam_size": 3,
    }


def test_bash_completion_knows_subcommands_and_flags(capsys) -> None:
    import subprocess

    assert main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    probe = script + (
        "COMP_WORDS=(whisper-jobs submit --webhook); COMP_CWORD=2; _whisper_jobs; "
        'echo "${COMPREPLY[@]}"; COMP_WORDS=(whisper-jobs su); COMP_CWORD=1; _whisper_jobs; '
        'echo "${COMPREPLY[@]}"'
    )
    run = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30)
    assert run.stdout.splitlines() == ["--webhook-include-result --webhook-url", "submit"]


def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("whisper-jobs ")


def test_an_unreachable_server_is_named(capsys) -> None:
    assert main(["status", "0" * 32, "--server", "http://127.0.0.1:9"]) == 1
    assert "could not reach http://127.0.0.1:9" in capsys.readouterr().err


def test_a_bad_configuration_is_said_once_without_its_secrets() -> None:
    secret = "whsec_" + base64.b64encode(b"tiny!").decode()
    env = {
        **os.environ,
        "WHISPER_JOBS_WEBHOOK_SECRET": secret,
        "WHISPER_JOBS_WEBHOOK_SECRETS_PREVIOUS": "whsec_not-base64-at-all-hunter3",
        "WHISPER_JOBS_REDIS_URL": "redis://:hunter2pass@127.0.0.1:1/0",
        "WHISPER_JOBS_REDIS_MAX_CONNECTIONS": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "app.core.cli", "api"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 78  # EX_CONFIG: not a crash to restart
    assert "Traceback" not in done.stderr
    for name in ("WEBHOOK_SECRET:", "WEBHOOK_SECRETS_PREVIOUS:", "REDIS_MAX_CONNECTIONS:"):
        assert f"WHISPER_JOBS_{name}" in done.stderr
    for value in (secret, "hunter3", "hunter2pass"):
        assert value not in done.stderr + done.stdout


def test_server_and_key_are_accepted_before_the_command_and_after_it(monkeypatch) -> None:
    from whisper_jobs_client._cli import build_parser, with_connection_defaults

    monkeypatch.delenv("WHISPER_JOBS_SERVER", raising=False)
    monkeypatch.setenv("WHISPER_JOBS_API_KEY", "wj_from-env")
    parser, _ = build_parser([])

    def parsed(*argv: str) -> tuple[str, str | None]:
        args = with_connection_defaults(parser.parse_args(argv))
        return args.server, args.api_key

    before = parsed("--server", "http://a:1", "--api-key", "wj_k", "submit", "x.wav", "--wait")
    after = parsed("submit", "x.wav", "--server", "http://a:1", "--api-key", "wj_k")
    assert before == after == ("http://a:1", "wj_k")
    assert parsed("--server", "http://a:1", "status", "j")[1] == "wj_from-env"
    assert parsed("status", "j") == ("http://127.0.0.1:8000", "wj_from-env")
    assert parsed("--server", "http://a:1", "status", "j", "--server", "http://b:2")[0] == (
        "http://b:2"  # the later one wins, as argparse does
    )


class Execed(Exception):
    """`os.execv` called: the process would have become this argv."""


@pytest.mark.parametrize(
    ("given", "pool", "concurrency"),
    [({}, "threads", "16"), ({"worker_concurrency": 2}, "prefork", "2")],
)
def test_a_worker_runs_the_layout_it_picked_unless_one_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path, given: dict, pool: str, concurrency: str
) -> None:
    from app.core import cli

    def execv(path: str, argv: list[str]) -> None:
        raise Execed(argv)

    monkeypatch.setattr(cli.os, "execv", execv)
    monkeypatch.setattr(cli, "usable_cores", lambda: 2)
    monkeypatch.setattr(cli, "worker_device", lambda setting: "cpu")
    monkeypatch.setattr(cli.os, "environ", dict(os.environ))  # what the worker would inherit
    settings = Settings(redis_url="redis://127.0.0.1:1/0", data_dir=tmp_path, **given)
    with pytest.raises(Execed) as execed:
        cli.run_worker(settings)
    argv = execed.value.args[0]
    assert argv[argv.index("--pool") + 1] == pool
    assert argv[argv.index("--concurrency") + 1] == concurrency
    expected = "16" if not given else "1"
    assert cli.os.environ["WHISPER_JOBS_BATCH_JOBS"] == expected  # the Celery process's settings
