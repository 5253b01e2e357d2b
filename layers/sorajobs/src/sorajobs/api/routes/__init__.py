"""One router per function; the OpenAPI document includes them all."""
