"""The measured process of the store-memory benchmark: `python -m bench.store_child MODE ...`.

It creates the stack's resources in the moto server, brings one job to "awaiting storage" through
JobSubmission and JobRefresher against the emulator, then copies the video into S3 inside a PeakRss block, either
- `streamed`: `VideoStorer.store`, the store-video function's path (production defaults throughout), or
- `naive`: the SDK's `videos.download_content` (the whole body in memory) and one `put_object`,
and writes its figures as JSON to the result file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from bench.memory import KIB, PeakRss
from bench.servers import http_json

OWNER = "bench-user"
PROMPT = "A paper boat drifting down a rainy street, for the store-memory benchmark"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.store_child")
    parser.add_argument("mode", choices=("streamed", "naive"))
    parser.add_argument("--moto-url", required=True)
    parser.add_argument("--emulator-url", required=True, help="the emulator's root URL (without /v1)")
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--video-bytes", type=int, required=True)
    parser.add_argument("--result", type=Path, required=True)
    return parser.parse_args(argv)


def configure_environment(args: argparse.Namespace) -> None:
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": args.moto_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "OPENAI_API_KEY": args.api_key,
            "OPENAI_BASE_URL": f"{args.emulator_url}/v1",
            "POWERTOOLS_SERVICE_NAME": "sora-jobs-bench",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )
    # Every client.videos.* call warns that the hosted Videos API is retired; the emulator still serves it.
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def job_awaiting_storage(services: Any, args: argparse.Namespace, queue_url: str) -> Any:
    """Submits a job whose video has the requested size, lets it finish, and returns its store message."""
    from sorajobs.models.api import SubmitVideoRequest
    from sorajobs.models.messages import StoreVideoMessage
    from sorajobs.wiring import Wiring

    http_json("POST", f"{args.emulator_url}/_emulator/scenario", {"video_bytes": args.video_bytes})
    wiring = Wiring(services)
    job = wiring.submission.submit(OWNER, SubmitVideoRequest(prompt=PROMPT))
    http_json("POST", f"{args.emulator_url}/_emulator/clock/advance", {"seconds": 1})
    if not job.awaiting_storage:
        job = wiring.refresher.refresh(job).job
    if not job.awaiting_storage:
        raise RuntimeError(f"job {job.id} does not await storage: status {job.status}, {job.provider_status}")
    import boto3

    received = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=1)
    messages = received.get("Messages", [])
    if not messages:
        raise RuntimeError("submitting and refreshing the job sent no store message")
    return StoreVideoMessage.model_validate_json(messages[0]["Body"])


def store_streamed(services: Any, message: Any) -> dict[str, Any]:
    from sorajobs.wiring import Wiring

    _ = services.storage  # the S3 client (botocore's model) is built before the baseline: the figure is the data path
    storer = Wiring(services).storer
    with PeakRss() as memory:
        outcome = storer.store(message)
    job = services.jobs.get(message.job_id)
    if job is None or job.video is None:
        raise RuntimeError(f"the store ended with {outcome} but the job has no stored video")
    return {
        "outcome": str(outcome),
        "sha256": job.video.sha256,
        "bytes": job.video.bytes,
        "key": job.video.key,
        "memory": memory,
    }


def store_naive(services: Any, message: Any, args: argparse.Namespace) -> dict[str, Any]:
    import boto3
    from botocore.config import Config
    from openai import OpenAI

    client = OpenAI(api_key=args.api_key, base_url=f"{args.emulator_url}/v1", max_retries=0, timeout=300)
    s3 = boto3.client("s3", config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    bucket = services.settings.videos_bucket_name
    key = f"naive/{message.job_id}/video.mp4"
    with PeakRss() as memory:
        body = client.videos.download_content(message.provider_video_id).content  # the whole video in memory
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="video/mp4")
        digest = hashlib.sha256(body).hexdigest()
        size = len(body)
        del body
    return {"outcome": "put_object", "sha256": digest, "bytes": size, "key": key, "memory": memory}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_environment(args)
    import boto3

    from local.resources import create_stack_resources
    from sorajobs.config import Settings
    from sorajobs.services import Services

    resources = create_stack_resources(boto3.session.Session(), openai_api_key=args.api_key)
    os.environ.update(resources.environment())
    services = Services(Settings.from_env())
    message = job_awaiting_storage(services, args, resources.queue_url)
    stored = store_streamed(services, message) if args.mode == "streamed" else store_naive(services, message, args)
    memory: PeakRss = stored.pop("memory")
    figures = {
        **stored,
        "mode": args.mode,
        "provider_video_id": message.provider_video_id,
        "bucket": resources.bucket_name,
        "baseline_mib": memory.baseline_kib / KIB,
        "peak_mib": memory.peak_kib / KIB,
        "growth_mib": memory.growth_kib / KIB,
        "first_half_growth_mib": (memory.first_half_peak_kib - memory.baseline_kib) / KIB,
        "second_half_growth_mib": (memory.second_half_peak_kib - memory.baseline_kib) / KIB,
        "seconds": memory.seconds,
        "method": memory.method,
    }
    args.result.write_text(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
