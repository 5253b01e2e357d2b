"""The sweep, started by EventBridge Scheduler every minute: polls due jobs, submits pending ones, fails stuck ones."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from sorajobs.observability import logger, metrics, tracer
from sorajobs.wiring import process_wiring


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    report = process_wiring().sweeper.run(lambda: context.get_remaining_time_in_millis() / 1000)
    return {"outcomes": dict(report.outcomes), "passes": report.passes, "stopped_early": report.stopped_early}
