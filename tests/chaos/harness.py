"""The chaos run: N jobs through the real handlers, against moto and the three providers' emulators (a third of
the jobs each), while the providers misbehave, three sweeps race, clients poll and reset, provider webhooks arrive
twice (and forged or stale copies of some of them once) and invocations are killed at step boundaries. Time is
virtual: the backend's and the providers' clocks move together, tick by tick, so a run of an hour of job time
takes seconds of real time.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout, suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import boto3
from aws_lambda_powertools.shared.constants import METRICS_DISABLED_ENV
from moto import mock_aws
from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID as ACCOUNT_ID

from local.emulator import EmulatorConfig, EmulatorServer
from local.emulator import ManualClock as EmulatorClock
from local.resources import create_stack_resources, resource
from sorajobs.catalog import PROVIDER_NAMES, ProviderName
from sorajobs.dal.job_items import JOB_KEY_PREFIX, job_from_item
from sorajobs.logic.lost_creates import LOST_CREATE_ERROR, LOST_CREATE_WEBHOOK_WAIT
from sorajobs.logic.timeouts import timeout_error
from sorajobs.models.job import Job, JobStatus
from tests.chaos import providers as chaos_providers
from tests.chaos.crash import CrashPoint, InvocationKilled
from tests.chaos.moto_queries import indexed_queries
from tests.chaos.moto_transactions import cheap_transaction_rollback
from tests.chaos.turns import TurnScheduler
from tests.conftest import (
    API_KEY,
    START,
    LambdaContext,
    World,
    fal_webhook_event,
    http_event,
    install_wiring,
    load_handler,
    sqs_event,
)
from tests.provider_emulators import Delivery, WebhookInbox

# The store function's batch size in template.yaml: each killed invocation costs that many messages a receive.
STORE_BATCH_SIZE = int(
    resource("StoreVideoFunction")["Properties"]["Events"]["StoreVideoMessages"]["Properties"]["BatchSize"]
)
# SQS's longest visibility timeout: moto counts it in real seconds, and a message must never come back in the
# middle of a drain because the machine was slow (its receipt handle would no longer be valid).
IN_FLIGHT_SECONDS = 12 * 3600
# Every this many ticks the collector also looks at the oldest generation (see _garbage_collected_between_ticks).
FULL_COLLECTION_TICKS = 20
RANK = {
    JobStatus.PENDING: 0,
    JobStatus.QUEUED: 1,
    JobStatus.IN_PROGRESS: 2,
    JobStatus.COMPLETED: 3,
    JobStatus.FAILED: 3,
    JobStatus.RESET: 3,
}


# A webhook no delivery of which was answered 2xx comes again next tick, as the providers retry, this many times.
WEBHOOK_TRIES = 10
# Ticks after which a delivery's signature is stale (over 300 s old) when replayed.
STALE_AFTER_TICKS = 35


@dataclass(frozen=True)
class ChaosProfile:
    """The fault profile of the issue, and the run's size. Rates are of all calls of that kind, at every provider."""

    jobs: int = 60
    owners: int = 12
    seed: int = 20261121
    rate_limited: float = 0.10  # 429 with retry-after
    server_errors: float = 0.05  # 500
    timeouts: float = 0.02  # the answer never arrives in time (the call still happens)
    download_resets: float = 0.02  # the connection is cut mid-body
    generation_failures: float = 0.05
    stuck_generations: float = 0.02
    crash: dict[CrashPoint, float] = field(
        default_factory=lambda: {"after_provider_create": 0.05, "after_upload_parts": 0.05, "after_status_write": 0.05}
    )
    sweeps_in_parallel: int = 3
    tick_seconds: float = 10.0
    submit_ticks: int = 30  # the jobs arrive spread over this many ticks
    status_calls_per_tick: int = 6
    resets: float = 0.03  # share of jobs a client resets once (half of them with resubmit)
    # Shares of the providers' webhooks that are also sent forged (the body changed under its signature), sent
    # again once their signature is stale (both must be refused), and, for fal's, sent again with a query naming
    # another fal job (signed, but not for that job: it must change nothing).
    forged_webhooks: float = 0.10
    stale_webhooks: float = 0.10
    misdirected_webhooks: float = 0.10
    # Real seconds the provider clients wait: a safety net only. A timeout fault's answer is marked by the
    # emulator and the client's transport takes it as lost at once (tests/late_answers.py), so whether a call
    # times out is the fault's choice alone, never the machine's load, and no call waits in real time.
    provider_timeout_seconds: float = 60.0
    stuck_after_seconds: int = 300
    # Longer than fal's 30-minute wait for the webhook of a create whose answer was lost, so that wait ends the
    # way it does in production (`create_outcome_unknown`), not at the maximum age.
    max_job_age_seconds: int = 2400

    @property
    def fault_rates(self) -> chaos_providers.FaultRates:
        return chaos_providers.FaultRates(
            rate_limited=self.rate_limited,
            server_errors=self.server_errors,
            timeouts=self.timeouts,
            download_resets=self.download_resets,
        )


@dataclass
class ChaosResult:
    """The result table's figures."""

    jobs: int = 0  # N: the submissions the clients make
    submitted: int = 0
    completed_verified: int = 0
    completed_unverified: int = 0
    failed_correct: int = 0
    failed_wrong_code: int = 0
    reset_by_client: int = 0
    lost: int = 0
    stuck_past_timeout: int = 0
    duplicate_paid_creates: int = 0
    status_regressions: int = 0
    orphaned_multipart_uploads: int = 0
    client_5xx: int = 0
    forged_webhooks_acted_on: int = 0
    # What happened meanwhile.
    jobs_by_provider: Counter[str] = field(default_factory=Counter)
    outcomes_by_provider: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    provider_requests: Counter[str] = field(default_factory=Counter)
    provider_faults: Counter[str] = field(default_factory=Counter)
    kills: Counter[str] = field(default_factory=Counter)
    sweeps: int = 0
    status_calls: int = 0
    resets: int = 0
    provider_webhooks: Counter[str] = field(default_factory=Counter)
    provider_webhooks_redelivered: int = 0
    forged_webhooks: Counter[str] = field(default_factory=Counter)
    lost_creates_failed: Counter[str] = field(default_factory=Counter)
    store_requests_dead_lettered: int = 0
    ticks: int = 0
    virtual_seconds: float = 0.0
    failed_codes: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def rows(self) -> list[tuple[str, str, str]]:
        """(line, value, target) for the table."""
        return [
            ("submitted", str(self.submitted), f"N ({self.jobs})"),
            ("completed, S3 bytes and SHA-256 verified", str(self.completed_verified), "every completing job"),
            ("completed, not verified", str(self.completed_unverified), "0"),
            ("failed with the correct code", str(self.failed_correct), "every failing or stuck job, and lost creates"),
            ("failed with a wrong code", str(self.failed_wrong_code), "0"),
            ("reset by their client", str(self.reset_by_client), "—"),
            ("lost", str(self.lost), "0"),
            ("stuck past their timeout", str(self.stuck_past_timeout), "0"),
            ("duplicate paid creates", str(self.duplicate_paid_creates), "0"),
            ("status regressions", str(self.status_regressions), "0"),
            ("orphaned multipart uploads", str(self.orphaned_multipart_uploads), "0"),
            ("5xx returned to clients", str(self.client_5xx), "0"),
            ("forged, stale or misdirected webhooks acted on", str(self.forged_webhooks_acted_on), "0"),
        ]

    @property
    def targets_met(self) -> bool:
        return (
            self.lost
            == self.stuck_past_timeout
            == self.duplicate_paid_creates
            == self.status_regressions
            == self.orphaned_multipart_uploads
            == self.client_5xx
            == self.completed_unverified
            == self.failed_wrong_code
            == self.forged_webhooks_acted_on
            == 0
            and self.submitted == self.jobs
            and self.completed_verified + self.failed_correct + self.reset_by_client == self.submitted
        )

    def table(self) -> str:
        lines = ["| Line | Result | Target |", "|---|---:|---|"]
        lines += [f"| {name} | {value} | {target} |" for name, value, target in self.rows()]
        return "\n".join(lines)

    def activity(self) -> str:
        def listed(counts: Counter[str]) -> str:
            return ", ".join(f"{name} {count}" for name, count in sorted(counts.items()) if count) or "none"

        def by_provider(counts: Counter[str]) -> str:
            return ", ".join(f"{name} {counts[name]}" for name in PROVIDER_NAMES)

        jobs = "; ".join(
            f"{name} {self.jobs_by_provider[name]} ({listed(self.outcomes_by_provider[name])})"
            for name in PROVIDER_NAMES
        )
        webhooks = sum(self.provider_webhooks.values())
        return "\n".join(
            [
                f"- Jobs per provider: {jobs}.",
                f"- Provider requests: {sum(self.provider_requests.values())} ({by_provider(self.provider_requests)}); "
                f"faults injected: {listed(self.provider_faults)}.",
                f"- Invocations killed: {listed(self.kills)}.",
                f"- Sweeps: {self.sweeps} ({self.ticks} ticks of virtual time, {self.virtual_seconds:.0f} s in all).",
                f"- Client calls: {self.status_calls} sora-status calls; resets: {self.resets}.",
                f"- Provider webhooks: {webhooks} received (openai {self.provider_webhooks['openai']}, "
                f"fal {self.provider_webhooks['fal']}), each delivered twice ({webhooks} duplicates); "
                f"delivered again after no 2xx answer: {self.provider_webhooks_redelivered}; "
                f"copies sent that must change nothing: {listed(self.forged_webhooks)}.",
                f"- Creates whose answer was lost (fal/runway, failed {LOST_CREATE_ERROR.code}): "
                f"fal {self.lost_creates_failed['fal']}, runway {self.lost_creates_failed['runway']}.",
                f"- Store requests whose receives ran out (moved to the dead-letter queue): "
                f"{self.store_requests_dead_lettered}.",
                f"- Failure codes: {listed(self.failed_codes)}.",
            ]
        )


@dataclass
class _RelayedWebhook:
    """A provider's webhook as it reached the relay, handed to the provider-webhook function in the ticks after."""

    provider: ProviderName
    delivery: Delivery
    tries: int = 0
    accepted: bool = False  # a delivery of it was answered 2xx

    def event(self) -> dict[str, Any]:
        if self.provider == "fal":
            return fal_webhook_event(self.delivery)
        headers: dict[str, str | None] = dict(self.delivery.headers)
        return http_event("provider_webhook", raw_body=self.delivery.body.decode(), owner=None, headers=headers)

    def forged(self) -> _RelayedWebhook:
        """The same delivery with its outcome turned round in the body, under the original signature."""
        body = json.loads(self.delivery.body)
        if self.provider == "fal":
            body["status"] = "ERROR" if body["status"] == "OK" else "OK"
        else:
            body["type"] = "video.failed" if body["type"] == "video.completed" else "video.completed"
        return _RelayedWebhook(self.provider, replace(self.delivery, body=json.dumps(body).encode()))

    def misdirected(self, job_id: str, attempt: int) -> _RelayedWebhook:
        """The same signed delivery with a query naming another job (fal signs the body, not our query)."""
        query = {**self.delivery.query, "job": job_id, "attempt": str(attempt)}
        return _RelayedWebhook(self.provider, replace(self.delivery, query=query))


@dataclass
class _Tracked:
    """What the run knows about one accepted job."""

    job_id: str
    owner: str
    provider: ProviderName
    expected: str  # "completed", "failed" or "stuck"
    last_seen: tuple[int, int, JobStatus] | None = None  # (attempt, rank, status)
    reset_without_resubmit: bool = False


class ChaosRun:
    def __init__(self, profile: ChaosProfile) -> None:
        self.profile = profile
        self.result = ChaosResult(jobs=profile.jobs)
        self._random = random.Random(profile.seed)
        # Every tick's concurrent invocations interleave in the order this seed draws (tests/chaos/turns.py).
        self._turns = TurnScheduler(profile.seed)
        self._lock = threading.Lock()
        # Which webhooks are forged or replayed stale: a source of its own, so the clients' draws stay as they were.
        self._forger = random.Random(f"forged webhooks {profile.seed}")
        self._tracked: dict[str, _Tracked] = {}
        self._stuck: set[str] = set()
        self._regressed: set[str] = set()
        self._redelivered: list[_RelayedWebhook] = []  # refused by every delivery so far: sent again next tick
        self._relayed_at: dict[int, list[_RelayedWebhook]] = {}  # by tick, for stale replays
        self._world: World
        self._providers: chaos_providers.ChaosProviders
        self._inboxes: dict[ProviderName, WebhookInbox]

    # --- the system ---------------------------------------------------------------------------

    @contextmanager
    def _quiet_process(self) -> Iterator[None]:
        """Handlers share this process's Powertools metric set and logger, where Lambda gives each
        invocation its own process: metric flushes are turned off (two sweeps flushing one set at once
        would break it), the metric lines `single_metric` prints are dropped, and only errors are logged
        (the provider's injected faults make thousands of warnings)."""
        previous_flag = os.environ.get(METRICS_DISABLED_ENV)
        os.environ[METRICS_DISABLED_ENV] = "true"
        logging.disable(logging.WARNING)
        try:
            with open(os.devnull, "w") as devnull, redirect_stdout(devnull):
                yield
        finally:
            logging.disable(logging.NOTSET)
            if previous_flag is None:
                os.environ.pop(METRICS_DISABLED_ENV, None)
            else:
                os.environ[METRICS_DISABLED_ENV] = previous_flag

    @contextmanager
    def _system(self) -> Iterator[World]:
        clock = EmulatorClock(start=START.timestamp())
        config = EmulatorConfig(
            api_key=API_KEY,
            queue_seconds=5.0,
            render_seconds=60.0,
            seed=self.profile.seed,
            id_seed=self.profile.seed,
            webhook_timestamps_from_clock=True,
        )
        with (
            self._quiet_process(),
            mock_aws(),
            cheap_transaction_rollback(),
            indexed_queries(),
            EmulatorServer(config, clock=clock) as emulator,
        ):
            session = boto3.session.Session(region_name="us-east-1")
            resources = create_stack_resources(session, openai_api_key=API_KEY)
            with (
                chaos_providers.fal_and_runway(self.profile.seed, clock) as (fal, runway),
                WebhookInbox() as openai_inbox,
                WebhookInbox() as fal_inbox,
            ):
                self._providers = chaos_providers.ChaosProviders(emulator, fal, runway)
                self._inboxes = {"openai": openai_inbox, "fal": fal_inbox}
                world = World(session, resources, emulator, clock, seed=self.profile.seed, turns=self._turns)
                world.provider_timeout_seconds = self.profile.provider_timeout_seconds
                world.late_answers_lost_at_once = True
                world.crashes.probabilities = dict(self.profile.crash)
                for point in self.profile.crash:
                    world.crashes.kill_next(point)  # every step boundary dies at least once, whatever the size
                world.attach_fal(fal, fal_inbox)
                world.attach_runway(runway)
                world.use_settings(
                    stuck_after_seconds=self.profile.stuck_after_seconds,
                    max_job_age_seconds=self.profile.max_job_age_seconds,
                    sweep_concurrency=4,
                )
                self._providers.arm(self.profile.fault_rates)
                emulator.configure_webhooks(openai_inbox.url, resources.provider_webhook_secret)
                try:
                    yield world
                finally:
                    emulator.configure_webhooks(None, None)
            install_wiring(None)

    # --- invoking handlers --------------------------------------------------------------------

    def call_api(self, function_dir: str, event: dict[str, Any]) -> Any:
        """A client's call: never killed (that would be API Gateway's 5xx); its 5xx answers are counted."""
        with self._world.crashes.spared():
            response = self._world.call(function_dir, event)
        if response.status >= 500:
            with self._lock:
                self.result.client_5xx += 1
                self.result.problems.append(f"{function_dir} answered {response.status}: {response.body}")
        return response

    def _deliver_provider_webhooks(self, webhooks: list[_RelayedWebhook]) -> None:
        for webhook in webhooks:
            if self.call_api("provider_webhook", webhook.event()).status < 300:
                webhook.accepted = True

    def _deliver_forged_webhooks(self, forged: list[tuple[str, _RelayedWebhook]]) -> None:
        """A forged or stale copy must be refused as unsigned (401); a misdirected one acknowledged as naming no
        generation of that job (200, `unknown_video`). Anything else means it was acted on."""
        for kind, webhook in forged:
            response = self.call_api("provider_webhook", webhook.event())
            if kind == "misdirected":
                acted_on = response.status != 200 or response.body.get("outcome") != "unknown_video"
            else:
                acted_on = response.status != 401
            if acted_on:
                with self._lock:
                    self.result.forged_webhooks_acted_on += 1
                    self.result.problems.append(f"a {kind} {webhook.provider} webhook was answered {response.body}")

    def _relay_webhooks(self, tick: int) -> tuple[list[_RelayedWebhook], list[tuple[str, _RelayedWebhook]]]:
        """This tick's webhooks: those the providers sent during the last one (in the order each sent them), and
        those no delivery of which was accepted yet (a provider retries them); and the copies that must change
        nothing: forged, misdirected and stale."""
        fresh = [
            _RelayedWebhook(provider, delivery)
            for provider, inbox in self._inboxes.items()
            for delivery in inbox.take()
        ]
        self.result.provider_webhooks.update(webhook.provider for webhook in fresh)
        self.result.provider_webhooks_redelivered += len(self._redelivered)
        webhooks, self._redelivered = self._redelivered + fresh, []
        forged = [
            ("forged", webhook.forged()) for webhook in fresh if self._forger.random() < self.profile.forged_webhooks
        ]
        for webhook in fresh:
            if webhook.provider == "fal" and self._forger.random() < self.profile.misdirected_webhooks:
                target = self._another_fal_job(webhook)
                if target is not None:
                    attempt = target.last_seen[0] if target.last_seen else 1
                    forged.append(("misdirected", webhook.misdirected(target.job_id, attempt)))
        forged += [
            ("stale", webhook)
            for webhook in self._relayed_at.pop(tick - STALE_AFTER_TICKS, [])
            if self._forger.random() < self.profile.stale_webhooks
        ]
        self._relayed_at[tick] = fresh
        self.result.forged_webhooks.update(kind for kind, _webhook in forged)
        return webhooks, forged

    def _another_fal_job(self, webhook: _RelayedWebhook) -> _Tracked | None:
        """A fal job other than the one the webhook is for, to send it to instead."""
        others = [
            item
            for item in self._tracked.values()
            if item.provider == "fal" and item.job_id != webhook.delivery.query.get("job")
        ]
        return self._forger.choice(others) if others else None

    def _sweep(self) -> None:
        with suppress(InvocationKilled):  # the invocation died; its lease runs out and a later sweep takes over
            self._world.sweep()
        with self._lock:
            self.result.sweeps += 1

    def _drain_store_queue(self) -> None:
        """The SQS event source: batches of the template's size; a killed or failed delivery comes back next
        tick (a killed invocation takes its whole batch back, as Lambda's does)."""
        world = self._world
        queue_url = world.resources.queue_url
        retry = []
        while messages := world.sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=STORE_BATCH_SIZE, VisibilityTimeout=IN_FLIGHT_SECONDS
        ).get("Messages", []):
            try:
                result = load_handler("store_video").lambda_handler(sqs_event("store_video", messages), LambdaContext())
                failed = {item["itemIdentifier"] for item in result["batchItemFailures"]}
            except InvocationKilled:
                failed = {message["MessageId"] for message in messages}
            for message in messages:
                if message["MessageId"] in failed:
                    retry.append(message["ReceiptHandle"])
                else:
                    world.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        for receipt in retry:
            world.sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=0)

    # --- clients ------------------------------------------------------------------------------

    def _submit(self, index: int) -> None:
        p, draw = self.profile, self._random.random()
        provider = chaos_providers.provider_of(index)
        # Jobs 3 to 5 fail and 6 to 8 get stuck, one at each provider: each outcome occurs at any size.
        if draw < p.generation_failures or index // 3 == 1:
            expected = "failed"
        elif draw < p.generation_failures + p.stuck_generations or index // 3 == 2:
            expected = "stuck"
        else:
            expected = "completed"
        marker = {"failed": f" {chaos_providers.FAILS}", "stuck": f" {chaos_providers.STUCK}", "completed": ""}
        owner = f"chaos-owner-{index % p.owners}"
        body = {
            "prompt": f"Chaos job {index}: a lighthouse in a storm{marker[expected]}",
            **chaos_providers.SUBMIT_BODIES[provider],
        }
        response = self.call_api(
            "submit", http_event("submit", body=body, owner=owner, headers={"idempotency-key": None})
        )
        if response.status == 202:
            job_id = response.body["id"]
            self._tracked[job_id] = _Tracked(job_id=job_id, owner=owner, provider=provider, expected=expected)
            self.result.submitted += 1
            self._observe_response(job_id, response.body)
        else:
            self.result.problems.append(f"submit {index} answered {response.status}: {response.body}")

    def _client_activity(self, submissions: range) -> None:
        for index in submissions:
            self._submit(index)
        tracked = list(self._tracked.values())
        if not tracked:
            return
        for item in self._random.sample(tracked, min(len(tracked), self.profile.status_calls_per_tick)):
            response = self.call_api("sora_status", http_event("sora_status", job_id=item.job_id, owner=item.owner))
            self.result.status_calls += 1
            if response.status == 200:
                self._observe_response(item.job_id, response.body)
        reset_chance = self.profile.resets * self.profile.jobs / max(1, self.profile.submit_ticks * 3)
        if self._random.random() < reset_chance:
            item = self._random.choice(tracked)
            resubmit = self._random.random() < 0.5
            event = http_event("reset", job_id=item.job_id, owner=item.owner, body={"resubmit": resubmit})
            response = self.call_api("reset", event)
            self.result.resets += 1
            if response.status == 200:
                item.reset_without_resubmit = not resubmit
                self._observe_response(item.job_id, response.body)

    # --- watching -----------------------------------------------------------------------------

    def _observe(self, job_id: str, attempt: int, status: JobStatus) -> None:
        item = self._tracked.get(job_id)
        if item is None:
            return
        seen = (attempt, RANK[status], status)
        if item.last_seen is not None:
            last_attempt, last_rank, last_status = item.last_seen
            backwards = attempt < last_attempt or (
                attempt == last_attempt
                and (RANK[status] < last_rank or (last_rank == 3 and status not in (last_status, JobStatus.RESET)))
            )
            if backwards and job_id not in self._regressed:
                self._regressed.add(job_id)
                self.result.problems.append(f"{job_id} went from {item.last_seen} to {seen}")
        item.last_seen = seen

    def _observe_response(self, job_id: str, body: dict[str, Any]) -> None:
        self._observe(job_id, int(body["attempt"]), JobStatus(body["status"]))

    def _stored_jobs(self) -> list[Job]:
        """Every job item, read from moto's table under the handlers' lock. (A Scan through the API cost
        41 % of a run's time, most of it moto serializing the answer.)"""
        world = self._world
        with world.aws.lock:
            table = get_backend("dynamodb")[ACCOUNT_ID][world.session.region_name].get_table(world.resources.table_name)
            items = [
                item.to_json()["Attributes"]
                for key, item in table.items.items()  # the table has a partition key only
                if str(key.value).startswith(JOB_KEY_PREFIX)
            ]
        return [job_from_item(item) for item in items]

    def _watch(self) -> list[Job]:
        """After each tick: no status went backwards, and no job outlived its timeout by a sweep interval (nor a
        fal job the wait for the webhook of a create whose answer was lost)."""
        world = self._world
        a_minute_ago = world.clock.now() - timedelta(seconds=60)
        jobs = self._stored_jobs()
        for job in jobs:
            self._observe(job.id, job.attempt, job.status)
            waited_too_long = (
                job.status is JobStatus.PENDING
                and job.create_started_at is not None
                and job.create_started_at + LOST_CREATE_WEBHOOK_WAIT < a_minute_ago
            )
            late = job.id in self._tracked and (
                timeout_error(job, a_minute_ago, world.settings) is not None or waited_too_long
            )
            if late and job.id not in self._stuck:
                self._stuck.add(job.id)
                self.result.problems.append(f"{job.id} is {job.status} past its timeout")
        return jobs

    # --- the run ------------------------------------------------------------------------------

    def _tick_tasks(
        self, submissions: range, webhooks: list[_RelayedWebhook], forged: list[tuple[str, _RelayedWebhook]]
    ) -> list[tuple[str, Callable[[], None]]]:
        """What runs concurrently in one tick: the sweeps, a client, each provider webhook twice, and the forged
        and stale copies."""
        tasks: list[tuple[str, Callable[[], None]]] = [
            (f"sweep-{number}", self._sweep) for number in range(1, self.profile.sweeps_in_parallel + 1)
        ]
        tasks.append(("client", partial(self._client_activity, submissions)))
        if webhooks:
            tasks.append(("provider-webhooks", partial(self._deliver_provider_webhooks, webhooks)))
            tasks.append(("provider-webhooks-again", partial(self._deliver_provider_webhooks, webhooks)))
        if forged:
            tasks.append(("forged-webhooks", partial(self._deliver_forged_webhooks, forged)))
        return tasks

    def run(self) -> ChaosResult:
        with self._system() as world, _garbage_collected_between_ticks() as collect:
            self._world = world
            p = self.profile
            per_tick = -(-p.jobs // p.submit_ticks)
            limit_ticks = p.submit_ticks + int((p.max_job_age_seconds + 600) / p.tick_seconds)
            next_index = 0
            for tick in range(limit_ticks):
                submissions = range(next_index, min(p.jobs, next_index + per_tick))
                next_index = submissions.stop
                webhooks, forged = self._relay_webhooks(tick)
                self._turns.run(self._tick_tasks(submissions, webhooks, forged))
                for webhook in webhooks:
                    webhook.tries += 1
                self._redelivered = [hook for hook in webhooks if not hook.accepted and hook.tries < WEBHOOK_TRIES]
                self._drain_store_queue()
                world.advance(p.tick_seconds)
                self._providers.flush_webhooks()
                self.result.ticks = tick + 1
                collect(tick)
                jobs = self._watch()
                if next_index >= p.jobs and not any(job.is_unfinished or job.awaiting_storage for job in jobs):
                    break
            self.result.provider_faults = self._providers.fired_faults()
            self._providers.clear_faults()
            self._tally(self._stored_jobs())
        return self.result

    def _tally(self, jobs: list[Job]) -> None:
        world, result, providers = self._world, self.result, self._providers
        by_id = {job.id: job for job in jobs}
        result.virtual_seconds = (world.clock.now() - START).total_seconds()
        result.kills = Counter(world.crashes.kills)
        result.stuck_past_timeout = len(self._stuck)
        result.status_regressions = len(self._regressed)
        result.provider_requests = Counter(providers.requests())
        dead_letters = world.sqs.get_queue_attributes(
            QueueUrl=world.resources.dead_letter_queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        result.store_requests_dead_lettered = int(dead_letters)
        uploads = world.s3.list_multipart_uploads(Bucket=world.resources.bucket_name).get("Uploads", [])
        result.orphaned_multipart_uploads = len(uploads)
        result.problems += [f"unfinished multipart upload of {upload['Key']}" for upload in uploads]
        creates = providers.creates()
        lost_creates: defaultdict[tuple[str, str], list[datetime]] = defaultdict(list)
        for call in world.crashes.creates:
            if call.answer in ("lost", "killed"):
                lost_creates[call.provider, call.prompt].append(call.at)
        for item in self._tracked.values():
            result.jobs_by_provider[item.provider] += 1
            job = by_id.get(item.job_id)
            if job is None or job.is_unfinished:
                result.lost += 1
                result.problems.append(f"{item.job_id} lost: {job.status if job else 'missing'}")
                continue
            result.outcomes_by_provider[item.provider][job.status.value] += 1
            # Every create any provider took for the job's prompt is paid for; the job's attempts account for one each.
            paid = sum(creates[provider, job.prompt] for provider in PROVIDER_NAMES)
            result.duplicate_paid_creates += max(0, paid - job.attempt)
            if paid > job.attempt:
                result.problems.append(f"{job.id} ({job.provider}) paid {paid} creates in {job.attempt} attempts")
            if job.status is JobStatus.RESET:
                result.reset_by_client += 1
            elif job.status is JobStatus.COMPLETED:
                if item.expected == "completed" and self._verified(job):
                    result.completed_verified += 1
                else:
                    result.completed_unverified += 1
                    result.problems.append(f"{job.id} completed but expected {item.expected} or failed verification")
            else:
                code = job.error.code if job.error else "none"
                result.failed_codes[code] += 1
                this_attempt = [at for at in lost_creates[job.provider, job.prompt] if at >= job.attempt_started_at]
                if code == {"failed": chaos_providers.FAIL_CODES[job.provider], "stuck": "timeout"}.get(item.expected):
                    result.failed_correct += 1
                elif code == LOST_CREATE_ERROR.code and this_attempt and self._nothing_adoptable(job):
                    result.failed_correct += 1
                    result.lost_creates_failed[job.provider] += 1
                else:
                    result.failed_wrong_code += 1
                    result.problems.append(f"{job.id} ({job.provider}) failed with {code}, expected {item.expected}")

    def _nothing_adoptable(self, job: Job) -> bool:
        """Whether a job whose create's answer was lost had no way to learn what the create made: Runway cannot be
        asked; fal names the generation in its webhook, so only one that never finished stays unknown."""
        if job.provider == "runway":
            return True
        if job.provider == "fal":
            return not any(made.finished for made in self._providers.fal_requests_of(job.id, job.attempt))
        return False  # the gateway lists its generations: a lost create is found

    def _verified(self, job: Job) -> bool:
        """The S3 object's bytes are the video the job's provider made for the job's prompt, as recorded."""
        world = self._world
        if job.video is None or job.provider_video_id is None:
            return False
        made = self._providers.generation(job.provider, job.provider_video_id)
        if made is None or made.prompt != job.prompt:
            return False
        body = world.s3.get_object(Bucket=world.resources.bucket_name, Key=job.video.key)["Body"].read()
        sha256 = hashlib.sha256(body).hexdigest()
        return sha256 == made.content_sha256 == job.video.sha256 and len(body) == job.video.bytes


@contextmanager
def _garbage_collected_between_ticks() -> Iterator[Callable[[int], None]]:
    """Python's collector runs between ticks only, never during one: a full collection of a run's heap (gigabytes
    at N=1,000) can pause the process for longer than the provider client's timeout, and a call that times out
    by accident would make the run depend on the machine instead of the seed."""
    gc.disable()
    gc.collect()

    def collect(tick: int) -> None:
        gc.collect(2 if tick % FULL_COLLECTION_TICKS == 0 else 1)

    try:
        yield collect
    finally:
        gc.enable()


def report(result: ChaosResult, profile: ChaosProfile) -> str:
    """The printed and recorded form of one run."""
    return "\n".join(
        [
            f"Chaos run: N={profile.jobs}, seed {profile.seed}, {profile.owners} owners.",
            "",
            result.table(),
            "",
            result.activity(),
            "",
            f"Targets met: {'yes' if result.targets_met else 'no'}.",
            *(["", "Problems:", *[f"- {problem}" for problem in result.problems[:50]]] if result.problems else []),
            *(
                []
                if result.targets_met
                else ["", f"Replay this run exactly: make chaos SEEDS={profile.seed} CHAOS_JOBS={profile.jobs}"]
            ),
        ]
    )


def run_seed(jobs: int, seed: int) -> tuple[int, str, bool, float]:
    """One run (a process of its own, for `python -m tests.chaos`): (seed, report, targets met, real seconds)."""
    profile = ChaosProfile(jobs=jobs, seed=seed)
    started = time.monotonic()
    result = ChaosRun(profile).run()
    return seed, report(result, profile), result.targets_met, time.monotonic() - started


def die_with_the_parent(parent: int) -> None:
    """In each worker: exit when `make chaos` does. A run outlives a killed parent otherwise, and two runs'
    worth of orphaned workers (gigabytes each at N=1,000) can make the machine swap."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(2)
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()
