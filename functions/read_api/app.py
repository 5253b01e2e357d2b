"""Read-only routes: get, list, attempts, content, stats, /openapi.json and the web console. Never imports openai."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from sorajobs.api.http import HttpFunction
from sorajobs.api.routes import attempts, console
from sorajobs.api.routes.read import router
from sorajobs.observability import logger, metrics, tracer
from sorajobs.wiring import process_wiring

http_function = HttpFunction(router, attempts.router, console.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return http_function.handle(event, context, process_wiring())
