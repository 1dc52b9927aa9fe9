"""OAuth 2 password grant and token revocation, as Spring Security OAuth2 answers them."""

from __future__ import annotations

import asyncio
import base64
import binascii

from fastapi import Depends, Request
from starlette.responses import Response

from openovc.api.deps import RuntimeDep, api_router, bearer_token, valid_session
from openovc.api.errors import OAuthError, error_body
from openovc.api.openapi import CLIENT
from openovc.api.responses import JSON
from openovc.api.schemas import ERROR, OAUTH_ERROR, TOKEN, TOKEN_REQUEST, answer, merged
from openovc.domain.auth import CLIENT_ID, EMERGENCY_GRANT, PASSWORD_GRANT, SCOPE, expires_in
from openovc.services.auth import LoginRefused
from openovc.services.login_gate import LoginBusy

router = api_router("/oauth", tags=["oauth"], protected=False)


def _client_ok(request: Request) -> bool:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        client, _, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return client == CLIENT_ID and secret == ""


async def _form_fields(request: Request) -> dict[str, str]:
    """Token parameters may come in the query string, a urlencoded body or a multipart body."""
    fields = dict(request.query_params)
    ctype = request.headers.get("content-type", "").lower()
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        fields.update({k: v for k, v in form.items() if isinstance(v, str)})
    for name, value in fields.items():
        if "\x00" in name or "\x00" in value:  # no user has one, and PostgreSQL text cannot hold one
            raise OAuthError(
                400,
                "invalid_request",
                f"Invalid value for parameter '{name}': NUL characters are not allowed",
            )
    return fields


def _failure(description: str, schema: dict[str, object], header: str) -> dict[str, object]:
    content = {"application/json": {"schema": schema}}
    return {
        "description": description,
        "content": content,
        "headers": {header: {"schema": {"type": "string"}}},
    }


# OAuth's error body for what the grant says, HPE's for a form that cannot be parsed.
_EITHER_ERROR = {
    "type": "object",
    "properties": {**OAUTH_ERROR["properties"], **ERROR["properties"]},
    "anyOf": [{"required": OAUTH_ERROR["required"]}, {"required": ERROR["required"]}],
}

_TOKEN = merged(
    answer(TOKEN, description="A bearer token"),
    {
        "security": [{CLIENT: []}],
        "requestBody": {
            "required": True,
            "content": {
                form: {"schema": TOKEN_REQUEST}
                for form in ("application/x-www-form-urlencoded", "multipart/form-data")
            },
        },
        "responses": {
            "400": {
                "description": "An unsupported grant, a missing username or password, or wrong credentials "
                "(OAuth's error body); a form that cannot be parsed (HPE's error body)",
                "content": {"application/json": {"schema": _EITHER_ERROR}},
            },
            "401": _failure("The client is not simplivity with an empty secret", ERROR, "WWW-Authenticate"),
            "503": _failure("Too many logins are waiting: try again later", OAUTH_ERROR, "Retry-After"),
        },
    },
)


@router.post("/token", operation_id="getToken", openapi_extra=_TOKEN)
async def get_token(request: Request, rt: RuntimeDep) -> JSON:
    if not _client_ok(request):
        body = error_body(request, 401, "BadCredentialsException", "Bad Credentials")
        return JSON(body, status_code=401, headers={"WWW-Authenticate": 'Basic realm="oauth2/client"'})
    fields = await _form_fields(request)
    grant = fields.get("grant_type", "")
    if grant not in (PASSWORD_GRANT, EMERGENCY_GRANT):
        raise OAuthError(400, "unsupported_grant_type", f"Unsupported grant type: {grant}")
    username, password = fields.get("username"), fields.get("password")
    if not username or password is None:
        raise OAuthError(400, "invalid_request", "Missing username or password")
    source = request.client.host if request.client else ""
    try:
        # In the password-check pool, not the request threads: a flood of logins leaves them to others.
        token = await asyncio.wrap_future(rt.auth.submit_login(username, password, grant, source))
    except LoginBusy as busy:
        raise OAuthError(
            503,
            "temporarily_unavailable",
            str(busy),
            {"Retry-After": str(busy.retry_after_s)},
        ) from None
    except LoginRefused as refused:
        headers = {"Retry-After": str(refused.retry_after_s)} if refused.retry_after_s else None
        raise OAuthError(400, "invalid_grant", refused.description, headers) from None
    return JSON(
        {
            "access_token": token.access_token,
            "token_type": "bearer",
            "expires_in": expires_in(token, token.issued_at, rt.auth.policy),
            "scope": SCOPE,
            "updated_at": token.last_used_at,
        }
    )


# The token must work to be revoked: Spring's resource filter refuses an unknown, expired or revoked one
# (401 invalid_token) before the endpoint runs, as on every protected route.
_WORKING_TOKEN = [Depends(valid_session)]


@router.get(
    "/revoke",
    operation_id="revokeToken",
    dependencies=_WORKING_TOKEN,
    response_class=Response,
    responses={200: {"description": "Revoked: an empty body"}},
)
def revoke_token(request: Request, rt: RuntimeDep) -> Response:
    """Answers 200 with an empty body; the token stops working at once."""
    rt.auth.revoke(bearer_token(request))
    return Response(status_code=200)


# Only GET is documented; other methods are harmless and some clients use them.
router.add_api_route(
    "/revoke", revoke_token, methods=["POST", "DELETE"], include_in_schema=False, dependencies=_WORKING_TOKEN
)
