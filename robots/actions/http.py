"""Calling REST APIs: for systems that have one (most legacy ones don't — that's why robots)."""

from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import Field

from robots.errors import BusinessException, SystemException
from robots.language.model_values import MAX_DURATION
from robots.language.registry import ActionContext, ActionParams, action
from robots.masking import page_quote


class RequestParams(ActionParams):
    """An HTTP request."""

    url: str = Field(description="Absolute URL; ${ENV} allowed.")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    json_body: Any = Field(None, alias="json", description="A JSON body.")
    form: dict[str, str] | None = Field(None, description="A form-encoded body.")
    headers: dict[str, str] = Field(default_factory=dict)
    params: dict[str, str] = Field(default_factory=dict, description="Query parameters.")
    timeout: float = Field(15.0, gt=0, le=MAX_DURATION, description="Seconds.")
    business_statuses: list[int] = Field(
        default_factory=lambda: [400, 404, 409, 422],
        description="Statuses that mean the data is wrong (a business exception, not retried).",
    )


@action("http.request", primary="url", side_effect=True)
def request(ctx: ActionContext, params: RequestParams) -> dict[str, Any]:
    """Call an HTTP API; returns ``{status, headers, json, text}``.

    5xx answers and network failures are system exceptions (retried); statuses in
    ``business_statuses`` are business exceptions. Writes carry an ``Idempotency-Key``
    header derived from the case and step, so a retried call can be recognised.

    Example: ``- http.request: {url: "${CRM_API}/customers/{{ input.customer_id }}"}`` with ``as: customer``
    """
    headers = {"Idempotency-Key": ctx.idempotency_key, **params.headers}
    try:
        response = httpx.request(
            params.method,
            params.url,
            json=params.json_body,
            data=params.form,
            headers=headers,
            params=params.params,
            timeout=ctx.remaining(params.timeout),
        )
    except httpx.TimeoutException:
        raise SystemException(f"{params.method} {params.url}: no answer within {params.timeout:g}s") from None
    except httpx.HTTPError as error:
        raise SystemException(f"{params.method} {params.url}: {type(error).__name__}: {error}") from None
    body: Any = None
    if "json" in response.headers.get("content-type", ""):
        try:
            body = response.json()
        except ValueError:
            body = None
    result = {
        "status": response.status_code,
        "headers": dict(response.headers),
        "json": body,
        "text": response.text[:100_000],
    }
    if response.status_code in params.business_statuses:
        raise BusinessException(
            f"{params.method} {params.url} answered {response.status_code}: {page_quote(response.text)}",
            data={"response": result},
        )
    if response.status_code >= 500:
        raise SystemException(
            f"{params.method} {params.url} answered {response.status_code}: {page_quote(response.text)}"
        )
    return result
