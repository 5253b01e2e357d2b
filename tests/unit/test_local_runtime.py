"""The local Lambda runtime runs the template's functions in one process, so it must keep apart what
Lambda's separate execution environments keep apart."""

from __future__ import annotations

import copy

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from local.lambda_runtime import LocalFunctions, serves_http_api
from local.template import load_template
from tests.conftest import LambdaContext, load_event


def test_powertools_resolvers_share_the_current_event_across_apps():
    """Why the HTTP API functions take turns: resolving on one app changes what another app sees."""
    submit_app, webhook_app = APIGatewayHttpResolver(), APIGatewayHttpResolver()
    submit_app.get("/videos/<job_id>")(lambda job_id: {"id": job_id})
    webhook_app.get("/videos/<job_id>")(lambda job_id: {"id": job_id})
    submit_event = load_event("sora_status")
    webhook_event = copy.deepcopy(submit_event)
    webhook_event["requestContext"].pop("authorizer", None)

    submit_app.resolve(submit_event, LambdaContext())
    webhook_app.resolve(webhook_event, LambdaContext())

    assert "authorizer" not in submit_app.current_event.raw_event["requestContext"]


def test_http_api_functions_take_turns_while_the_others_run_alongside():
    resources = load_template()["Resources"]
    functions = LocalFunctions()
    http_api = [name for name in functions.logical_ids() if serves_http_api(resources[name])]
    others = [name for name in functions.logical_ids() if name not in http_api]

    assert len(http_api) >= 6 and others
    assert len({id(functions[name].lock) for name in http_api}) == 1
    assert len({id(functions[name].lock) for name in [http_api[0], *others]}) == 1 + len(others)
