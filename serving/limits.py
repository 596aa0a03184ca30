"""Bounds on the work one request may cause, as an ASGI middleware in front of the app.

- a request body over MAX_BODY_BYTES is refused with 413 before it is parsed (by its
  Content-Length, or while it streams in when it has none);
- a body that is not `application/json` is refused with 415;
- a body that has not arrived within BODY_TIMEOUT_SECONDS is refused with 408 (a slow
  client holds no worker thread meanwhile: the body is read here, on the event loop);
- beyond MAX_IN_FLIGHT requests in progress, a new one is answered 503 with Retry-After,
  at once, rather than queued without bound.

Every refusal is JSON `{"detail": ...}` like the app's own errors. uvicorn adds the
keep-alive timeout and the header-size bound (serving/serve.py's main).
"""

from __future__ import annotations

import asyncio
import json

MAX_BODY_BYTES = 64 * 1024
BODY_TIMEOUT_SECONDS = 10.0
MAX_IN_FLIGHT = 64
RETRY_AFTER_SECONDS = 1
JSON_TYPES = {b"application/json"}


async def answer(send, status: int, detail: str, headers: tuple = ()) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    def __init__(self, app, max_body_bytes: int = MAX_BODY_BYTES, max_in_flight: int = MAX_IN_FLIGHT,
                 body_timeout: float = BODY_TIMEOUT_SECONDS):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_in_flight = max_in_flight
        self.body_timeout = body_timeout
        self.in_flight = 0           # touched only on the event loop's thread

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if self.in_flight >= self.max_in_flight:
            return await answer(send, 503, f"busy: {self.max_in_flight} requests in progress; retry shortly",
                                ((b"retry-after", str(RETRY_AFTER_SECONDS).encode()),))
        self.in_flight += 1
        try:
            await self._checked(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _checked(self, scope, receive, send):
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        if length is not None and (not length.isdigit() or len(length) > 12):
            return await answer(send, 400, "Content-Length must be a number of bytes")
        has_body = chunked or (length is not None and int(length) > 0)
        if not has_body:
            return await self.app(scope, receive, send)
        if length is not None and int(length) > self.max_body_bytes:
            return await answer(send, 413, f"request body over {self.max_body_bytes} bytes")
        media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if media not in JSON_TYPES:
            return await answer(send, 415, "the request body must be JSON (Content-Type: application/json)")
        body, more = bytearray(), True
        try:
            async with asyncio.timeout(self.body_timeout):
                while more:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return
                    body += message.get("body", b"")
                    more = message.get("more_body", False)
                    if len(body) > self.max_body_bytes:
                        return await answer(send, 413, f"request body over {self.max_body_bytes} bytes")
        except TimeoutError:
            return await answer(send, 408, f"the request body did not arrive within {self.body_timeout:g} s")
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()      # then the disconnect, when it comes

        await self.app(scope, replay, send)
