"""GET /doctor — for the admin group: each enabled provider's settings, key, and whether it accepts the key."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from sorajobs.api.dependencies import CallerDep, WiringDep
from sorajobs.api.routes.common import BEARER_JWT, error_responses
from sorajobs.models.api import DoctorResponse
from sorajobs.models.errors import AdminOnly

router = APIGatewayHttpRouter()


@router.get(
    "/doctor",
    summary="Check each enabled provider's configuration (admins)",
    description="For each enabled provider: its settings (URLs), whether a key is configured, and whether the "
    "provider accepts the key at the configured URL (one read that makes and costs nothing). 200 either way; "
    "`ok` is false when any check failed, with a message that says what to change.",
    operation_id="runDoctor",
    security=BEARER_JWT,
    responses={200: {"description": "The checks."}, **error_responses(401, 403, 500)},
)
def run_doctor(caller: CallerDep, wiring: WiringDep) -> DoctorResponse:
    if not caller.is_admin:
        raise AdminOnly("Only the admin group may run the doctor.")
    return wiring.doctor.examine()
