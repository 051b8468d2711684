"""A turn streamed to GET /stream: audio is sent as it is captured, so that at the pause only a
predict message travels and the answer comes in model time, not upload time.

``TurnStream`` keeps the current turn (the audio since the last ``reset``) and, when the connection
drops, reconnects and sends it again, with the predictions still waiting for their answers. It is
used from one event loop: ``send_audio`` and ``reset`` are synchronous (they queue, in order) and
``predict`` awaits the answer.

Needs aiohttp (Debian: python3-aiohttp; pip: aiohttp).
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
from typing import Any, Mapping, Optional, Union
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp

from .client import SmartTurnError, SmartTurnHTTPError, SmartTurnTimeout

log = logging.getLogger(__name__)

SAMPLE_BYTES = {"int16": 2, "float32": 4}


class SmartTurnRefused(SmartTurnError):
    """The server answered a predict with an error message (``code``, ``message``), e.g. QUEUE_FULL."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def stream_url(url: str, sample_rate: int, sample_type: str) -> str:
    """The ws:// (or wss://) URL of a server's /stream with the audio format in its query. ``url`` is
    the server's base URL, its /raw or its /stream, as http(s):// or ws(s)://."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path.rstrip("/")
    for suffix in ("/raw", "/stream"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    query = urlencode({"sample_rate": int(sample_rate), "sample_type": sample_type})
    return urlunsplit((scheme, parts.netloc, f"{path}/stream", query, ""))


class TurnStream:
    """One conversation's connection to GET /stream.

    ``url``: the server (see ``stream_url``). ``sample_rate`` and ``sample_type`` (``int16`` or
    ``float32``, little-endian) describe the bytes given to ``send_audio``. ``auth_key`` becomes
    ``Authorization: Key <auth_key>``; ``headers`` are added as given. ``keep_seconds`` bounds the turn
    kept for re-sending (the server keeps at most the model's window: 8 s for v3, 16 s for v2).
    ``heartbeat`` seconds between pings keep a quiet stream from the server's idle timeout (None: no
    pings). A ``session`` is reused if given, else one is opened and closed by ``close``.
    """

    def __init__(
        self,
        url: str,
        *,
        sample_rate: int,
        sample_type: str = "int16",
        auth_key: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        session: Optional[aiohttp.ClientSession] = None,
        keep_seconds: float = 16.0,
        heartbeat: Optional[float] = 20.0,
        retry_delays: tuple = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0),
    ):
        if sample_type not in SAMPLE_BYTES:
            raise ValueError(f"sample_type must be int16 or float32, got {sample_type!r}")
        self.url = stream_url(url, sample_rate, sample_type)
        self._headers = dict(headers or {})
        if auth_key:
            self._headers["Authorization"] = f"Key {auth_key}"
        self._session = session
        self._own_session: Optional[aiohttp.ClientSession] = None
        self._heartbeat = heartbeat
        self._retry_delays = retry_delays
        self._keep_bytes = int(keep_seconds * sample_rate) * SAMPLE_BYTES[sample_type]
        self._sample_bytes = SAMPLE_BYTES[sample_type]
        # The turn since the last reset, in the order it was given: audio (bytes) and predict ids (int).
        self._turn: collections.deque = collections.deque()
        self._turn_bytes = 0
        # What the current connection has yet to send: the same items, and None for a reset.
        self._outbox: collections.deque = collections.deque()
        self._wake = asyncio.Event()
        self._pending: dict[int, asyncio.Future] = {}
        self._next_id = 0
        self._runner: Optional[asyncio.Task] = None
        self._closed = False
        #: Connections opened after the first (each one re-sent the turn).
        self.reconnects = 0

    def send_audio(self, chunk: Union[bytes, bytearray, memoryview]) -> None:
        """Appends audio to the turn (whole samples in the declared format)."""
        chunk = bytes(chunk)
        if len(chunk) % self._sample_bytes:
            raise ValueError(f"{len(chunk)} bytes is not whole {self._sample_bytes}-byte samples")
        if not chunk:
            return
        self._turn.append(chunk)
        self._turn_bytes += len(chunk)
        while self._turn_bytes > self._keep_bytes:
            oldest = self._turn.popleft()
            if isinstance(oldest, bytes):
                self._turn_bytes -= len(oldest)
        self._queue(chunk)

    def reset(self) -> None:
        """Starts a new turn, here and on the server."""
        self._turn.clear()
        self._turn_bytes = 0
        self._queue(None)

    async def predict(self, timeout: float = 3.0) -> dict[str, Any]:
        """Asks the server about the turn so far; returns ``{prediction, probability, metrics}``.

        ``timeout`` bounds the wait, reconnection included. Raises SmartTurnTimeout, SmartTurnRefused
        (the server's error message), SmartTurnHTTPError (the upgrade was refused, e.g. 401).
        """
        self._next_id += 1
        request = self._next_id
        answer = asyncio.get_running_loop().create_future()
        self._pending[request] = answer
        self._turn.append(request)
        self._queue(request)
        try:
            return await asyncio.wait_for(asyncio.shield(answer), timeout)
        except asyncio.TimeoutError as error:
            raise SmartTurnTimeout(f"no answer from {self.url} within {timeout} s") from error
        finally:
            self._pending.pop(request, None)

    async def close(self) -> None:
        self._closed = True
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
        self._fail_pending(SmartTurnError("the stream was closed"))
        if self._own_session is not None:
            await self._own_session.close()
            self._own_session = None

    def _queue(self, item: Union[bytes, int, None]) -> None:
        if self._closed:
            raise SmartTurnError("the stream is closed")
        self._outbox.append(item)
        self._wake.set()
        if self._runner is None:
            self._runner = asyncio.get_running_loop().create_task(self._run())

    def _fail_pending(self, error: Exception) -> None:
        for answer in self._pending.values():
            if not answer.done():
                answer.set_exception(error)

    async def _run(self) -> None:
        failures = 0
        while not self._closed:
            try:
                session = self._session or self._own()
                async with session.ws_connect(self.url, headers=self._headers, heartbeat=self._heartbeat) as ws:
                    failures = 0
                    await self._serve(ws)
                    log.info("smart turn stream closed by the server (%s); reconnecting", ws.close_code)
            except asyncio.CancelledError:
                raise
            except aiohttp.WSServerHandshakeError as error:
                if 400 <= error.status < 500 and error.status != 429:
                    # Not going to change by retrying soon: answer the waiting predictions now.
                    self._fail_pending(SmartTurnHTTPError(error.status, None, f"{self.url} refused the stream: {error.message}"))
                log.warning("smart turn stream refused: %s %s", error.status, error.message)
            except (aiohttp.ClientError, OSError) as error:
                log.warning("smart turn stream lost: %s", error)
            if self._closed:
                return
            await asyncio.sleep(self._retry_delays[min(failures, len(self._retry_delays) - 1)])
            failures += 1
            self.reconnects += 1

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        # The server's turn starts empty: send ours again, with the predictions not yet answered, in
        # their places. What is queued from here on comes after, once.
        replay = [item for item in self._turn if not isinstance(item, int) or item in self._pending]
        self._outbox.clear()
        self._outbox.extend([None, *replay])
        reader = asyncio.ensure_future(self._read(ws))
        try:
            while not reader.done():
                while self._outbox:
                    item = self._outbox[0]
                    if item is None:
                        await ws.send_str('{"type":"reset"}')
                    elif isinstance(item, int):
                        await ws.send_str(json.dumps({"type": "predict", "id": item}))
                    else:
                        await ws.send_bytes(item)
                    self._outbox.popleft()
                self._wake.clear()
                waker = asyncio.ensure_future(self._wake.wait())
                await asyncio.wait({reader, waker}, return_when=asyncio.FIRST_COMPLETED)
                waker.cancel()
        except ConnectionResetError:
            pass
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            answer = json.loads(message.data)
            future = self._pending.get(answer.get("id"))
            if future is None or future.done():
                if answer.get("type") == "error":
                    log.warning("smart turn stream: %s: %s", answer.get("code"), answer.get("message"))
                continue
            if answer.get("type") == "result":
                future.set_result({k: answer[k] for k in ("prediction", "probability", "metrics")})
            else:
                future.set_exception(SmartTurnRefused(answer.get("code", "ERROR"), answer.get("message", "")))

    def _own(self) -> aiohttp.ClientSession:
        if self._own_session is None or self._own_session.closed:
            self._own_session = aiohttp.ClientSession()
        return self._own_session
