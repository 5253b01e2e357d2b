"""`python -m local.demo` (`make demo`): one video from prompt to verified mp4, through the local stack's HTTP API.

It starts the stack (moto, the provider emulator, the gateway, the scheduler, the queue and stream
pollers) and a webhook receiver on 127.0.0.1, submits a prompt with a development token and the
receiver as its webhook_url, follows the job on GET /videos/{id}/sora-status with the client's wait
drawn by the `sora-jobs` tool's live display (clients/python), downloads the stored
video through the 302 of GET /videos/{id}/content, checks its sha256, writes it to
demo-output/<job id>.mp4, and lists the webhooks the receiver got, each verified with the
standardwebhooks package.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import threading
import time
import uuid
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from local.emulator import EmulatorConfig
from local.lambda_runtime import ROOT
from local.stack import LOCAL_USER, ExternalProvider, LocalStack
from sorajobs_client import SoraJobs, SoraJobsError, WaitTimeout
from sorajobs_client.display import wait_with_display

OUTPUT_DIR = ROOT / "demo-output"
PROMPT = "A paper boat drifting down a rainy street at dusk, cinematic"
# Short renders and a short refresh interval keep the demo well under half a minute.
DEMO_QUEUE_SECONDS = 1.0
DEMO_RENDER_SECONDS = 6.0
DEMO_PARAMETERS = {"StatusMinRefreshSeconds": "2", "LogLevel": "WARN"}
EMULATOR_DEADLINE_SECONDS = 90.0
EXTERNAL_DEADLINE_SECONDS = 15 * 60.0
WEBHOOK_WAIT_SECONDS = 10.0


class WebhookReceiver:
    """A client's webhook endpoint: verifies each delivery's signature and keeps the events."""

    def __init__(self, secret: str) -> None:
        self.events: list[dict[str, Any]] = []
        self.refused = 0
        self.changed = threading.Condition()
        receiver = self
        verifier = Webhook(secret)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    event = verifier.verify(body, dict(self.headers.items()))
                except WebhookVerificationError:
                    status = 401
                    with receiver.changed:
                        receiver.refused += 1
                else:
                    status = 204
                    with receiver.changed:
                        receiver.events.append(event)
                        receiver.changed.notify_all()
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhooks"
        threading.Thread(target=self._server.serve_forever, name="demo-webhook-receiver", daemon=True).start()

    def wait_for(self, event_type: str, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: any(e["type"] == event_type for e in self.events), timeout)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class DemoFailed(Exception):
    """A step did not do what it should; the message says which and why."""


def step(number: int, text: str) -> None:
    print(f"{number}. {text}", flush=True)


def _expect(response: httpx.Response, status: int, what: str) -> None:
    if response.status_code != status:
        raise DemoFailed(f"{what}: expected HTTP {status}, got {response.status_code}: {response.text[:500]}")


def follow_job(api_url: str, token: str, job_id: str, timeout: float) -> dict[str, Any]:
    """The client's wait, drawn by the sora-jobs tool's live display (one line per change off a terminal)."""
    with SoraJobs(api_url, token) as client:
        try:
            job = wait_with_display(client, job_id, Console(), timeout=timeout)
        except WaitTimeout as timeout_error:
            raise DemoFailed(f"the job did not complete in time: {timeout_error}") from None
    if job.status != "completed":
        reason = f"{job.error.code}: {job.error.message}" if job.error else "no error recorded"
        raise DemoFailed(f"the job ended {job.status}: {reason}")
    return job.model_dump(mode="json")


def download_video(api: httpx.Client, job: dict[str, Any]) -> bytes:
    """GET /videos/{id}/content answers 302; the presigned S3 URL is fetched without the API token."""
    response = api.get(job["video"]["content_url"])
    _expect(response, 302, "GET content")
    location = response.headers["location"]
    print(f"   302 -> presigned S3 URL on the local AWS: {location.split('?', 1)[0]}?X-Amz-...", flush=True)
    with httpx.Client(timeout=60) as anonymous:
        stored = anonymous.get(location)
    _expect(stored, 200, "GET the presigned URL")
    return stored.content


def verify(content: bytes, job: dict[str, Any]) -> str:
    digest = hashlib.sha256(content).hexdigest()
    if digest != job["video"]["sha256"]:
        raise DemoFailed(f"sha256 mismatch: downloaded {digest}, the job says {job['video']['sha256']}")
    if len(content) != job["video"]["bytes"]:
        raise DemoFailed(f"size mismatch: downloaded {len(content)} bytes, the job says {job['video']['bytes']}")
    if content[4:8] != b"ftyp":
        raise DemoFailed("the download is not an MP4 file (no ftyp box)")
    return digest


def run(
    stack: LocalStack,
    receiver: WebhookReceiver,
    deadline_seconds: float,
    output_dir: Path = OUTPUT_DIR,
    provider: str = "openai",
) -> Path:
    started = time.monotonic()
    token = stack.mint_token(LOCAL_USER, ["users"])
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=stack.gateway_url, headers=headers, timeout=90, follow_redirects=False) as api:
        step(2, f"Submitting to {provider} as {LOCAL_USER!r}: {PROMPT!r}, webhooks to {receiver.url}")
        submitted = api.post(
            "/videos",
            json={"prompt": PROMPT, "provider": provider, "webhook_url": receiver.url},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        _expect(submitted, 202, "POST /videos")
        job = submitted.json()
        print(
            f"   202 Accepted: job {job['id']} is {job['status']} on {job['provider']} {job['model']}, "
            f"{job['seconds']} s at {job['size']} (provider video {job['provider_video_id']})"
        )

        step(3, f"Following GET /videos/{job['id']}/sora-status with the sora-jobs client (Retry-After, backoff)")
        job = follow_job(stack.gateway_url, token, job["id"], started + deadline_seconds - time.monotonic())
        print(f"   completed after {time.monotonic() - started:.1f} s; stored {job['video']['bytes']:,} bytes")

        step(4, f"Downloading GET /videos/{job['id']}/content")
        content = download_video(api, job)
    digest = verify(content, job)
    print(f"   sha256 {digest} matches the job's video.sha256")

    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / f"{job['id']}.mp4"
    target.write_bytes(content)

    step(5, f"Webhooks received at {receiver.url} (signatures verified with standardwebhooks)")
    if not receiver.wait_for("video.completed", WEBHOOK_WAIT_SECONDS):
        raise DemoFailed(f"no video.completed webhook within {WEBHOOK_WAIT_SECONDS:g} s of the download")
    if receiver.refused:
        raise DemoFailed(f"{receiver.refused} webhook(s) failed signature verification")
    for event in receiver.events:
        data = event["data"]
        print(
            f"   #{event['sequence']:<2} {event['type']:<18} {data['status']:<11} {data['progress']:3d}%  {event['id']}"
        )
    if [event["sequence"] for event in receiver.events] != list(range(1, len(receiver.events) + 1)):
        raise DemoFailed("webhook sequence numbers are not 1, 2, 3, ... " + json.dumps(receiver.events)[:300])
    return target


def _provider_url(stack: LocalStack, provider: str) -> str:
    emulators = {"fal": stack.fal_emulator, "runway": stack.runway_emulator}
    emulator = emulators.get(provider)
    return emulator.base_url if emulator is not None else stack.provider_base_url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.demo", description=__doc__)
    parser.add_argument(
        "--provider",
        choices=("openai", "fal", "runway"),
        default="openai",
        help="the provider the job names; each has an emulator in the local stack (default: openai)",
    )
    parser.add_argument(
        "--use-env-provider",
        action="store_true",
        help="use OPENAI_BASE_URL/OPENAI_API_KEY instead of the emulator (real jobs, real cost, minutes)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(name)s %(levelname)s %(message)s")
    # Powertools warns on every invocation that published no metric; locally metrics are off anyway.
    warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

    external = ExternalProvider.from_env() if args.use_env_provider else None
    if args.use_env_provider and external is None:
        print("demo failed: --use-env-provider needs OPENAI_BASE_URL and OPENAI_API_KEY", file=sys.stderr)
        return 2
    began = time.monotonic()
    stack = LocalStack(
        emulator_config=EmulatorConfig(queue_seconds=DEMO_QUEUE_SECONDS, render_seconds=DEMO_RENDER_SECONDS),
        external_provider=external,
        parameters=DEMO_PARAMETERS,
    )
    step(1, "Starting the local stack (moto, provider emulator, HTTP API gateway, scheduler, pollers)")
    try:
        stack.start()
    except Exception as error:
        print(f"demo failed: the local stack did not start: {error}", file=sys.stderr)
        return 1
    assert stack.resources is not None
    receiver = WebhookReceiver(stack.resources.webhook_signing_secret)
    try:
        endpoints = [f"API {stack.gateway_url}", f"AWS (moto) {stack.aws_endpoint_url}"]
        print("   " + "   ".join([*endpoints, f"{args.provider} at {_provider_url(stack, args.provider)}"]))
        deadline = EXTERNAL_DEADLINE_SECONDS if external else EMULATOR_DEADLINE_SECONDS
        target = run(stack, receiver, deadline, provider=args.provider)
    except DemoFailed as failure:
        print(f"\ndemo failed: {failure}", file=sys.stderr)
        return 1
    except (httpx.HTTPError, OSError, SoraJobsError) as error:
        print(f"\ndemo failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ndemo interrupted", file=sys.stderr)
        return 130
    finally:
        receiver.stop()
        stack.stop()
    size = target.stat().st_size
    elapsed = time.monotonic() - began
    step(6, f"Saved {target.relative_to(ROOT)} ({size:,} bytes). Stack stopped; {elapsed:.1f} s in all.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
