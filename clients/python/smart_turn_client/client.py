"""One request to POST /raw: np.save bytes in, ``{prediction, probability, metrics}`` out.

Needs numpy and aiohttp (Debian: python3-numpy python3-aiohttp; pip: numpy aiohttp).
"""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any, Mapping, Optional

import aiohttp
import numpy as np

SAMPLE_RATE = 16000


class SmartTurnError(Exception):
    """Any failure to get an answer from the server."""


class SmartTurnTimeout(SmartTurnError):
    """No complete answer within the total timeout."""


class SmartTurnUnreachable(SmartTurnError):
    """No connection: wrong host or port, server down, DNS failure."""


class SmartTurnHTTPError(SmartTurnError):
    """The server answered with a status other than 200.

    ``status`` is the HTTP status; ``code`` and ``message`` are the server's own
    (``{"error": {"code", "message"}}``) when it sent them.
    """

    def __init__(self, status: int, code: Optional[str], message: str):
        super().__init__(f"HTTP {status}{f' {code}' if code else ''}: {message}")
        self.status = status
        self.code = code
        self.message = message


class SmartTurnBadAnswer(SmartTurnError):
    """A 200 whose body is not a Smart Turn answer (a proxy page, a different service)."""


def encode(audio: np.ndarray) -> bytes:
    """np.save bytes of ``audio`` as mono float32, as Pipecat's HttpSmartTurnAnalyzer sends them; an
    int16 array (Pipecat's own buffer) stays int16, half the bytes, which the server scales by 1/32768."""
    audio = np.asarray(audio)
    samples = audio.astype("<i2") if audio.dtype == np.int16 else audio.astype(np.float32)
    if samples.ndim == 2 and 1 in samples.shape:
        samples = samples.reshape(-1)
    if samples.ndim != 1:
        raise ValueError(f"audio must be mono (one dimension), got shape {samples.shape}")
    buffer = io.BytesIO()
    np.save(buffer, samples)
    return buffer.getvalue()


async def predict(
    audio: np.ndarray,
    url: str,
    *,
    session: Optional[aiohttp.ClientSession] = None,
    auth_key: Optional[str] = None,
    headers: Optional[Mapping[str, str]] = None,
    timeout: float = 3.0,
) -> dict[str, Any]:
    """Posts 16 kHz mono ``audio`` to ``url`` (the server's /raw route): float32, or int16 as it is.

    ``timeout`` bounds the whole exchange (connect, upload, answer), as Pipecat bounds it by
    ``stop_secs``. ``auth_key`` becomes ``Authorization: Key <auth_key>``; ``headers`` are added as
    given. A ``session`` is reused if given (it must belong to the running loop), else one is opened
    for this request.

    Returns the answer dict. Raises SmartTurnTimeout, SmartTurnUnreachable, SmartTurnHTTPError or
    SmartTurnBadAnswer.
    """
    body = encode(audio)
    sent = {"Content-Type": "application/octet-stream"}
    if auth_key:
        sent["Authorization"] = f"Key {auth_key}"
    sent.update(headers or {})
    limit = aiohttp.ClientTimeout(total=timeout)
    own = session is None
    http = aiohttp.ClientSession() if own else session
    try:
        async with http.post(url, data=body, headers=sent, timeout=limit) as response:
            text = await response.text()
            if response.status != 200:
                code, message = _server_error(text, response.reason)
                raise SmartTurnHTTPError(response.status, code, message)
            return _answer(text)
    except asyncio.TimeoutError as error:
        raise SmartTurnTimeout(f"no answer from {url} within {timeout} s") from error
    except aiohttp.ClientConnectionError as error:
        raise SmartTurnUnreachable(f"cannot reach {url}: {error}") from error
    finally:
        if own:
            await http.close()


def _server_error(text: str, reason: Optional[str]) -> tuple[Optional[str], str]:
    try:
        error = json.loads(text)["error"]
        return error.get("code"), error.get("message", "")
    except (ValueError, KeyError, TypeError):
        return None, text[:200] or (reason or "")


def _answer(text: str) -> dict[str, Any]:
    try:
        answer = json.loads(text)
        if isinstance(answer["probability"], (int, float)) and answer["prediction"] in (0, 1):
            return answer
    except (ValueError, KeyError, TypeError):
        pass
    raise SmartTurnBadAnswer(f"200 but not a Smart Turn answer: {text[:200]!r}")
