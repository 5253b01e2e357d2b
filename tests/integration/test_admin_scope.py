"""GET /stats: every owner's counts only for the admin group or the admin OAuth scope; anyone else sees their own."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import OTHER_OWNER, ApiResponse, World, http_event


def stats(world: World, *, claims: dict[str, Any] | None = None, query: dict[str, str] | None = None) -> ApiResponse:
    event = http_event("read_api_stats", query=query)
    event["requestContext"]["authorizer"]["jwt"]["claims"].update(claims or {})
    return world.call("read_api", event)


@pytest.fixture
def two_owners(world: World) -> World:
    """One job of the caller's and two of another owner's."""
    world.submit()
    world.submit(owner=OTHER_OWNER)
    world.submit(owner=OTHER_OWNER)
    return world


def test_a_caller_without_group_or_scope_sees_only_their_own_counts(two_owners):
    response = stats(two_owners)

    assert response.status == 200
    assert response.body["scope"] == "owner" and response.body["total"] == 1


@pytest.mark.parametrize(
    "query",
    [
        {"scope": "all"},
        {"owner": OTHER_OWNER},
        {"all": "true", "admin": "true"},
        {"scope": "videos/admin", "groups": "admins", "cognito:groups": "admins"},
    ],
)
def test_no_query_parameter_widens_a_non_admins_view(two_owners, query):
    response = stats(two_owners, query=query)

    assert response.status == 200
    assert response.body["scope"] == "owner" and response.body["total"] == 1


@pytest.mark.parametrize(
    "claims",
    [
        {"scope": "videos/admin"},
        {"scope": "openid videos/read videos/admin"},
        {"scp": "[videos/read videos/admin]"},
        {"scp": ["videos/admin"]},
        {"cognito:groups": "[users admins]"},
        {"groups": "[admins]"},
    ],
)
def test_the_admin_scope_or_the_admin_group_sees_every_owner(two_owners, claims):
    response = stats(two_owners, claims=claims)

    assert response.status == 200
    assert response.body["scope"] == "all" and response.body["total"] == 3


@pytest.mark.parametrize(
    "claims",
    [
        {"scope": "videos/admin2"},
        {"scope": "videos"},
        {"scope": "videos/Admin"},
        {"scope": "openid videos/read"},
        {"scp": "[videos/administrator]"},
        {"cognito:groups": "[administrators]"},
        {"scope": "admins"},  # a group name in the scope claim is not the scope
        {"cognito:groups": "[videos/admin]"},  # nor the scope in a group claim
    ],
)
def test_a_similar_but_different_scope_or_group_does_not(two_owners, claims):
    response = stats(two_owners, claims=claims)

    assert response.body["scope"] == "owner" and response.body["total"] == 1


def test_the_admin_scope_is_configurable_and_can_be_turned_off(two_owners):
    two_owners.use_settings(admin_scope="jobs:admin")
    assert stats(two_owners, claims={"scope": "jobs:admin"}).body["scope"] == "all"
    assert stats(two_owners, claims={"scope": "videos/admin"}).body["scope"] == "owner"

    two_owners.use_settings(admin_scope="")
    assert stats(two_owners, claims={"scope": ""}).body["scope"] == "owner"
    assert stats(two_owners, claims={"scope": "jobs:admin"}).body["scope"] == "owner"
