"""What `python -m local.stack` prints once the stack is up: its addresses, the tokens and curl examples."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from local.devtoken import DEFAULT_TTL_SECONDS
from local.lambda_runtime import ROOT
from local.stack.local_stack import LOCAL_USER, LocalStack

# `make local` shows the functions' warnings and errors only, so the banner and the tokens stay in view; routine
# INFO lines (a sweep every 2 s, each request) come with --verbose (`make local VERBOSE=1`).
QUIET_LOG_LEVEL = "WARN"


def _curl_examples(url: str) -> str:
    auth = '-H "Authorization: Bearer $TOKEN"'
    json_type = '-H "Content-Type: application/json"'
    submit_body = shlex.quote('{"prompt": "A paper boat drifting down a rainy street", "seconds": "4"}')
    job_id = "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"id\"])'"
    return "\n".join(
        [
            f"  export API={url}",
            "  source .local-stack/env    # TOKEN and ADMIN_TOKEN",
            f'  JOB=$(curl -s -X POST "$API/videos" {auth} {json_type} -d {submit_body} | {job_id})',
            f'  curl -si "$API/videos/$JOB/sora-status" {auth}      # refreshes; see Retry-After',
            f'  curl -s "$API/videos/$JOB" {auth}',
            f'  curl -s "$API/videos?status=completed&limit=10" {auth}',
            f'  curl -sL "$API/videos/$JOB/content" {auth} -o video.mp4   # 302 to a presigned S3 URL',
            f'  curl -s -X POST "$API/videos/$JOB/reset" {auth} {json_type} -d \'{{"resubmit": true}}\'',
            '  curl -s "$API/stats" -H "Authorization: Bearer $ADMIN_TOKEN"',
            '  curl -s "$API/openapi.json"',
        ]
    )


def banner(stack: LocalStack, token: str, admin_token: str, env_file: Path) -> str:
    assert stack.resources is not None
    if stack.emulator is not None:
        config = stack.emulator.config
        provider = (
            f"OpenAI Videos emulator {stack.emulator.base_url} "
            f"(queued {config.queue_seconds:g} s, renders {config.render_seconds:g} s)"
        )
    else:
        provider = f"{stack.provider_base_url} (from OPENAI_BASE_URL; real jobs, real cost)"
    return "\n".join(
        [
            "sora-jobs local stack is up - no cloud, no Docker. Ctrl-C stops it.",
            "",
            f"  HTTP API    {stack.gateway_url}   (routes from template.yaml; dev JWTs, HS256)",
            f"  AWS (moto)  {stack.aws_endpoint_url}   table {stack.resources.table_name}, "
            f"bucket {stack.resources.bucket_name}, queue {stack.resources.queue_url.rsplit('/', 1)[-1]}",
            f"  Provider    {provider}; key in secret {stack.resources.secret_name}",
            *_native_provider_lines(stack),
            f"  Background  sweep every {stack.schedule_interval_seconds:g} s; store_video and deliver_webhook fed "
            "from their queues; the table's stream feeds webhook_events",
            "  Webhooks    the emulator posts signed video.completed / video.failed to /provider-webhooks/openai; "
            "jobs may name a webhook_url on http://127.0.0.1",
            f"  Logs        {_log_line(stack)}",
            f"  Docs        {stack.gateway_url}/docs (Swagger UI; Authorize with TOKEN)",
            f"  Console     {console_address(stack.gateway_url, token)}",
            f"              (signed in as {LOCAL_USER}; the token rides in the fragment, which never reaches a server)",
            f"  CORS        {stack.parameters.get('CorsAllowedOrigins') or 'no browser origin (--cors-origins)'}",
            "",
            f"Tokens (valid {DEFAULT_TTL_SECONDS // 3600} h; also in {env_file.relative_to(ROOT)}):",
            f"  export TOKEN={token}",
            f"  export ADMIN_TOKEN={admin_token}   # group {stack.admin_group}, for /stats of every owner",
            "",
            "Try:",
            _curl_examples(stack.gateway_url),
            "",
        ]
    )


def console_address(api_url: str, token: str) -> str:
    """The web console, signed in with `token`: the page reads it from the fragment, keeps it in memory and drops it
    from the address bar."""
    return f"{api_url}/console#token={token}"


def _log_line(stack: LocalStack) -> str:
    if stack.parameters.get("LogLevel") == QUIET_LOG_LEVEL:
        return "warnings and errors only; `make local VERBOSE=1` (--verbose) shows every function's JSON log lines"
    return f"the functions' JSON log lines at {os.environ.get('POWERTOOLS_LOG_LEVEL', 'INFO')} and above, below this"


def _native_provider_lines(stack: LocalStack) -> list[str]:
    if stack.fal_emulator is None or stack.runway_emulator is None:
        return []
    return [
        f"              fal queue emulator {stack.fal_emulator.base_url} (webhooks to /provider-webhooks/fal)",
        f"              Runway tasks emulator {stack.runway_emulator.base_url}",
        '              jobs choose one: {"provider": "fal"} or "runway"; GET /models lists their models',
    ]
