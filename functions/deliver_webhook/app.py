"""The webhook delivery worker, fed by SQS: one signed attempt per message, then the next one queued."""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from sorajobs.models.webhooks import WebhookDeliveryMessage
from sorajobs.observability import logger, metrics, tracer
from sorajobs.wiring import process_wiring

# Report every failed record (even when all fail) so the queue retries exactly those.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def deliver_record(record: SQSRecord) -> str:
    message = WebhookDeliveryMessage.model_validate_json(record.body)
    return process_wiring().deliverer.deliver(message).value


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=deliver_record, processor=processor, context=context)
