"""Sending batches over HTTP: access tokens (fetch, refresh), retries with backoff, jitter and
`Retry-After`, and the service's answers turned into results or errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final

import aiohttp

from fraudchannel.client import check_key_fits, default_alg, load_private_key
from fraudchannel.submitter.batches import Batch, encode_body, envelope, idempotency_key
from fraudchannel.submitter.errors import BatchRefused, FatalError, TransientError, UsageProblem
from fraudchannel.submitter.results import Summary, batch_results

log = logging.getLogger("fraudchannel.submit")  # one logger for the whole run (see runner)


USER_AGENT: Final = "fraudchannel-submit/1"


def backoff_delay(attempt: int, jitter: float, *, base: float = 0.5, cap: float = 30.0) -> float:
    """Return seconds to wait before retry `attempt` (1-based), "equal jitter".

    delay = d/2 + jitter·d/2 with d = min(cap, base·2^(attempt-1)) and jitter in [0, 1), so waits
    grow 0.5, 1, 2, 4 ... s (halved at random) and never exceed `cap`.
    """
    d = min(cap, base * 2.0 ** max(attempt - 1, 0))
    return d / 2 + jitter * d / 2


def retry_wait(
    attempt: int, jitter: float, retry_after: float | None, *, base: float = 0.5, cap: float = 30.0
) -> float:
    """Return the wait before retry `attempt`: the backoff, or longer when `Retry-After` asks.

    A Retry-After beyond 5 minutes is cut to 5 minutes.
    """
    delay = backoff_delay(attempt, jitter, base=base, cap=cap)
    if retry_after is not None:
        delay = max(delay, min(retry_after, 300.0))
    return delay


def parse_retry_after(value: str | None) -> float | None:
    """Return Retry-After (RFC 9110 §10.2.3) in seconds; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    with contextlib.suppress(TypeError, ValueError):  # TypeError: a date without zone
        when = parsedate_to_datetime(value)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    return None


def problem_detail(status: int, payload: bytes) -> str:
    """Return a one-line reason from an error body (RFC 9457 or RFC 6749 JSON, else text)."""
    try:
        doc = json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", "replace").strip()[:300] or f"HTTP {status}"
    if not isinstance(doc, dict):
        return f"HTTP {status}"
    if "error" in doc:  # RFC 6749 §5.2
        return f"{doc['error']}: {doc.get('error_description', '')}".strip(": ")
    parts = [str(doc[k]) for k in ("title", "detail") if doc.get(k)]
    errors = doc.get("errors")
    if isinstance(errors, list) and errors:
        first = errors[0] if isinstance(errors[0], dict) else {}
        parts.append(f"{len(errors)} error(s), first: {first.get('pointer')} {first.get('detail')}")
    return " - ".join(parts) or f"HTTP {status}"


def key_alg(private_key_pem: bytes, alg: str) -> str:
    """Return the JWS alg to sign with: `alg`, or the key's default when "auto".

    Raises UsageProblem when the PEM is no usable private key or does not fit `alg`.
    """
    try:
        key = load_private_key(private_key_pem)
        chosen = default_alg(key) if alg == "auto" else alg
        check_key_fits(key, chosen)
    except ValueError as exc:
        raise UsageProblem(f"--key-file: {exc}") from exc
    return chosen


class TokenSource:
    """Access tokens from `POST {url}/oauth/token`, cached until shortly before they expire.

    `get()` returns a valid token (one request at a time, however many batches wait);
    `invalidate(token)` drops it after a 401 so the next `get()` fetches a new one.
    Raises TransientError (worth retrying) or FatalError (credentials refused).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        token_url: str,
        assertion: Callable[[], str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.token_url = token_url
        self.assertion = assertion
        self.clock = clock
        self.token: str | None = None
        self.expires_at = 0.0
        self.requests = 0
        self._lock = asyncio.Lock()

    def valid(self) -> bool:
        """Return whether the cached token has more than its margin left."""
        return self.token is not None and self.clock() < self.expires_at

    async def get(self) -> str:
        """Return a cached or fresh access token."""
        async with self._lock:
            if self.token is not None and self.valid():
                return self.token
            return await self._fetch()

    def invalidate(self, token: str) -> None:
        """Forget `token` if it is still the cached one (another batch may have refreshed)."""
        if self.token == token:
            self.token = None

    async def _fetch(self) -> str:
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": self.assertion(),
        }
        self.requests += 1
        try:
            async with self.session.post(self.token_url, data=form) as resp:
                status, payload = resp.status, await resp.read()
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"token endpoint: {type(exc).__name__}: {exc}") from exc
        if status == 429 or status >= 500:
            raise TransientError(f"token endpoint: {problem_detail(status, payload)}", retry_after)
        if status != 200:
            raise FatalError(f"token refused (HTTP {status}): {problem_detail(status, payload)}")
        try:
            doc = json.loads(payload)
            token, lifetime = str(doc["access_token"]), float(doc.get("expires_in", 300))
        except (ValueError, KeyError, TypeError) as exc:
            raise FatalError(f"token endpoint answered no access_token: {exc}") from exc
        self.token = token
        # Refresh with a margin (a quarter of the lifetime, at most a minute) so a token never
        # expires between being read here and reaching the service.
        self.expires_at = self.clock() + lifetime - min(60.0, lifetime / 4)
        log.info("token obtained (expires in %.0f s, scope %s)", lifetime, doc.get("scope"))
        return token


@dataclass
class Options:
    """What a run needs besides the input: endpoint, batch shape, retry policy."""

    url: str
    submitter_name: str
    submitter_email: str
    source: str
    batch_size: int = 1000
    concurrency: int = 4
    timeout_s: float = 120.0
    max_attempts: int = 8
    retry_base_s: float = 0.5
    retry_cap_s: float = 30.0


class Sender:
    """Sends batches with retries; owns the HTTP session's use, the token source and counters."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        tokens: TokenSource,
        options: Options,
        summary: Summary,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.session = session
        self.tokens = tokens
        self.options = options
        self.summary = summary
        self.rng = rng
        self.abort = asyncio.Event()

    async def send(self, batch: Batch) -> list[dict[str, Any]]:
        """Send `batch` until it is answered, refused for good or the run is aborted.

        Returns its per-item result lines. Raises nothing but CancelledError: FatalError sets
        `abort` (the reason is in the summary) and the items become "not_sent".
        """
        items = batch.items
        if not items:
            return batch_results(batch, {"items": []}, None)
        o = self.options
        body = encode_body(
            envelope(o.submitter_name, o.submitter_email, [p.item for p in items if p.item])
        )
        key = idempotency_key(o.source, batch.index, body)
        started = time.monotonic()
        try:
            answer, attempts = await self._post_with_retries(body, key, batch.index)
        except BatchRefused as exc:
            self.summary.batches_failed.append(
                {"batch": batch.index, "status": exc.status, "detail": exc.detail}
            )
            log.error("batch %d failed for good: %s", batch.index, exc)
            return batch_results(batch, None, f"batch_failed: {exc}")
        except FatalError as exc:
            if not self.abort.is_set():
                self.summary.aborted = str(exc)
                log.error("stopping: %s", exc)
                self.abort.set()
            return batch_results(batch, None, "not_sent: run aborted")
        self.summary.batches_sent += 1
        counts = answer.get("counts", {})
        log.info(
            "batch %d: %d item(s) accepted=%s rejected=%s in %.2f s (%d attempt(s), key %s)",
            batch.index,
            len(items),
            counts.get("accepted"),
            counts.get("rejected"),
            time.monotonic() - started,
            attempts,
            key,
        )
        return batch_results(batch, answer, None)

    async def _post_with_retries(
        self, body: bytes, key: str, index: int
    ) -> tuple[dict[str, Any], int]:
        o = self.options
        refreshed = False
        attempt = 0
        while True:
            if self.abort.is_set():
                raise FatalError("run aborted")
            attempt += 1
            try:
                return await self._post(body, key), attempt
            except _Unauthorized as exc:
                if refreshed:
                    raise FatalError(f"access token refused twice: {exc}") from exc
                refreshed = True
                self.tokens.invalidate(exc.token)
                log.info("batch %d: token refused (%s), refreshing", index, exc)
                attempt -= 1  # a refresh is not a failed attempt
                continue
            except TransientError as exc:
                if attempt >= o.max_attempts:
                    raise BatchRefused(0, f"gave up after {attempt} attempts: {exc}") from exc
                wait = retry_wait(
                    attempt, self.rng(), exc.retry_after, base=o.retry_base_s, cap=o.retry_cap_s
                )
                self.summary.retries += 1
                log.warning(
                    "batch %d: %s; retry %d in %.2f s (same Idempotency-Key)",
                    index,
                    exc,
                    attempt,
                    wait,
                )
                await asyncio.sleep(wait)

    async def _post(self, body: bytes, key: str) -> dict[str, Any]:
        token = await self.tokens.get()
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Idempotency-Key": key,
        }
        url = f"{self.options.url}/v1/report-batches"
        try:
            async with self.session.post(url, data=body, headers=headers) as resp:
                status, payload = resp.status, await resp.read()
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc
        if status in (200, 201, 202):
            try:
                answer = json.loads(payload)
            except ValueError as exc:
                raise TransientError(f"HTTP {status} with an unreadable body") from exc
            if not isinstance(answer, dict):
                raise TransientError(f"HTTP {status} with an unexpected body")
            return answer
        detail = problem_detail(status, payload)
        if status == 401:
            raise _Unauthorized(token, detail)
        if status == 403:
            raise FatalError(f"HTTP 403: {detail}")
        if status in (408, 429) or status >= 500:
            raise TransientError(f"HTTP {status}: {detail}", retry_after)
        if status == 413:
            detail += " (use a smaller --batch-size)"
        raise BatchRefused(status, detail)


class _Unauthorized(Exception):
    def __init__(self, token: str, detail: str) -> None:
        super().__init__(detail)
        self.token = token
