"""The server's commands of `whisper-jobs`: run the service (`serve`), or its parts (`api`,
`worker`, `beat`, `webhooks`) for deployments, and make API keys. The command itself, and the
client commands that talk to a running service, come from the client distribution
(`whisper_jobs_client._cli`), which finds these through the entry point `whisper_jobs.commands`."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from pydantic import ValidationError
from whisper_jobs_client import _cli as client_cli
from whisper_jobs_client._cli import Handler

from app.contract.jobs import MAINTENANCE_QUEUE, WEBHOOK_QUEUE, queue_for
from app.core import settings_errors
from app.core.auth import new_key
from app.core.config import Settings, get_settings
from app.core.logs import configure_logging, logging_config
from app.core.settings_errors import ConfigurationError
from app.core.supervisor import Supervisor
from app.core.worker_layout import choose_layout, usable_cores, worker_device

logger = logging.getLogger("whisper_jobs")
CONFIGURATION_ERROR = settings_errors.CONFIGURATION_ERROR


def check(settings: Settings) -> None:
    """What `api`, `worker`, `beat` and `webhooks` refuse at start, checked without starting:
    the Redis URL, an open API without keys, decoding jobs together in several processes, an
    upload bucket that is missing or refuses the credentials."""
    settings.require_redis_url()
    for problem in (settings.open_service_problem(), settings.batching_problem()):
        if problem:
            raise ConfigurationError(problem)
    settings.uploads.check()  # a bucket that is missing, or refuses these credentials


#: uvicorn's httptools protocol with a deadline for a request's headers (by name: uvicorn's
#: worker processes import it themselves).
HEADER_DEADLINE_PROTOCOL = "app.api.header_deadline:HeaderDeadlineProtocol"


def run_api(settings: Settings) -> None:
    import uvicorn

    settings.require_redis_url()
    if problem := settings.open_service_problem():
        raise ConfigurationError(problem)
    settings.uploads.check()
    port = int(os.environ.get("PORT", settings.api_port))
    uvicorn.run(
        "app.api.main:create_app",
        factory=True,
        host=settings.api_host,
        port=port,
        workers=settings.api_workers,
        http=HEADER_DEADLINE_PROTOCOL,
        log_config=logging_config(settings.log_format, settings.log_level),
        access_log=settings.api_workers == 1,  # one line per request costs throughput at scale
    )


def celery_argv(settings: Settings, quiet: bool = False) -> list[str]:
    """`python -m celery -A worker.celery_app`, and `--quiet` in JSON mode (Celery's start-up
    banner is printed, not logged, and would break a stream of JSON lines) or when asked (`serve`
    runs three Celery processes: three banners before its ready line)."""
    flags = ["--quiet"] if quiet or settings.log_format == "json" else []
    return [sys.executable, "-m", "celery", "-A", "worker.celery_app", *flags]


def worker_argv(
    settings: Settings, models: list[str] | None = None, quiet: bool = False
) -> list[str]:
    queues = ",".join([*(queue_for(m) for m in (models or settings.models)), MAINTENANCE_QUEUE])
    # Jobs decoded together share one process (and its loaded models): a pool of threads.
    pool, concurrency = (
        ("threads", settings.batch_jobs)
        if settings.batch_jobs > 1
        else ("prefork", settings.worker_concurrency)
    )
    return [
        *celery_argv(settings, quiet),
        "worker",
        "--queues",
        queues,
        "--concurrency",
        str(concurrency),
        "--pool",
        pool,
        "--loglevel",
        "INFO",
        "--hostname",
        "whisper@%h",
    ]


def run_worker(settings: Settings, models: list[str] | None = None, quiet: bool = False) -> None:
    settings.require_redis_url()
    if problem := settings.batching_problem():
        raise ConfigurationError(problem)
    unknown = set(models or ()) - set(settings.models)
    if unknown:
        raise ConfigurationError(f"not in WHISPER_JOBS_MODELS: {', '.join(sorted(unknown))}")
    settings.uploads.check()
    # With no layout setting, the worker picks one from the cores it may use; the Celery
    # process gets it as settings, so it runs exactly as if the operator had set them.
    layout = choose_layout(settings, worker_device(settings.device), usable_cores())
    os.environ.update(layout.env())
    logger.info("worker layout: %s (%s)", layout.summary(), layout.why)
    argv = worker_argv(settings.model_copy(update=layout.settings()), models, quiet)
    os.execv(argv[0], argv)  # become the Celery worker: signals reach it directly


def run_webhooks(settings: Settings, quiet: bool = False) -> None:
    """A worker for the `webhooks` queue only: slow receivers never hold a transcription worker.
    Threads: deliveries wait on the network, not the CPU."""
    settings.require_redis_url()
    argv = [
        *celery_argv(settings, quiet),
        "worker",
        "--queues",
        WEBHOOK_QUEUE,
        "--pool",
        "threads",
        "--concurrency",
        "8",
        "--loglevel",
        "INFO",
        "--hostname",
        "webhooks@%h",
    ]
    os.execv(argv[0], argv)


def run_beat(settings: Settings, quiet: bool = False) -> None:
    settings.require_redis_url()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        *celery_argv(settings, quiet),
        "beat",
        "--loglevel",
        "INFO",
        "--schedule",
        str(settings.data_dir / "celerybeat-schedule"),
    ]
    os.execv(argv[0], argv)


def create_key(name: str) -> int:
    if not name or ":" in name or "," in name:
        print("a key name may not be empty or contain ':' or ','", file=sys.stderr)
        return 2
    key, entry = new_key(name)
    print(f"key (give it to the caller; it is not stored anywhere): {key}")
    print(f"entry (append to WHISPER_JOBS_API_KEYS, comma-separated): {entry}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, Handler]:
    """The server's commands, added to the client's `whisper-jobs` (the entry point
    `whisper_jobs.commands: server` in pyproject.toml)."""
    sub.add_parser(
        "serve", help="run everything: embedded Redis (if no URL), API, a worker and beat"
    )
    quiet = argparse.ArgumentParser(add_help=False)
    quiet.add_argument("--quiet", action="store_true", help="no Celery start-up banner")
    sub.add_parser("webhooks", parents=[quiet], help="run a worker that delivers webhook events")
    sub.add_parser(
        "beat", parents=[quiet], help="run the scheduler of the recovery sweep (one per deployment)"
    )
    keys = sub.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    keys_sub.add_parser("create", help="print a new key and its configuration entry").add_argument(
        "name"
    )
    sub.add_parser("api", help="run the HTTP API (uvicorn)")
    worker = sub.add_parser("worker", parents=[quiet], help="run a Celery transcription worker")
    worker.add_argument(
        "--models",
        type=lambda v: [m.strip() for m in v.split(",") if m.strip()],
        help="consume only these models' queues (comma-separated; default: all offered)",
    )
    sub.add_parser(
        "check", help="check the configuration as the services would at start (exit 78: not valid)"
    )
    names = ("serve", "webhooks", "beat", "keys", "api", "worker", "check")
    return dict.fromkeys(names, run_server_command)


def run_server_command(args: argparse.Namespace, _parser: argparse.ArgumentParser) -> int:
    if args.command == "keys":
        return create_key(args.name)
    try:
        settings = get_settings()
    except ValidationError as e:  # said once, in words, without the values (they hold secrets)
        print(f"whisper-jobs {args.command}: {settings_errors.describe(e)}", file=sys.stderr)
        return CONFIGURATION_ERROR
    configure_logging(settings.log_format, settings.log_level)
    try:
        return _run(args, settings)
    except ConfigurationError as e:
        print(f"whisper-jobs {args.command}: {e}", file=sys.stderr)
        return CONFIGURATION_ERROR


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "check":
        check(settings)
        print("the configuration is valid", file=sys.stderr)
    elif args.command == "beat":
        run_beat(settings, args.quiet)
    elif args.command == "webhooks":
        run_webhooks(settings, args.quiet)
    elif args.command == "api":
        run_api(settings)
    elif args.command == "worker":
        run_worker(settings, args.models, args.quiet)
    else:
        return Supervisor(settings).run()
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m app.core.cli`: the same command as the installed `whisper-jobs`, with the server's
    commands registered explicitly (a source tree need not be installed for it)."""
    return client_cli.main(argv, plugins=[register])


if __name__ == "__main__":
    sys.exit(main())
