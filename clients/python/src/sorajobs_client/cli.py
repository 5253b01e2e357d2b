"""`sora-jobs`: the command-line tool on the client.

On a terminal it draws a live display while it waits; with --json, or when stdout is not a terminal, it
prints exactly one JSON document on stdout (errors too) and nothing else. Exit codes: see EXIT_CODES.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, get_args

from rich.console import Console
from rich.table import Table
from rich.text import Text

from sorajobs_client._core import IMAGE_TYPES, DownloadResult, Progress
from sorajobs_client.client import SoraJobs
from sorajobs_client.display import download_progress, wait_with_display
from sorajobs_client.errors import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    DownloadError,
    NetworkError,
    ServerError,
    SoraJobsError,
    UnexpectedResponseError,
    UploadError,
    WaitTimeout,
)
from sorajobs_client.models import Job, JobStatus

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CANCELLED = 3
EXIT_RESET = 4
EXIT_TIMEOUT = 5
EXIT_API_ERROR = 6
EXIT_AUTH = 7
EXIT_UNREACHABLE = 8
EXIT_DOWNLOAD = 9
EXIT_UPLOAD = 10
EXIT_DETACHED = 130

EXIT_CODES = {
    EXIT_OK: "done; a wait ended with the job completed (and saved, with --save)",
    EXIT_FAILED: "the job failed (doctor: a check failed)",
    EXIT_USAGE: "usage: bad arguments, or no API URL or token configured",
    EXIT_CANCELLED: "the job was cancelled",
    EXIT_RESET: "the job was reset",
    EXIT_TIMEOUT: "the wait timed out (--timeout); the job goes on",
    EXIT_API_ERROR: "the API refused the request (its error code is printed)",
    EXIT_AUTH: "the token was refused (missing, malformed, expired, or not for this API)",
    EXIT_UNREACHABLE: "the API could not be reached or is not the API (network, wrong URL, 5xx after retries)",
    EXIT_DOWNLOAD: "the download failed or did not match the job's size and SHA-256",
    EXIT_UPLOAD: "the reference image could not be read, or its signed upload was refused",
    EXIT_DETACHED: "interrupted: detached from the wait; the job goes on",
}
_FINISHED_EXIT = {"completed": EXIT_OK, "failed": EXIT_FAILED, "cancelled": EXIT_CANCELLED, "reset": EXIT_RESET}
_HINTS = {
    "unauthorized": "check --token or SORA_JOBS_TOKEN",
    "route_not_found": "check --api-url or SORA_JOBS_API_URL",
    "unexpected_response": "check --api-url or SORA_JOBS_API_URL",
}

ClientFactory = Callable[[argparse.Namespace], SoraJobs]


@dataclass
class Output:
    """Where results go: a JSON document on stdout (scripts), or text and tables (people); the live display
    and messages go to stderr, so stdout stays one document."""

    json_mode: bool
    out: Console
    err: Console

    def document(self, value: Any) -> None:
        self.out.file.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
        self.out.file.flush()

    def message(self, text: str) -> None:
        self.err.print(text, highlight=False, markup=False, soft_wrap=True)


# --- arguments ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sora-jobs",
        description="Submit, follow and download AI video jobs.",
        epilog="exit codes: " + "; ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES.items()),
    )
    _common_options(parser, None)
    # The options go before or after the command; a subcommand leaves unset what the main parser read.
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help_text, description=help_text, parents=[common])

    submit = command("submit", "submit a prompt (and, with --wait, follow it to the end)")
    submit.add_argument("prompt")
    submit.add_argument("--provider", choices=("openai", "fal", "runway"))
    submit.add_argument("--model", help="one of `sora-jobs models`")
    submit.add_argument("--seconds", help="clip length the model takes")
    submit.add_argument("--size", help="WIDTHxHEIGHT the model takes")
    image = submit.add_mutually_exclusive_group()
    image.add_argument("--image", metavar="FILE", help="a PNG, JPEG or WebP to animate: uploaded first")
    image.add_argument("--image-url", help="an https image to animate (image-to-video models)")
    image.add_argument("--image-upload-id", help="an image uploaded before (`sora-jobs upload FILE`)")
    submit.add_argument("--webhook-url", help="this job's own webhook endpoint")
    submit.add_argument("--metadata", action="append", default=[], metavar="KEY=VALUE", help="repeatable")
    submit.add_argument("--idempotency-key", help="default: a fresh one per submit")
    submit.add_argument("--wait", action="store_true", help="follow the job until it is finished")
    submit.add_argument("--save", metavar="FILE", help="download the video there once completed (implies --wait)")
    _timeout_option(submit)

    watch = command("watch", "follow a job until it is finished")
    watch.add_argument("id")
    _timeout_option(watch)

    show = command("show", "show a job")
    show.add_argument("id")
    show.add_argument("--refresh", action="store_true", help="ask the provider (sora-status) instead of the store")

    ls = command("ls", "list your jobs, newest first")
    ls.add_argument("--status", choices=get_args(JobStatus))
    ls.add_argument("--limit", type=int, default=20, help="how many (default 20)")

    reset = command("reset", "abandon a job's current attempt")
    reset.add_argument("id")
    reset.add_argument("--resubmit", action="store_true", help="start a new attempt at once")

    cancel = command("cancel", "cancel a pending, queued or running job")
    cancel.add_argument("id")

    download = command("download", "download a completed job's video")
    download.add_argument("id")
    download.add_argument("-o", "--output", help="file or directory (default: ./<id>.mp4)")

    command("models", "list the providers and models jobs may name")

    upload = command("upload", "upload a reference image; prints the id `submit --image-upload-id` takes")
    upload.add_argument("file")
    upload.add_argument("--content-type", choices=sorted(set(IMAGE_TYPES.values())), help="default: by extension")

    attempts = command("attempts", "list a job's generation attempts, oldest first")
    attempts.add_argument("id")

    command("stats", "count your jobs per status, with their estimated cost (every owner's, for admins)")
    command("doctor", "check each enabled provider's configuration and key (admins); exit 1 if a check fails")

    webhooks = command("webhooks", "show a job's webhook deliveries, or replay one")
    webhooks.add_argument("id")
    webhooks.add_argument(
        "--replay", nargs="?", const="", metavar="EVENT_ID", help="send an event again (default: the latest)"
    )
    return parser


def _common_options(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument(
        "--api-url", default=default, help="the API's base URL (default: $SORA_JOBS_API_URL, else $API)"
    )
    parser.add_argument("--token", default=default, help="a bearer token (default: $SORA_JOBS_TOKEN, else $TOKEN)")
    parser.add_argument(
        "--json",
        action="store_true",
        default=False if default is None else default,
        help="print one JSON document on stdout (the default when stdout is not a terminal)",
    )


def _timeout_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait at most (default 1800)")


# --- commands -----------------------------------------------------------------------------------


def run_submit(api: SoraJobs, args: argparse.Namespace, output: Output) -> int:
    options: dict[str, Any] = {
        "provider": args.provider,
        "model": args.model,
        "seconds": args.seconds,
        "size": args.size,
        "image_url": args.image_url,
        "image_upload_id": args.image_upload_id,
        "webhook_url": args.webhook_url,
        "idempotency_key": args.idempotency_key,
    }
    if args.metadata:
        options["metadata"] = _pairs(args.metadata)
    if args.image:
        options["image_upload_id"] = api.upload_image(args.image).upload_id
    job = api.create(args.prompt, **{name: value for name, value in options.items() if value is not None})
    if not (args.wait or args.save):
        if output.json_mode:
            output.document(_job_json(job))
        else:
            output.message(f"Submitted {_summary(job)}. Follow it: sora-jobs watch {job.id}")
        return EXIT_OK
    output.message(f"Submitted {_summary(job)}")
    return follow(api, job, args, output, save=args.save)


def run_watch(api: SoraJobs, args: argparse.Namespace, output: Output) -> int:
    return follow(api, api.retrieve(args.id), args, output)


def follow(api: SoraJobs, job: Job, args: argparse.Namespace, output: Output, save: str | None = None) -> int:
    """Waits with the live display; Ctrl-C asks whether to detach or cancel. Then reports (and saves)."""
    last = [job]

    def seen(progress: Progress) -> None:
        last[0] = progress.job

    try:
        job = wait_with_display(
            api, job.id, output.err, timeout=args.timeout, on_progress=seen, log_lines=not output.json_mode
        )
    except KeyboardInterrupt:
        return interrupted(api, last[0], output)
    except WaitTimeout as timeout:
        output.message(f"sora-jobs: {timeout.message} Follow it: sora-jobs watch {job.id}")
        if output.json_mode:
            output.document(_job_json(timeout.job or last[0]))
        return EXIT_TIMEOUT
    saved = download_with_display(api, job.id, save, output) if save and job.status == "completed" else None
    report(job, output, saved)
    return _FINISHED_EXIT.get(job.status, EXIT_FAILED)


def interrupted(api: SoraJobs, job: Job, output: Output) -> int:
    """Ctrl-C during a wait: detach (the job goes on) or cancel it. Off a terminal, detach."""
    choice = "d"
    if sys.stdin.isatty() and output.err.is_terminal:
        try:
            question = f"\nInterrupted. [d]etach ({job.id} goes on) or [c]ancel the job? [d/c] "
            output.err.print(question, end="", markup=False, highlight=False)
            choice = input().strip().lower()[:1] or "d"
        except (KeyboardInterrupt, EOFError):
            choice = "d"
    if choice == "c":
        cancelled = api.cancel(job.id)
        report(cancelled, output)
        return _FINISHED_EXIT.get(cancelled.status, EXIT_CANCELLED)
    output.message(f"Detached: {job.id} goes on ({job.status}). Follow it: sora-jobs watch {job.id}")
    if output.json_mode:
        output.document(_job_json(job))
    return EXIT_DETACHED


def report(job: Job, output: Output, saved: DownloadResult | None = None) -> None:
    if output.json_mode:
        document = _job_json(job)
        if saved is not None:
            document["download"] = _download_json(saved)
        output.document(document)
        return
    if job.status == "completed":
        size = f", {job.video.bytes:,} bytes" if job.video else ""
        line = Text.assemble(("completed", "bold green"), f" {job.id}{size}, ${job.estimated_cost_usd:.2f}")
    else:
        why = f": {job.error.code}: {job.error.message}" if job.error else ""
        category = f" ({job.error.category})" if job.error and job.error.category else ""
        line = Text.assemble((job.status, "bold red"), f" {job.id}{why}{category}")
    output.out.print(line)
    if saved is not None:
        output.out.print(f"saved {saved.path} ({saved.bytes:,} bytes, SHA-256 verified)", highlight=False)


def run_show(api: SoraJobs, args: argparse.Namespace, output: Output) -> int:
    job = api.refresh(args.id) if args.refresh else api.retrieve(args.id)
    if output.json_mode:
        output.document(_job_json(job))
        return EXIT_OK
    table = Table.grid(padding=(0, 2))
    for name, value in _job_json(job).items():
        if value not in (None, {}, ""):
            table.add_row(f"[bold]{name}[/]", json.dumps(value) if isinstance(value, dict) else str(value))
    output.out.print(table)
    return EXIT_OK


def run_ls(api: SoraJobs, args: argparse.Namespace, output: Output) -> int:
    if args.limit < 1:
        raise _UsageError("--limit must be at least 1")
    jobs = []
    for job in api.list(status=args.status, page_size=min(args.limit, 100)):
        jobs.append(job)
        if len(jobs) >= args.limit:
            break
    if output.json_mode:
        output.document({"data": [_job_json(job) for job in jobs]})
        return EXIT_OK
    table = Table("id", "status", "progress", "provider", "model", "created", "prompt", box=None)
    for job in jobs:
        table.add_row(
            job.id, job.status, f"{job.progress}%", job.provider, job.model, job.created_at, _clip(job.prompt, 40)
        )
    output.out.print(table if jobs else "No jobs.")
    return EXIT_OK


def run_reset(api: SoraJobs, args: argparse.Namespace, output: Output) -> int:
    job = api.reset(args.id, resubmit=args.resubmit)
    return _print_job(job, output, "resubmitted" if args.resubmit else "reset")


def run_cancel(api: SoraJobs, args: argparse.Namespace, output: Output) -> int:
    return _print_job(api.cancel(args.id), output, "cancelled")


def run_download(api: SoraJobs, args: argparse.Namespace, output: Output) -> int:
    saved = download_with_display(api, args.id, args.output, output)
    if output.json_mode:
        output.document(_download_json(saved))
    else:
        output.out.print(f"saved {saved.path} ({saved.bytes:,} bytes, SHA-256 verified)", highlight=False)
    return EXIT_OK


def download_with_display(api: SoraJobs, job_id: str, to: str | None, output: Output) -> DownloadResult:
    if not output.err.is_terminal:
        return api.download(job_id, to=to)
    with download_progress(output.err) as bar:
        task = bar.add_task("download", total=None)

        def advance(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        return api.download(job_id, to=to, on_progress=advance)


def run_models(api: SoraJobs, args: argparse.Namespace, output: Output) -> int:
    listing = api.models()
    if output.json_mode:
        output.document(listing.model_dump(mode="json"))
        return EXIT_OK
    table = Table("provider", "model", "seconds", "sizes", "image", "$/s", "", box=None)
    for model in listing.data:
        prices = ", ".join(
            f"{price:g}" if size == "*" else f"{size} {price:g}" for size, price in model.usd_per_second.items()
        )
        table.add_row(
            model.provider,
            model.model,
            ",".join(model.seconds),
            ",".join(model.sizes),
            model.image_input,
            prices,
            "default" if model.default else "",
        )
    output.out.print(table)
    return EXIT_OK


def run_webhooks(api: SoraJobs, args: argparse.Namespace, output: Output) -> int:
    if args.replay is not None:
        replayed = api.replay_webhook(args.id, args.replay or None)
        if output.json_mode:
            output.document(replayed.model_dump(mode="json"))
        else:
            output.out.print(f"replayed {replayed.event_id} to {len(replayed.deliveries)} destination(s)")
        return EXIT_OK
    deliveries = list(api.webhooks(args.id))
    if output.json_mode:
        output.document({"data": [delivery.model_dump(mode="json") for delivery in deliveries]})
        return EXIT_OK
    table = Table("#", "event", "type", "destination", "state", "attempts", "last answer", box=None)
    for delivery in deliveries:
        last = delivery.attempts[-1] if delivery.attempts else None
        answer = "" if last is None else str(last.status_code) if last.status_code is not None else last.error or "-"
        table.add_row(
            str(delivery.sequence),
            delivery.event_id,
            delivery.type,
            delivery.destination,
            delivery.state,
            str(len(delivery.attempts)),
            answer,
        )
    output.out.print(table if deliveries else "No webhook deliveries.")
    return EXIT_OK


def run_upload(api: SoraJobs, args: argparse.Namespace, output: Output) -> int:
    upload = api.upload_image(args.file, content_type=args.content_type)
    if output.json_mode:
        output.document(upload.model_dump(mode="json"))
    else:
        output.out.print(f"uploaded {args.file}: {upload.upload_id}", highlight=False)
        output.message(f"Submit with it: sora-jobs submit PROMPT --image-upload-id {upload.upload_id} ...")
    return EXIT_OK


def run_attempts(api: SoraJobs, args: argparse.Namespace, output: Output) -> int:
    listing = api.attempts(args.id)
    if output.json_mode:
        output.document(listing.model_dump(mode="json"))
        return EXIT_OK
    table = Table("#", "status", "progress", "started", "ended", "provider's id", "error", box=None)
    for attempt in listing.data:
        table.add_row(
            f"{attempt.attempt}{' (current)' if attempt.current else ''}",
            attempt.status,
            f"{attempt.progress}%",
            attempt.started_at,
            attempt.ended_at or "",
            attempt.provider_video_id or "",
            attempt.error.code if attempt.error else "",
        )
    output.out.print(table)
    return EXIT_OK


def run_stats(api: SoraJobs, args: argparse.Namespace, output: Output) -> int:
    stats = api.stats()
    if output.json_mode:
        output.document(stats.model_dump(mode="json"))
        return EXIT_OK
    table = Table("status", "jobs", box=None)
    for status, count in stats.counts.items():
        table.add_row(status, str(count))
    output.out.print(table)
    whose = "every owner's jobs" if stats.scope == "all" else "your jobs"
    output.out.print(f"{stats.total} jobs ({whose}), est. ${stats.estimated_cost_usd:.2f}", highlight=False)
    return EXIT_OK


def run_doctor(api: SoraJobs, args: argparse.Namespace, output: Output) -> int:
    report = api.doctor()
    if output.json_mode:
        output.document(report.model_dump(mode="json"))
    else:
        table = Table("provider", "check", "", "message", box=None)
        for check in report.checks:
            table.add_row(check.provider, check.check, "ok" if check.ok else "FAILED", check.message)
        output.out.print(table)
        output.out.print("every check passed" if report.ok else "a check failed: see its message", highlight=False)
    return EXIT_OK if report.ok else EXIT_FAILED


COMMANDS: dict[str, Callable[[SoraJobs, argparse.Namespace, Output], int]] = {
    "submit": run_submit,
    "watch": run_watch,
    "show": run_show,
    "ls": run_ls,
    "reset": run_reset,
    "cancel": run_cancel,
    "download": run_download,
    "models": run_models,
    "webhooks": run_webhooks,
    "upload": run_upload,
    "attempts": run_attempts,
    "stats": run_stats,
    "doctor": run_doctor,
}


# --- errors -------------------------------------------------------------------------------------


class _UsageError(Exception):
    pass


def exit_code_for(error: SoraJobsError) -> int:
    if isinstance(error, ConfigurationError):
        return EXIT_USAGE
    if isinstance(error, AuthenticationError):
        return EXIT_AUTH
    if isinstance(error, NetworkError | UnexpectedResponseError) or (
        isinstance(error, ApiError) and error.code == "route_not_found"
    ):
        return EXIT_UNREACHABLE
    if isinstance(error, ServerError) and error.code not in (
        "provider_not_configured",
        "provider_auth_failed",
        "provider_misconfigured",
    ):
        return EXIT_UNREACHABLE
    if isinstance(error, DownloadError):
        return EXIT_DOWNLOAD
    if isinstance(error, UploadError):
        return EXIT_UPLOAD
    if isinstance(error, WaitTimeout):
        return EXIT_TIMEOUT
    return EXIT_API_ERROR


def error_line(error: SoraJobsError) -> str:
    """One line: the message, what is allowed or invalid when the details say, the code, status and request."""
    parts = [error.message if error.message.endswith((".", "?", "!")) else error.message + "."]
    if isinstance(error, ApiError):
        parts.extend(_detail_hints(error.details))
        facts = [error.code, f"HTTP {error.status_code}"]
        if error.request_id:
            facts.append(f"request {error.request_id}")
        parts.append(f"[{', '.join(facts)}]")
    else:
        parts.append(f"[{error.code}]")
    if error.code in _HINTS:
        parts.append(f"({_HINTS[error.code]})")
    return "sora-jobs: error: " + " ".join(" ".join(parts).split())


def error_json(error: SoraJobsError) -> dict[str, Any]:
    body: dict[str, Any] = {"code": error.code, "message": error.message, "exit_code": exit_code_for(error)}
    if isinstance(error, ApiError):
        body.update(details=error.details, status=error.status_code, request_id=error.request_id)
    return {"error": body}


def _detail_hints(details: list[dict[str, Any]]) -> list[str]:
    hints = []
    for detail in details[:3]:
        where = ".".join(str(part) for part in detail.get("loc", []) if part != "body")
        if isinstance(detail.get("allowed"), list):
            allowed = ", ".join(_allowed_text(item) for item in detail["allowed"])
            hints.append(f"Allowed{f' {where}' if where else ''}: {allowed}.")
        elif detail.get("msg"):
            hints.append(f"{where or 'request'}: {detail['msg']}.")
    return hints


def _allowed_text(item: Any) -> str:
    return "/".join(str(value) for value in item.values()) if isinstance(item, dict) else str(item)


# --- main ---------------------------------------------------------------------------------------


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    client_options: Mapping[str, Any] | None = None,
) -> int:
    """Runs one command; returns its exit code. `client_options` go to SoraJobs (tests: transport, sleep)."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser().parse_args(arguments)
    except SystemExit as exit_:
        if exit_.code != EXIT_OK and ("--json" in arguments or not sys.stdout.isatty()):
            print(json.dumps({"error": {"code": "usage", "message": "bad arguments", "exit_code": EXIT_USAGE}}))
        return EXIT_USAGE if exit_.code != EXIT_OK else EXIT_OK
    json_mode = bool(args.json) or not sys.stdout.isatty()
    output = Output(json_mode=json_mode, out=Console(), err=Console(stderr=True))
    try:
        with SoraJobs(args.api_url, args.token, environ=environ, **dict(client_options or {})) as api:
            return COMMANDS[args.command](api, args, output)
    except SoraJobsError as error:
        output.message(error_line(error))
        if json_mode:
            output.document(error_json(error))
        return exit_code_for(error)
    except (_UsageError, ValueError) as error:
        output.message(f"sora-jobs: error: {' '.join(str(error).split())}")
        if json_mode:
            output.document({"error": {"code": "usage", "message": str(error), "exit_code": EXIT_USAGE}})
        return EXIT_USAGE
    except KeyboardInterrupt:
        output.message("sora-jobs: interrupted")
        return EXIT_DETACHED


# --- formatting ---------------------------------------------------------------------------------


def _job_json(job: Job) -> dict[str, Any]:
    return job.model_dump(mode="json")


def _download_json(saved: DownloadResult) -> dict[str, Any]:
    return {"path": str(saved.path), "bytes": saved.bytes, "sha256": saved.sha256, "content_type": saved.content_type}


def _summary(job: Job) -> str:
    return (
        f"{job.id} ({job.status} on {job.provider} {job.model}, {job.seconds} s at {job.size}, "
        f"est. ${job.estimated_cost_usd:.2f})"
    )


def _pairs(items: list[str]) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise _UsageError(f"--metadata takes KEY=VALUE, not {item!r}")
        pairs[key] = value
    return pairs


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _print_job(job: Job, output: Output, what: str) -> int:
    if output.json_mode:
        output.document(_job_json(job))
    else:
        output.out.print(f"{what}: {_summary(job)}", highlight=False)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
