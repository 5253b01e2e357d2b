"""Memory while storing: peak RSS growth of the process that copies a finished video into S3.

moto (S3, DynamoDB, SQS) and the provider emulator each run as their own process: moto keeps S3
objects in its memory, and neither should count against the measured process. Each copy runs in
a fresh child (bench/store_child.py): first the store-video path (`VideoStorer.store`, streamed
multipart upload), then, for comparison, the SDK's `download_content` followed by one `put_object`.
Between the two, moto is reset so the first video does not sit in its memory.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import servers
from bench.report import MET, BenchmarkResult, Row, verdict_at_most

NAME = "store_memory"
MIB = 1024 * 1024
GIB = 1024 * MIB
DEFAULT_VIDEO_BYTES = GIB
GROWTH_TARGET_MIB = 64.0
STORE_FUNCTION_MEMORY_MB = 1024  # StoreVideoFunction's MemorySize in template.yaml
API_KEY = "sk-bench-emulator"
CHILD_TIMEOUT_SECONDS = 900
VERIFY_CHUNK_BYTES = 8 * MIB


def _size_label(size: int) -> str:
    if size % GIB == 0:
        return f"{size // GIB} GiB"
    if size % MIB == 0:
        return f"{size // MIB} MiB"
    return f"{size} B"


def _run_child(mode: str, moto: servers.ServerProcess, emulator: servers.ServerProcess, video_bytes: int) -> Any:
    with tempfile.TemporaryDirectory(prefix="bench-store-") as scratch:
        result_path = Path(scratch) / "result.json"
        argv = [sys.executable, "-m", "bench.store_child", mode, "--moto-url", moto.url]
        argv += ["--emulator-url", emulator.url, "--api-key", API_KEY]
        argv += ["--video-bytes", str(video_bytes), "--result", str(result_path)]
        completed = subprocess.run(
            argv,
            cwd=servers.ROOT,
            env=servers.quiet_environment(),
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT_SECONDS,
            check=False,
        )
        if completed.returncode != 0 or not result_path.exists():
            output = (completed.stdout + completed.stderr)[-3000:]
            raise RuntimeError(f"the {mode} store child exited with {completed.returncode}:\n{output}")
        return json.loads(result_path.read_text())


def _s3_object_sha256(moto_url: str, bucket: str, key: str) -> tuple[str, int]:
    """Reads the stored object back from moto and hashes it, in chunks."""
    import boto3
    from botocore.config import Config

    s3 = boto3.client(
        "s3",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}),
    )
    digest = hashlib.sha256()
    size = 0
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    for chunk in body.iter_chunks(VERIFY_CHUNK_BYTES):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _detail(figures: dict[str, Any], size: int, check: str) -> tuple[str, ...]:
    throughput = size / MIB / figures["seconds"]
    return (
        figures["mode"],
        _size_label(size),
        f"{figures['baseline_mib']:.1f} MiB",
        f"{figures['peak_mib']:.1f} MiB",
        f"{figures['growth_mib']:.1f} MiB",
        f"{figures['first_half_growth_mib']:.1f} / {figures['second_half_growth_mib']:.1f} MiB",
        f"{figures['seconds']:.1f} s",
        f"{throughput:.0f} MiB/s",
        check,
    )


def run(*, video_bytes: int = DEFAULT_VIDEO_BYTES, with_naive: bool = True) -> BenchmarkResult:
    result = BenchmarkResult(NAME)
    size = _size_label(video_bytes)
    result.detail_headers = (
        "Copy",
        "video",
        "RSS before",
        "peak RSS",
        "growth",
        "growth 1st / 2nd half",
        "copy time",
        "throughput",
        "sha256 check",
    )
    with servers.stop_children_on_sigterm(), servers.moto_server() as moto, servers.emulator(API_KEY) as emulator:
        streamed = _run_child("streamed", moto, emulator, video_bytes)
        expected = servers.http_json("GET", f"{emulator.url}/_emulator/videos/{streamed['provider_video_id']}")
        recorded_ok = streamed["sha256"] == expected["content_sha256"] and streamed["bytes"] == video_bytes
        stored_sha, stored_bytes = _s3_object_sha256(moto.url, streamed["bucket"], streamed["key"])
        object_ok = stored_sha == expected["content_sha256"] and stored_bytes == video_bytes
        if not recorded_ok:
            result.failures.append(
                f"the job records sha256 {streamed['sha256']} ({streamed['bytes']} B); the emulator served "
                f"{expected['content_sha256']} ({video_bytes} B)"
            )
        if not object_ok:
            result.failures.append(f"S3 holds sha256 {stored_sha} ({stored_bytes} B) under {streamed['key']}")
        check = "job record and S3 object match" if recorded_ok and object_ok else "MISMATCH"
        result.detail_rows.append(_detail(streamed, video_bytes, check))
        naive = None
        if with_naive:
            servers.http_json("POST", f"{moto.url}/moto-api/reset")  # drop the first copy from moto's memory
            naive = _run_child("naive", moto, emulator, video_bytes)
            naive_expected = servers.http_json("GET", f"{emulator.url}/_emulator/videos/{naive['provider_video_id']}")
            naive_ok = naive["sha256"] == naive_expected["content_sha256"]
            if not naive_ok:
                result.failures.append(f"the naive copy read sha256 {naive['sha256']}, not the emulator's")
            result.detail_rows.append(_detail(naive, video_bytes, "body matches" if naive_ok else "MISMATCH"))

    result.rows.append(
        Row(
            NAME,
            "VideoStorer.store",
            f"peak RSS growth while storing a {size} video",
            f"{streamed['growth_mib']:.1f} MiB",
            f"≤ {GROWTH_TARGET_MIB:.0f} MiB",
            verdict_at_most(streamed["growth_mib"], GROWTH_TARGET_MIB, "MiB"),
        )
    )
    result.rows.append(
        Row(
            NAME,
            "VideoStorer.store",
            f"process peak RSS (StoreVideoFunction has {STORE_FUNCTION_MEMORY_MB} MB)",
            f"{streamed['peak_mib']:.0f} MiB",
        )
    )
    result.rows.append(
        Row(
            NAME,
            "VideoStorer.store",
            "throughput, emulator → S3 (moto)",
            f"{video_bytes / MIB / streamed['seconds']:.0f} MiB/s ({streamed['seconds']:.1f} s)",
        )
    )
    result.rows.append(
        Row(
            NAME,
            "VideoStorer.store",
            "stored sha256 (job record and S3 object) = emulator's content_sha256",
            "match" if recorded_ok and object_ok else "MISMATCH",
            "match",
            MET if recorded_ok and object_ok else "MISSED",
        )
    )
    if naive is not None:
        result.rows.append(
            Row(
                NAME,
                "download_content + put_object",
                f"peak RSS growth while copying a {size} video (comparison)",
                f"{naive['growth_mib']:.1f} MiB",
            )
        )
        result.rows.append(
            Row(
                NAME,
                "download_content + put_object",
                "throughput, emulator → S3 (moto)",
                f"{video_bytes / MIB / naive['seconds']:.0f} MiB/s ({naive['seconds']:.1f} s)",
            )
        )
    result.notes.append(f"RSS: {streamed['method']}; growth = peak during the copy minus RSS just before it.")
    return result
