"""The `whisper-jobs` command: the client's `submit`, `status`, `get`, `cancel`, `list` and
`completion`, plus whatever commands installed distributions add through the entry-point group
`whisper_jobs.commands` (the server adds `serve`, `api`, `worker`, `beat`, `webhooks`, `keys`).

A plugin is a callable `register(subparsers) -> {command: handler}`; a handler takes the parsed
arguments and the parser and returns the exit code. So the client installs alone with a working
command, and a server install has one `whisper-jobs` with every command, with no second script
of the same name to fight over.

Exit codes: 0 every job completed (or the command did what it was asked), 1 a job failed or was
canceled (`status` of such a job too), the server refused or could not be reached, or an output
file could not be written; 2 a usage error; 130 interrupted (the submitted jobs go on).
Progress and messages go to stderr, so stdout carries only job ids and transcripts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Column, Table

from whisper_jobs_client._async_client import AsyncClient
from whisper_jobs_client._client import Client
from whisper_jobs_client._common import DEFAULT_SERVER, KEY_ENV, SERVER_ENV, Event
from whisper_jobs_client._completion import script
from whisper_jobs_client._errors import AuthenticationError, ClientError
from whisper_jobs_client._models import EXTENSIONS, Job, JobStatus

PLUGIN_GROUP = "whisper_jobs.commands"
Handler = Callable[[argparse.Namespace, argparse.ArgumentParser], int]
Plugin = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], dict[str, Handler]]
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
err = Console(stderr=True)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False)
    add_connection_options(common)
    cues = argparse.ArgumentParser(add_help=False)
    limits = cues.add_argument_group("subtitles (srt, vtt)")
    for flag, kind, default in CUE_LIMITS:
        limits.add_argument(flag, type=kind, metavar="N", help=f"default {default}")
    submit = sub.add_parser("submit", parents=[common, cues], help="submit audio files or URLs")
    submit.add_argument("files", nargs="*", type=Path, metavar="FILE")
    submit.add_argument("--url", action="append", default=[], help="an audio URL (repeatable)")
    add_job_options(submit)
    submit.add_argument(
        "--format",
        choices=sorted(EXTENSIONS),
        default="text",
        help="transcript format written with --wait (default: text)",
    )
    submit.add_argument(
        "-o",
        "--output",
        type=Path,
        help="with --wait: the output file (one input), or directory; '-': stdout "
        "(default: FILE's name with the format's extension, here)",
    )
    submit.add_argument("--wait", action="store_true", help="follow the jobs and write results")
    submit.add_argument("--timeout", type=float, help="with --wait: give up after seconds")
    status = sub.add_parser("status", parents=[common], help="show a job")
    status.add_argument("job_id")
    get = sub.add_parser("get", parents=[common, cues], help="print or save a finished transcript")
    get.add_argument("job_id")
    get.add_argument("--format", choices=sorted(EXTENSIONS), default="text")
    get.add_argument("-o", "--output", type=Path, help="write to this file instead of stdout")
    wait = sub.add_parser("wait", parents=[common, cues], help="follow a job to its end")
    wait.add_argument("job_id")
    wait.add_argument("--timeout", type=float, help="give up after seconds (the job goes on)")
    wait.add_argument(
        "--format",
        choices=sorted(EXTENSIONS),
        help="then print (or -o: save) its transcript in this format",
    )
    wait.add_argument("-o", "--output", type=Path, help="with --format: write to this file")
    cancel = sub.add_parser("cancel", parents=[common], help="cancel jobs (or delete finished)")
    cancel.add_argument("job_ids", nargs="+", metavar="job_id")
    listing = sub.add_parser("list", parents=[common], help="list this key's jobs, newest first")
    listing.add_argument("--status", choices=[s.value for s in JobStatus])
    listing.add_argument("--limit", type=int, default=20)


#: (flag, type, the server's default) of each subtitle limit of `GET /v1/jobs/{id}/transcript`.
CUE_LIMITS: list[tuple[str, Any, str]] = [
    ("--max-line-width", int, "42 characters"),
    ("--max-line-count", int, "2 lines"),
    ("--max-cue-seconds", float, "7 seconds"),
]


def cue_limits(args: argparse.Namespace) -> dict[str, Any]:
    """The subtitle limits given on the command line (the others: the server's defaults)."""
    names = (flag[2:].replace("-", "_") for flag, _, _ in CUE_LIMITS)
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


COMMANDS = frozenset({"submit", "status", "wait", "get", "cancel", "list"})

#: (flag, API field, type, help) of every job option; `bool` flags are `--x` / `--no-x`.
JOB_OPTIONS: list[tuple[str, str, Any, str]] = [
    ("--model", "model", str, "a model from `GET /v1/models` (default: the server's)"),
    (
        "--task",
        "task",
        ["transcribe", "translate", "detect_language"],
        "translate: any language to English; detect_language: the language alone",
    ),
    ("--language", "language", str, "ISO 639-1 code; default: detect"),
    ("--multilingual", "multilingual", bool, "re-detect the language per segment"),
    ("--word-timestamps", "word_timestamps", bool, "per-word start, end and probability"),
    ("--beam-size", "beam_size", int, "beam search width, 1-10 (default 5)"),
    ("--best-of", "best_of", int, "candidates when sampling, 1-10 (default 5)"),
    ("--patience", "patience", float, "beam search patience, > 0 (default 1.0)"),
    ("--temperature", "temperature", str, "a number or a comma-separated fallback list, 0-1"),
    (
        "--condition-on-previous-text",
        "condition_on_previous_text",
        bool,
        "feed the previous window's text as a prompt (default on)",
    ),
    ("--prompt", "initial_prompt", str, "vocabulary and style hint (initial_prompt)"),
    ("--hotwords", "hotwords", str, "words to favour"),
    ("--no-speech-threshold", "no_speech_threshold", float, "silence threshold, 0-1"),
    ("--log-prob-threshold", "log_prob_threshold", float, "fallback threshold, <= 0"),
    (
        "--compression-ratio-threshold",
        "compression_ratio_threshold",
        float,
        "fallback threshold on repetitive text, > 0",
    ),
    (
        "--hallucination-silence-threshold",
        "hallucination_silence_threshold",
        float,
        "seconds; skip silences where text was hallucinated (turns word timestamps on)",
    ),
    ("--vad", "vad_filter", bool, "skip non-speech with Silero VAD"),
    ("--vad-threshold", "vad_threshold", float, "VAD speech probability threshold (needs --vad)"),
    ("--vad-min-silence-ms", "vad_min_silence_ms", int, "VAD minimum silence (needs --vad)"),
    ("--vad-speech-pad-ms", "vad_speech_pad_ms", int, "VAD padding of speech (needs --vad)"),
    ("--channels", "channels", ["mix", "split"], "split: transcribe a stereo call per channel"),
    ("--batched", "batched", ["auto", "true", "false"], "batched inference (default auto)"),
    ("--diarize", "diarize", bool, "label who speaks (A, B, ...) on segments and words"),
    ("--num-speakers", "num_speakers", int, "with --diarize: the number of speakers, if known"),
    ("--min-speakers", "min_speakers", int, "with --diarize: at least this many speakers"),
    ("--max-speakers", "max_speakers", int, "with --diarize: at most this many (default 8)"),
    ("--metadata", "metadata", str, "a JSON object echoed back on the job and its webhook"),
    ("--webhook-url", "webhook_url", str, "called (signed) when the job ends"),
    ("--webhook-include-result", "webhook_include_result", bool, "put the result in the event"),
]


def add_job_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("job options (default: the server's)")
    for flag, field, kind, help_text in JOB_OPTIONS:
        if kind is bool:
            group.add_argument(
                flag,
                dest=field,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        elif isinstance(kind, list):
            group.add_argument(flag, dest=field, choices=kind, help=help_text)
        else:
            group.add_argument(flag, dest=field, type=kind, help=help_text)


def job_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options given on the command line (None: left to the server)."""
    return {field: getattr(args, field) for _, field, _, _ in JOB_OPTIONS}


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        if args.command == "submit":
            return submit(args, parser)
        with Client(args.server, args.api_key) as client:
            if args.command == "status":
                return show(client.get(args.job_id))
            if args.command == "wait":
                return wait_for(client, args)
            if args.command == "get":
                write(client.transcript(args.job_id, args.format, **cue_limits(args)), args.output)
            elif args.command == "cancel":
                for job_id in args.job_ids:
                    ended = client.get(job_id).status.is_terminal
                    client.cancel(job_id)  # a job that has ended is deleted
                    err.print(f"{job_id}: {'deleted' if ended else 'canceled'}", highlight=False)
            else:
                show_list(client.list(limit=args.limit, status=args.status))
        return EXIT_OK
    except (ClientError, OSError) as e:
        err.print(f"[red]error:[/red] {explain(e)}", highlight=False)
        return EXIT_FAILED
    except KeyboardInterrupt:
        err.print("interrupted; submitted jobs go on (see `whisper-jobs list`)")
        return EXIT_INTERRUPTED


def write(body: str | dict[str, Any], output: Path | None) -> None:
    text = json.dumps(body, indent=2, ensure_ascii=False) + "\n" if isinstance(body, dict) else body
    if output is None or str(output) == "-":
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


def progress_columns() -> tuple[Any, ...]:
    """A spinner while Whisper decodes a 30-s window (progress moves per window), the state
    (submitting, queued #n, processing), the bar and the time since it began."""
    return (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[state]}"),
        TimeElapsedColumn(),
    )


def wait_for(client: Client, args: argparse.Namespace) -> int:
    """Follow a submitted job to its end; print its line, and its transcript with --format."""
    with Progress(*progress_columns(), console=err) as progress:
        task = progress.add_task(args.job_id, total=1.0, state="waiting")
        job = client.wait(args.job_id, timeout=args.timeout, on_event=on_event(progress, task))
        done = 1.0 if job.status is JobStatus.COMPLETED else job.progress
        progress.update(task, state=job.status.value, completed=done)
    code = show(job)
    if job.status is JobStatus.COMPLETED and args.format:
        write(client.transcript(job.id, args.format, **cue_limits(args)), args.output)
    return code


def show(job: Job) -> int:
    line = f"{job.id}  {job.status.value}  {job.progress:.0%}  {job.options.model}"
    line += f"  {job.filename or job.source_url or ''}"
    if job.error:
        line += f"  {job.error.code}: {job.error.message}"
    sys.stdout.write(line + "\n")
    return EXIT_FAILED if job.status in (JobStatus.FAILED, JobStatus.CANCELED) else EXIT_OK


def show_list(jobs: list[Job]) -> None:
    """A table on a terminal; tab-separated lines (one per job) for pipes and scripts."""
    rows = [
        (
            job.id,
            job.status.value,
            f"{job.progress:.0%}",
            job.options.model,
            job.filename or job.source_url or "",
            job.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
        for job in jobs
    ]
    if not sys.stdout.isatty():
        sys.stdout.writelines("\t".join(row) + "\n" for row in rows)
        return
    table = Table(Column("id", no_wrap=True), "status", "progress", "model", "source", "created")
    for row in rows:
        table.add_row(*row)
    Console().print(table)


@dataclass
class Input:
    label: str
    file: Path | None = None
    url: str | None = None


def submit(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    inputs = [Input(str(f), file=f) for f in args.files] + [Input(u, url=u) for u in args.url]
    if not inputs:
        parser.error("submit needs at least one FILE or --url")
    missing = [str(i.file) for i in inputs if i.file is not None and not i.file.is_file()]
    if missing:
        parser.error(f"no such file: {', '.join(missing)}")
    if args.output and len(inputs) > 1 and str(args.output) != "-":
        if args.output.exists() and not args.output.is_dir():
            parser.error("-o must be a directory when several inputs are given")
        args.output.mkdir(parents=True, exist_ok=True)
    return asyncio.run(submit_all(args, inputs))


def output_path(args: argparse.Namespace, item: Input, job: Job, many: bool) -> Path | None:
    """None: stdout."""
    output: Path | None = args.output
    name = Path(item.file.name if item.file else job.id).with_suffix("." + EXTENSIONS[args.format])
    if output is None:
        return Path(name.name)
    if str(output) == "-":
        return None
    return output / name.name if many or output.is_dir() else output


async def submit_all(args: argparse.Namespace, inputs: list[Input]) -> int:
    options = job_options(args)
    async with AsyncClient(args.server, args.api_key) as client:
        with Progress(*progress_columns(), console=err, disable=not args.wait) as progress:
            results = await asyncio.gather(
                *(follow(client, args, item, options, progress, len(inputs) > 1) for item in inputs)
            )
    return EXIT_OK if all(results) else EXIT_FAILED


async def follow(
    client: AsyncClient,
    args: argparse.Namespace,
    item: Input,
    options: dict[str, Any],
    progress: Progress,
    many: bool,
) -> bool:
    """Submit one input and, with --wait, follow it to the end and write its transcript."""
    task = progress.add_task(item.label, total=1.0, state="submitting", visible=args.wait)
    try:
        job = await client.submit(item.file, audio_url=item.url, **options)
        if not args.wait:
            sys.stdout.write(f"{job.id}\t{item.label}\n")
            return True
        err.print(f"{item.label}: job {job.id}", highlight=False)
        progress.update(task, state=job.status.value)
        job = await client.wait(job.id, timeout=args.timeout, on_event=on_event(progress, task))
        progress.update(task, state=job.status.value)
        if job.status is not JobStatus.COMPLETED:
            reason = f"{job.error.code}: {job.error.message}" if job.error else job.status.value
            err.print(f"[red]{item.label}[/red]: {reason}", highlight=False)
            return False
        progress.update(task, completed=1.0)
        path = output_path(args, item, job, many)
        write(await client.transcript(job.id, args.format, **cue_limits(args)), path)
        if path is not None:
            err.print(f"{item.label} -> {path}", highlight=False)
        return True
    except (ClientError, OSError) as e:
        progress.update(task, state="error")
        err.print(f"[red]{item.label}[/red]: {explain(e)}", highlight=False)
        return False


def explain(error: Exception) -> str:
    """The error, with what to do about it where that is clear."""
    if isinstance(error, AuthenticationError):
        return f"{error} (pass --api-key or set {KEY_ENV})"
    return str(error)


def on_event(progress: Progress, task: TaskID) -> Callable[[Event], None]:
    def update(event: Event) -> None:
        if event.kind == "queued":
            position = event.data.get("position")
            progress.update(task, state=f"queued #{position}" if position else "queued")
        elif event.kind == "progress":
            progress.update(task, completed=event.data["progress"], state="processing")
        elif event.kind == "processing":
            progress.update(task, state="processing")

    return update


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    from whisper_jobs_client import __version__

    try:
        return f"whisper-jobs {version('whisper-jobs')} (client {__version__})"
    except PackageNotFoundError:  # the client alone
        return f"whisper-jobs-client {__version__}"


def discovered_plugins() -> list[Plugin]:
    from importlib.metadata import entry_points

    return [entry.load() for entry in entry_points(group=PLUGIN_GROUP)]


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """`--server` and `--api-key`, accepted before the command and after it (people type both).
    Not given: absent from the parsed arguments (a subcommand's default would otherwise overwrite
    what was given before it); `with_connection_defaults` fills them in."""
    parser.add_argument(
        "--server",
        default=argparse.SUPPRESS,
        help=f"API base URL (env {SERVER_ENV}; default {DEFAULT_SERVER})",
    )
    parser.add_argument("--api-key", default=argparse.SUPPRESS, help=f"API key (env {KEY_ENV})")


def with_connection_defaults(args: argparse.Namespace) -> argparse.Namespace:
    if not hasattr(args, "server"):
        args.server = os.environ.get(SERVER_ENV, DEFAULT_SERVER)
    if not hasattr(args, "api_key"):
        args.api_key = os.environ.get(KEY_ENV)
    return args


def build_parser(plugins: list[Plugin]) -> tuple[argparse.ArgumentParser, dict[str, Handler]]:
    parser = argparse.ArgumentParser(prog="whisper-jobs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=_version())
    add_connection_options(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    handlers: dict[str, Handler] = {}
    for plugin in plugins:
        handlers |= plugin(sub)
    add_commands(sub)
    completion = sub.add_parser("completion", help="print a shell completion script")
    completion.add_argument("shell", choices=["bash", "zsh"])
    return parser, handlers


def main(argv: list[str] | None = None, plugins: list[Plugin] | None = None) -> int:
    """`plugins`: None discovers them from the installed distributions."""
    parser, handlers = build_parser(discovered_plugins() if plugins is None else plugins)
    args = with_connection_defaults(parser.parse_args(argv))
    if args.command == "completion":
        sys.stdout.write(script(parser, args.shell))
        return EXIT_OK
    if args.command in COMMANDS:
        return run(args, parser)
    return handlers[args.command](args, parser)
