"""One error shape for every 4xx and 5xx the service answers:

    {"error": {"code": "unknown_user", "message": "unknown user 1700"}}

`code` is machine-readable (CODES lists them all); `message` says what is wrong in words,
never with a file-system path or a traceback. A 422 adds `errors` (where, what, type: the
offending value is not echoed); a 503 `no_model` adds `failed_versions` when versions failed
to load.

The app raises ApiError; serving/serve.py's exception handlers turn it, FastAPI's validation
errors and Starlette's HTTP errors into the shape. ErrorShape, an ASGI middleware outside
everything else, answers an unknown path (404) or a method a path does not take (405) before
any body is looked at (a PUT with a body would otherwise be refused 415 for its content type
first), and brings the bounds' answers (serving/limits.py: 400, 408, 413, 415, 503 busy),
written as {"detail": ...}, into the same shape.
"""

from __future__ import annotations

import http
import json
import re

# code -> (HTTP status, when)
CODES = {
    "bad_request": (400, "a malformed request head (e.g. a Content-Length that is not a number)"),
    "not_found": (404, "no such path"),
    "unknown_user": (404, "a user id the served data does not hold"),
    "unknown_movie": (404, "a movie id the served data does not hold"),
    "unknown_version": (404, "?version=N names a version this service is not serving"),
    "method_not_allowed": (405, "the path does not take this method (the Allow header lists those it takes)"),
    "body_timeout": (408, "the request body did not arrive in time"),
    "body_too_large": (413, "the request body is over the limit"),
    "unsupported_media_type": (415, "a request body that is not application/json"),
    "invalid_request": (422, "a parameter or body field out of its bounds or malformed (`errors` says which)"),
    "internal": (500, "a bug: logged by the service, never expected"),
    "no_model": (503, "no model version loaded yet (none pushed, or every one failed to load)"),
    "busy": (503, "too many requests in progress: retry after the Retry-After header's seconds"),
}
DEFAULT_CODE = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 408: "body_timeout",
                413: "body_too_large", 415: "unsupported_media_type", 422: "invalid_request", 500: "internal",
                503: "busy"}
MESSAGE_CHARS = 300
# An absolute path in a message (POSIX, or a drive letter's), not one inside a word ("and/or").
_PATH = re.compile(r"(?<![\w.])(?:/|[A-Za-z]:\\)[^\s'\"<>()\[\]{},;]+")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None, **extra):
        super().__init__(message)
        self.status, self.code, self.message, self.headers, self.extra = status, code, message, headers, extra


def code_for(status: int) -> str:
    return DEFAULT_CODE.get(status, "internal" if status >= 500 else "bad_request")


def bounded(text: str, limit: int = MESSAGE_CHARS) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "..."


def without_paths(text: str, limit: int = MESSAGE_CHARS) -> str:
    """A message from elsewhere (an exception's) with every absolute file-system path
    replaced by <path>, bounded."""
    return bounded(_PATH.sub("<path>", str(text)), limit)


def body(code: str, message: str, **extra) -> dict:
    return {"error": {"code": code, "message": bounded(message), **{k: v for k, v in extra.items() if v is not None}}}


def _is_shaped(content) -> bool:
    return (isinstance(content, dict) and set(content) == {"error"} and isinstance(content["error"], dict)
            and {"code", "message"} <= set(content["error"]))


def reshaped(status: int, raw: bytes) -> bytes | None:
    """An error body in the shape, or None when it is in the shape already."""
    try:
        content = json.loads(raw) if raw else None
    except ValueError:
        content = raw.decode("utf-8", "replace")
    if _is_shaped(content):
        return None
    if isinstance(content, dict) and "detail" in content:
        message = content["detail"] if isinstance(content["detail"], str) else json.dumps(content["detail"])
    elif isinstance(content, str) and content.strip():
        message = content
    else:
        message = http.HTTPStatus(status).phrase if status in http.HTTPStatus._value2member_map_ else "error"
    return json.dumps(body(code_for(status), without_paths(message))).encode()


class ErrorShape:
    """The outermost ASGI middleware: routes before bounds (404/405), and every error body in
    the shape. `router`: the app's router, whose routes decide what a path takes."""

    def __init__(self, app, router):
        self.app = app
        self.router = router

    def _route_check(self, scope) -> tuple[int, str, set[str]] | None:
        from starlette.routing import Match

        allowed: set[str] = set()
        for route in self.router.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return None
            if match == Match.PARTIAL:
                allowed |= set(getattr(route, "methods", None) or ())
        path = bounded(repr(scope.get("path", "")), 60)
        if allowed:
            return 405, f"{scope['method']} is not allowed on {path}; it takes {', '.join(sorted(allowed))}", allowed
        return 404, f"no such path {path} (the endpoints are listed at /docs)", allowed

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        refused = self._route_check(scope)
        if refused is not None:
            status, message, allowed = refused
            headers = [(b"allow", ", ".join(sorted(allowed)).encode())] if allowed else []
            return await _answer(send, status, json.dumps(body(code_for(status), message)).encode(), headers)

        held: dict | None = None
        chunks: list[bytes] = []

        async def shaping_send(message):
            nonlocal held
            if message["type"] == "http.response.start" and message["status"] >= 400 and scope["method"] != "HEAD":
                held = message                     # its body is small: rewritten once it is all here
                return
            if held is not None and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                raw = b"".join(chunks)
                new = reshaped(held["status"], raw)
                headers = [(k, v) for k, v in held.get("headers", []) if k.lower() not in (b"content-length",
                                                                                           b"content-type")]
                await _answer(send, held["status"], raw if new is None else new, headers)
                return
            await send(message)

        await self.app(scope, receive, shaping_send)


async def _answer(send, status: int, content: bytes, headers=()) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": content})
