"""The jobs table's change stream: each job write that produced an event becomes webhook deliveries."""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from sorajobs.observability import logger, metrics, tracer
from sorajobs.wiring import process_wiring

# A failed record is reported by its sequence number; the stream retries from there.
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


def queue_webhook_events(record: DynamoDBRecord) -> int:
    return process_wiring().outbox.handle_record(record.raw_event)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(
        event=event, record_handler=queue_webhook_events, processor=processor, context=context
    )
