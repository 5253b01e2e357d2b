"""What a deployment of template.yaml costs on AWS, at rest and per 1,000 jobs: `make costs` (python -m ops.costs).

Every quantity that the template decides is read from it: each function's memory, architecture and timeout, the
sweep's schedule and mode, the table's billing mode and point-in-time recovery, the number of secrets and of
queues with a Lambda event source, tracing, and the log and video retention. What the template cannot say (how
big a video is, how often a client asks for a job's status) is a named assumption below. Prices are AWS's
published list prices in us-east-1 on the date given, with no free tier and no savings plan. docs/costs.md holds
the table this prints; tests/unit/test_costs.py checks that it still matches.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass
from typing import Any

from local.template import load_template
from sorajobs.catalog import PROVIDER_NAMES
from sorajobs.config import Settings

PRICES_AS_OF = "2026-12-03"
REGION = "us-east-1"
HOURS_PER_MONTH = 730
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
GB = 1024**3


@dataclass(frozen=True)
class Price:
    usd: float
    per: str
    source: str


LAMBDA = "https://aws.amazon.com/lambda/pricing/"
PRICES = {
    "lambda_gb_second_arm64": Price(0.0000133334, "GB-second (Arm, first 7.5 billion GB-s a month)", LAMBDA),
    "lambda_gb_second_x86_64": Price(0.0000166667, "GB-second (x86, first 6 billion GB-s a month)", LAMBDA),
    "lambda_request": Price(0.20 / 1e6, "request", LAMBDA),
    "http_api_request": Price(
        1.00 / 1e6, "HTTP API request (first 300 million a month)", "https://aws.amazon.com/api-gateway/pricing/"
    ),
    "dynamodb_write_unit": Price(
        0.625 / 1e6, "on-demand write request unit", "https://aws.amazon.com/dynamodb/pricing/on-demand/"
    ),
    "dynamodb_read_unit": Price(
        0.125 / 1e6, "on-demand read request unit", "https://aws.amazon.com/dynamodb/pricing/on-demand/"
    ),
    "dynamodb_storage": Price(0.25, "GB-month of table storage", "https://aws.amazon.com/dynamodb/pricing/on-demand/"),
    "dynamodb_pitr": Price(0.20, "GB-month of continuous backup", "https://aws.amazon.com/dynamodb/pricing/on-demand/"),
    "s3_storage": Price(0.023, "GB-month (S3 Standard, first 50 TB)", "https://aws.amazon.com/s3/pricing/"),
    "s3_put": Price(0.005 / 1000, "PUT, COPY, POST or LIST request", "https://aws.amazon.com/s3/pricing/"),
    "s3_get": Price(0.0004 / 1000, "GET request", "https://aws.amazon.com/s3/pricing/"),
    "s3_transfer_out": Price(
        0.09, "GB out to the internet (first 10 TB a month)", "https://aws.amazon.com/s3/pricing/"
    ),
    "sqs_request": Price(0.40 / 1e6, "standard queue request (64 KB chunk)", "https://aws.amazon.com/sqs/pricing/"),
    "secret_month": Price(0.40, "secret-month", "https://aws.amazon.com/secrets-manager/pricing/"),
    "logs_ingested": Price(0.50, "GB ingested (standard log class)", "https://aws.amazon.com/cloudwatch/pricing/"),
    "logs_stored": Price(0.03, "GB-month archived", "https://aws.amazon.com/cloudwatch/pricing/"),
    "custom_metric": Price(0.30, "custom metric-month (first 10,000)", "https://aws.amazon.com/cloudwatch/pricing/"),
    "alarm_month": Price(0.10, "standard-resolution alarm metric-month", "https://aws.amazon.com/cloudwatch/pricing/"),
    "xray_trace": Price(5.00 / 1e6, "trace recorded", "https://aws.amazon.com/xray/pricing/"),
    "scheduler_invocation": Price(
        1.00 / 1e6, "EventBridge Scheduler invocation", "https://aws.amazon.com/eventbridge/pricing/"
    ),
}

# --- assumptions: what the template cannot say ------------------------------------------------------------------
# A typical job: one attempt, completed, an 8 s 720p clip, followed by a client that waits for it.
VIDEO_MB = 10.0  # the mp4 (a few MB for 4-8 s at 720p; rounded up)
THUMBNAIL_MB = 0.05
MULTIPART_PART_MB = 8  # sorajobs.dal.storage: 8 MiB parts
# HTTP API requests: the submit, sora-status every ~5 s while it renders (the client's wait), one GET, the download.
HTTP_REQUESTS = {"SubmitFunction": 1, "SoraStatusFunction": 20, "ReadApiFunction": 2}
# Seconds each invocation runs (provider calls dominate; the store streams the video through the function).
INVOCATION_SECONDS = {
    "SubmitFunction": 1.5,
    "SoraStatusFunction": 0.3,
    "ReadApiFunction": 0.1,
    "StoreVideoFunction": 8.0,
    "WebhookEventsFunction": 0.1,
}
# Invocations besides the HTTP ones: the store step once, the change stream once per event (queued, in_progress,
# two progress events, completed). No WebhookUrl and no job webhook_url: deliveries add DeliverWebhookFunction.
OTHER_INVOCATIONS = {"StoreVideoFunction": 1, "WebhookEventsFunction": 5}
# The sweep polls a job about 10 times (adaptive intervals); those polls run inside a continuous sweep's minute.
SWEEP_POLLS_PER_JOB = 10
JOB_ITEM_KB = 3  # the job item (prompt, history, stamps), so each job write is 3 write units
# Job writes: create, admit, creating, submitted and completed are transactions with the two counter items
# (transactional writes cost double); polls, the store request and the stream's outbox are plain writes.
JOB_TRANSACTIONS = 5
COUNTER_ITEMS_PER_TRANSACTION = 2
PLAIN_JOB_WRITES = SWEEP_POLLS_PER_JOB + 2
RATE_BUDGET_WRITES = 1 + SWEEP_POLLS_PER_JOB + HTTP_REQUESTS["SoraStatusFunction"] // 2  # one per provider call
READS_PER_JOB = 2 * HTTP_REQUESTS["SoraStatusFunction"] + 2 * SWEEP_POLLS_PER_JOB + 10  # gets, due queries, counters
LOG_BYTES_PER_INVOCATION = 1_100  # a JSON log line or two and an EMF metrics line (LogLevel INFO)
ACCESS_LOG_BYTES_PER_REQUEST = 450
METRICS_WHILE_ACTIVE = 12  # JobsSubmitted, ProviderPolls, VideosStored, DetectionDelay, Sweep_polled, ...
# At rest: each queue with a Lambda event source is long-polled by five pollers, each ReceiveMessage waiting 20 s.
SQS_POLLERS, SQS_LONG_POLL_SECONDS = 5, 20
# At rest the sweep queries each provider's two due shards (submit and poll) per pass; an empty query is 0.5 RRU.
DUE_SHARDS_PER_PROVIDER = 2
EMPTY_QUERY_READ_UNITS = 0.5
ONE_SHOT_SWEEP_SECONDS = 0.5
ONE_SHOT_POLL_SECONDS = 0.3


@dataclass(frozen=True)
class Line:
    service: str
    at_rest: float  # US dollars a month with no job
    per_thousand_jobs: float  # US dollars
    what: str


def _count(template: dict[str, Any], resource_type: str) -> int:
    return sum(1 for resource in template["Resources"].values() if resource.get("Type") == resource_type)


def _parameter_default(template: dict[str, Any], name: str) -> Any:
    return template["Parameters"][name]["Default"]


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    defaults = template["Globals"]["Function"]
    functions = {}
    for name, definition in template["Resources"].items():
        if definition["Type"] == "AWS::Serverless::Function":
            properties = definition["Properties"]
            functions[name] = {
                "memory_gb": properties.get("MemorySize", defaults["MemorySize"]) / 1024,
                "timeout": properties.get("Timeout", defaults["Timeout"]),
                "architecture": properties.get("Architectures", defaults["Architectures"])[0],
                "events": properties.get("Events", {}),
            }
    return functions


def _schedule_per_month(functions: dict[str, dict[str, Any]]) -> tuple[str, float]:
    """The scheduled function and how often a month its schedule fires (rate(N minute[s]|hour[s]))."""
    for name, function in functions.items():
        for event in function["events"].values():
            if event["Type"] in ("ScheduleV2", "Schedule"):
                match = re.fullmatch(r"rate\((\d+) (minute|hour)s?\)", event["Properties"]["ScheduleExpression"])
                if match is None:
                    raise ValueError(f"cannot read the schedule of {name}")
                minutes = int(match[1]) * (60 if match[2] == "hour" else 1)
                return name, HOURS_PER_MONTH * 60 / minutes
    raise ValueError("template.yaml schedules no function")


def _lambda_usd(function: dict[str, Any], invocations: float, seconds: float) -> float:
    gb_second = PRICES[f"lambda_gb_second_{function['architecture']}"].usd
    memory_gb = float(function["memory_gb"])
    return invocations * (PRICES["lambda_request"].usd + memory_gb * seconds * gb_second)


def cost_lines(template: dict[str, Any] | None = None) -> list[Line]:
    template = template or load_template()
    functions = _functions(template)
    resources = template["Resources"].values()
    sweep_name, sweeps = _schedule_per_month(functions)
    sweep = functions[sweep_name]
    settings = Settings.model_fields
    continuous = _parameter_default(template, "SweepMode") == "continuous"
    sweep_seconds = (
        min(settings["sweep_continuous_seconds"].default, sweep["timeout"]) if continuous else ONE_SHOT_SWEEP_SECONDS
    )
    passes = math.floor(sweep_seconds / settings["sweep_pass_interval_seconds"].default) if continuous else 1
    jobs = 1000

    # Lambda
    lambda_rest = _lambda_usd(sweep, sweeps, sweep_seconds)
    invocations = {**HTTP_REQUESTS, **OTHER_INVOCATIONS}
    lambda_jobs = sum(
        _lambda_usd(functions[name], jobs * count, INVOCATION_SECONDS[name]) for name, count in invocations.items()
    )
    if not continuous:  # a continuous sweep polls within the minute it runs anyway; a one-shot one runs longer
        lambda_jobs += _lambda_usd(sweep, 0, 0) + jobs * SWEEP_POLLS_PER_JOB * sweep["memory_gb"] * (
            ONE_SHOT_POLL_SECONDS * PRICES[f"lambda_gb_second_{sweep['architecture']}"].usd
        )
    http_requests = jobs * sum(HTTP_REQUESTS.values())

    # DynamoDB
    table = next(r["Properties"] for r in resources if r["Type"] == "AWS::DynamoDB::Table")
    if table.get("BillingMode") != "PAY_PER_REQUEST":
        raise ValueError("the cost table models an on-demand (PAY_PER_REQUEST) table")
    pitr = table.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled", False)
    rest_reads = sweeps * (passes * len(PROVIDER_NAMES) * DUE_SHARDS_PER_PROVIDER * EMPTY_QUERY_READ_UNITS + 1)
    write_units = (
        JOB_ITEM_KB * (JOB_TRANSACTIONS * 2 * (1 + COUNTER_ITEMS_PER_TRANSACTION) + PLAIN_JOB_WRITES)
        + RATE_BUDGET_WRITES
    )
    table_gb_month = jobs * JOB_ITEM_KB * 1024 / GB
    dynamodb_jobs = jobs * (
        write_units * PRICES["dynamodb_write_unit"].usd + READS_PER_JOB * PRICES["dynamodb_read_unit"].usd
    ) + table_gb_month * (PRICES["dynamodb_storage"].usd + (PRICES["dynamodb_pitr"].usd if pitr else 0))

    # S3: the multipart upload and the thumbnail, the download, the storage while VideoRetentionDays keep it
    retention_months = int(_parameter_default(template, "VideoRetentionDays")) / DAYS_PER_MONTH
    stored_gb = (VIDEO_MB + THUMBNAIL_MB) / 1024
    puts = 2 + math.ceil(VIDEO_MB / MULTIPART_PART_MB) + 1
    s3_jobs = jobs * (
        puts * PRICES["s3_put"].usd
        + PRICES["s3_get"].usd
        + stored_gb * retention_months * PRICES["s3_storage"].usd
        + VIDEO_MB / 1024 * PRICES["s3_transfer_out"].usd
    )

    # SQS: the event sources' long polls at rest; a store request is sent, received and deleted
    polled_queues = sum(
        1 for function in functions.values() for event in function["events"].values() if event["Type"] == "SQS"
    )
    sqs_rest = polled_queues * SQS_POLLERS * (60 / SQS_LONG_POLL_SECONDS) * HOURS_PER_MONTH * 60
    secrets = sum(1 for r in resources if r["Type"] == "AWS::SecretsManager::Secret")

    # CloudWatch Logs: ingestion, and storage of what LogRetentionDays keeps
    kept_months = min(int(_parameter_default(template, "LogRetentionDays")) / DAYS_PER_MONTH, 1.0)
    log_usd_per_gb = PRICES["logs_ingested"].usd + kept_months * PRICES["logs_stored"].usd
    rest_log_gb = sweeps * LOG_BYTES_PER_INVOCATION / GB
    job_log_gb = (
        jobs
        * (
            sum(invocations.values()) * LOG_BYTES_PER_INVOCATION
            + sum(HTTP_REQUESTS.values()) * ACCESS_LOG_BYTES_PER_REQUEST
        )
        / GB
    )
    traced = template["Globals"]["Function"].get("Tracing") == "Active"

    return [
        Line(
            "Lambda",
            lambda_rest,
            lambda_jobs,
            f"the sweep {sweeps:,.0f} times a month, {sweep_seconds:g} s each at {sweep['memory_gb'] * 1024:.0f} MB "
            f"({'continuous' if continuous else 'one-shot'}); per job {sum(invocations.values())} invocations",
        ),
        Line(
            "API Gateway (HTTP API)",
            0.0,
            http_requests * PRICES["http_api_request"].usd,
            f"{sum(HTTP_REQUESTS.values())} requests a job (submit, status polls, get, download)",
        ),
        Line(
            "DynamoDB (on-demand)",
            rest_reads * PRICES["dynamodb_read_unit"].usd,
            dynamodb_jobs,
            f"at rest {passes} passes a minute over {len(PROVIDER_NAMES) * DUE_SHARDS_PER_PROVIDER} due shards; "
            f"per job {write_units} write and {READS_PER_JOB} read units, its item{' with PITR' if pitr else ''}",
        ),
        Line(
            "S3",
            0.0,
            s3_jobs,
            f"{VIDEO_MB:g} MB a video kept {retention_months:.1f} months (VideoRetentionDays), downloaded once",
        ),
        Line(
            "SQS",
            sqs_rest * PRICES["sqs_request"].usd,
            jobs * 3 * PRICES["sqs_request"].usd,
            f"{polled_queues} queues long-polled by their event sources; a store request a job",
        ),
        Line(
            "Secrets Manager",
            secrets * PRICES["secret_month"].usd,
            0.0,
            f"{secrets} secrets; reads cached 5 min per function instance",
        ),
        Line(
            "CloudWatch Logs",
            rest_log_gb * log_usd_per_gb,
            job_log_gb * log_usd_per_gb,
            f"function and access logs, kept {_parameter_default(template, 'LogRetentionDays')} days",
        ),
        Line(
            "CloudWatch metrics",
            PRICES["custom_metric"].usd,
            0.0,
            f"EMF metrics, a flat price a month each: PendingJobs always; about {METRICS_WHILE_ACTIVE - 1} more "
            f"(${(METRICS_WHILE_ACTIVE - 1) * PRICES['custom_metric'].usd:.2f}) in any month with jobs, however many",
        ),
        Line(
            "X-Ray",
            sweeps * PRICES["xray_trace"].usd if traced else 0.0,
            jobs * sum(invocations.values()) * PRICES["xray_trace"].usd if traced else 0.0,
            "one trace per invocation (Tracing: Active)",
        ),
        Line("EventBridge Scheduler", sweeps * PRICES["scheduler_invocation"].usd, 0.0, "the sweep's schedule"),
        Line(
            "CloudWatch alarms",
            _count(template, "AWS::CloudWatch::Alarm") * PRICES["alarm_month"].usd,
            0.0,
            "each alarm the template defines (its SNS topic's email notifications are free)",
        ),
    ]


def _usd(value: float) -> str:
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else "< $0.01"


def _price(usd: float) -> str:
    return f"{usd:.10f}".rstrip("0").rstrip(".")


def render_table(lines: list[Line] | None = None) -> str:
    lines = lines or cost_lines()
    rows = [
        f"Prices: AWS's published list prices in {REGION} on {PRICES_AS_OF}, without the free tier; "
        "quantities from template.yaml's defaults (`make costs` recomputes this table).",
        "",
        "| service | at rest, a month | per 1,000 jobs | what it counts |",
        "|---|---:|---:|---|",
    ]
    rows += [
        f"| {line.service} | {_usd(line.at_rest)} | {_usd(line.per_thousand_jobs)} | {line.what} |" for line in lines
    ]
    rows.append(
        f"| **total** | **{_usd(sum(line.at_rest for line in lines))}** | "
        f"**{_usd(sum(line.per_thousand_jobs for line in lines))}** | |"
    )
    rows += ["", "| price | US dollars | per | source |", "|---|---:|---|---|"]
    rows += [f"| {name} | {_price(price.usd)} | {price.per} | {price.source} |" for name, price in PRICES.items()]
    return "\n".join(rows) + "\n"


def summary(lines: list[Line] | None = None) -> str:
    """The sentence the README's Deployment section carries."""
    lines = lines or cost_lines()
    at_rest = sum(line.at_rest for line in lines)
    per_thousand = sum(line.per_thousand_jobs for line in lines)
    return (
        f"about {_usd(at_rest)} a month at rest and {_usd(per_thousand)} per 1,000 jobs "
        f"({REGION}, prices of {PRICES_AS_OF})"
    )


def main() -> int:
    print(render_table())
    print(f"In short: {summary()}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
