"""What a route receives, the Powertools way: `Annotated[JobService, Depends(job_service)]`. Each part comes from
the `Wiring` the function's entry point put in the resolver's context for this request (see `HttpFunction`).
A dependency that raises a DomainError (no authenticated subject) is answered in the error envelope by the
resolver's handler of DependencyResolutionError. The routes that change jobs take theirs from job_dependencies, and
a route module that alone uses a collaborator declares it itself, so a function imports only the logic it runs."""

from __future__ import annotations

from typing import Annotated, cast

from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.request import Request
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from sorajobs.api.caller import caller_of
from sorajobs.config import Settings
from sorajobs.logic.queries import Caller, JobQueries
from sorajobs.services import Services
from sorajobs.wiring import Wiring

WIRING_CONTEXT_KEY = "wiring"


def request_wiring(request: Request) -> Wiring:
    return cast(Wiring, request.context[WIRING_CONTEXT_KEY])


WiringDep = Annotated[Wiring, Depends(request_wiring)]


def settings(wiring: WiringDep) -> Settings:
    return wiring.settings


def services(wiring: WiringDep) -> Services:
    return wiring.services


def caller(request: Request, wiring: WiringDep) -> Caller:
    return caller_of(cast(APIGatewayProxyEventV2, request.resolved_event), wiring.settings)


def job_queries(wiring: WiringDep) -> JobQueries:
    return wiring.queries


SettingsDep = Annotated[Settings, Depends(settings)]
ServicesDep = Annotated[Services, Depends(services)]
CallerDep = Annotated[Caller, Depends(caller)]
JobQueriesDep = Annotated[JobQueries, Depends(job_queries)]
