"""A drop-in replacement for Pipecat's HttpSmartTurnAnalyzer that actually sends its request, and a
streaming analyzer that sends the turn's audio as it comes (GET /stream).

Why: BaseSmartTurn.analyze_end_of_turn runs ``_process_speech_segment`` in a worker thread
(``loop.run_in_executor``), and that calls ``_predict_endpoint`` there. Pipecat's HTTP analyzer then
calls ``asyncio.get_running_loop()`` inside that thread, which raises RuntimeError (a worker thread
has no running loop); its ``except Exception`` turns that into ``prediction: 0``, so every turn reads
"incomplete" and no request is ever sent. See README.md for the upstream lines.

The fix: remember the loop in ``analyze_end_of_turn`` (which runs on it) and, from the worker thread,
submit the request coroutine to that loop with ``asyncio.run_coroutine_threadsafe``.

``SmartTurnStreamAnalyzer`` uses the same bridge, but its request is a predict message on a
``TurnStream``: ``append_audio`` streams the frames of the turn as the base class would cut it (from
``pre_speech_ms`` before the speech started), so at the pause the server already holds the segment
that HttpSmartTurnAnalyzer would upload.

This module imports without Pipecat. ``SmartTurnHttpAnalyzer`` and ``SmartTurnStreamAnalyzer`` are
built on first access and need ``pipecat-ai`` then; ``LoopBridge`` and ``StreamBridge`` hold the
behaviour and work over any BaseSmartTurn-like base.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from typing import Any, Mapping, Optional

import numpy as np

from .client import DTYPES, SmartTurnError, SmartTurnTimeout, predict
from .stream import TurnStream

log = logging.getLogger(__name__)

INCOMPLETE = {"prediction": 0, "probability": 0.0, "metrics": {"inference_time": 0.0, "total_time": 0.0}}


class LoopBridge:
    """Mixin over a BaseSmartTurn-like base: ``analyze_end_of_turn`` runs on the event loop and hands
    ``_predict_endpoint`` to a worker thread; ``self._params.stop_secs`` is the request's budget.

    Outcomes, as the base expects them from ``_predict_endpoint``: the server's answer; on a timeout,
    ``timeout_exception`` is raised (Pipecat's SmartTurnTimeoutException, which the base reads as
    "stop_secs of silence passed: turn complete"); on any other failure, a logged "incomplete".
    """

    #: Raised from _predict_endpoint on a timeout; the Pipecat class sets SmartTurnTimeoutException.
    timeout_exception: type[Exception] = SmartTurnTimeout

    def __init__(
        self,
        *,
        url: str,
        aiohttp_session: Any = None,
        headers: Optional[Mapping[str, str]] = None,
        auth_key: Optional[str] = None,
        dtype: str = "float32",
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
        self._url = url
        self._headers = dict(headers or {})
        self._auth_key = auth_key
        self._dtype = dtype
        self._aiohttp_session = aiohttp_session
        self._own_session: Any = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    async def analyze_end_of_turn(self):
        # The one place that runs on the loop before the worker thread starts.
        self._loop = asyncio.get_running_loop()
        return await super().analyze_end_of_turn()

    def _predict_endpoint(self, audio_array: np.ndarray) -> dict[str, Any]:
        loop = self._loop
        if loop is None or loop.is_closed():
            log.error("smart turn: no event loop recorded; call analyze_end_of_turn from a running loop")
            return dict(INCOMPLETE)
        if _on_loop_thread(loop):
            # Blocking on the loop's own thread would deadlock it.
            raise RuntimeError("_predict_endpoint must run off the event loop thread (BaseSmartTurn runs it in its executor)")
        stop_secs = float(self._params.stop_secs)
        future = asyncio.run_coroutine_threadsafe(self._request(audio_array, stop_secs), loop)
        try:
            # The request bounds itself by stop_secs; the extra second only guards a stalled loop.
            return future.result(timeout=stop_secs + 1.0)
        except (SmartTurnTimeout, concurrent.futures.TimeoutError) as error:
            future.cancel()
            raise self.timeout_exception(f"smart turn: no answer within {stop_secs} s") from error
        except SmartTurnError as error:
            log.error("smart turn: request failed: %s", error)
            return dict(INCOMPLETE)
        except Exception:
            # As upstream: a voice pipeline should go on with "incomplete" rather than stop on a bug.
            log.exception("smart turn: unexpected error")
            return dict(INCOMPLETE)

    async def _request(self, audio: np.ndarray, stop_secs: float) -> dict[str, Any]:
        session = self._aiohttp_session
        if session is None:
            # Created on the loop, on first use, and reused: one connection pool per analyzer.
            import aiohttp

            if self._own_session is None or self._own_session.closed:
                self._own_session = aiohttp.ClientSession()
            session = self._own_session
        # The pipeline's rate (BaseTurnAnalyzer.sample_rate), which the audio really has: upstream's
        # analyzer sends 8 or 48 kHz audio undeclared, and the model then hears it at the wrong speed.
        # 0 until the pipeline has set it: then nothing is declared and the server takes 16 kHz.
        rate = getattr(self, "sample_rate", 0) or None
        return await predict(audio, self._url, sample_rate=rate, dtype=self._dtype, session=session, auth_key=self._auth_key, headers=self._headers, timeout=stop_secs)

    async def cleanup(self):
        parent = getattr(super(), "cleanup", None)
        try:
            if parent is not None:
                await parent()
        finally:
            if self._own_session is not None:
                await self._own_session.close()
                self._own_session = None


class StreamBridge(LoopBridge):
    """LoopBridge over GET /stream: the turn's frames go to the server as they arrive, and the request
    at the pause is a predict message, answered from the audio the server already holds.

    The base's state decides what the server holds: when speech starts, a reset and the frames the
    base's segment would begin with (those from ``pre_speech_ms`` plus the VAD's start delay before
    the speech); while speech is on, each frame. ``url`` is the server (http(s) or ws(s), its base, /raw
    or /stream); Pipecat's frames are int16 at the analyzer's ``sample_rate``, which is declared to the
    server. ``stream_options`` go to TurnStream (``heartbeat``, ``keep_seconds``, ``retry_delays``).
    """

    def __init__(self, *, stream_options: Optional[Mapping[str, Any]] = None, **kwargs: Any):
        super().__init__(**kwargs)
        self._stream_options = dict(stream_options or {})
        self._stream: Optional[TurnStream] = None

    def append_audio(self, buffer: bytes, is_speech: bool):
        started = not self._speech_triggered
        state = super().append_audio(buffer, is_speech)
        if self._speech_triggered:
            stream = self._turn_stream()
            if started:
                stream.reset()
                for chunk in self._segment():
                    stream.send_audio(chunk)
            else:
                stream.send_audio(buffer)
        return state

    def _segment(self) -> list[bytes]:
        """The buffered frames the base's segment starts from, as int16 bytes (they were int16)."""
        pre_speech_ms = self._params.pre_speech_ms + getattr(self, "_vad_start_secs", 0.0) * 1000
        start = self._speech_start_time - pre_speech_ms / 1000
        return [np.round(chunk * 32768).astype("<i2").tobytes() for t, chunk in self._audio_buffer if t >= start]

    def _turn_stream(self) -> TurnStream:
        if self._stream is None:
            self._stream = TurnStream(
                self._url,
                sample_rate=self.sample_rate,
                sample_type="int16",
                auth_key=self._auth_key,
                headers=self._headers,
                session=self._aiohttp_session,
                **self._stream_options,
            )
        return self._stream

    async def _request(self, audio: np.ndarray, stop_secs: float) -> dict[str, Any]:
        if self._stream is None:
            raise SmartTurnError("no speech has been streamed yet")
        return await self._stream.predict(timeout=stop_secs)

    async def cleanup(self):
        try:
            await super().cleanup()
        finally:
            if self._stream is not None:
                await self._stream.close()
                self._stream = None


def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _build_analyzer() -> type:
    try:
        from pipecat.audio.turn.smart_turn.base_smart_turn import BaseSmartTurn, SmartTurnTimeoutException
    except ImportError as error:
        raise ImportError(
            "SmartTurnHttpAnalyzer needs Pipecat: pip install pipecat-ai (smart_turn_client.predict works without it)"
        ) from error

    class SmartTurnHttpAnalyzer(LoopBridge, BaseSmartTurn):
        """Pipecat turn analyzer posting to a Smart Turn server. Takes HttpSmartTurnAnalyzer's
        arguments (``url``, ``aiohttp_session``, ``headers``, ``params``, ``sample_rate``); the
        session is optional, ``auth_key`` may replace an Authorization header, and ``dtype="int16"``
        halves the upload. Each request declares the pipeline's sample rate."""

        timeout_exception = SmartTurnTimeoutException

    return SmartTurnHttpAnalyzer


def _build_stream_analyzer() -> type:
    try:
        from pipecat.audio.turn.smart_turn.base_smart_turn import BaseSmartTurn, SmartTurnTimeoutException
    except ImportError as error:
        raise ImportError(
            "SmartTurnStreamAnalyzer needs Pipecat: pip install pipecat-ai (smart_turn_client.TurnStream works without it)"
        ) from error

    class SmartTurnStreamAnalyzer(StreamBridge, BaseSmartTurn):
        """Pipecat turn analyzer streaming to a Smart Turn server's GET /stream. Takes ``url`` (the
        server), ``auth_key`` or ``headers``, ``params``, ``sample_rate``, and optionally
        ``aiohttp_session`` and ``stream_options``."""

        timeout_exception = SmartTurnTimeoutException

    return SmartTurnStreamAnalyzer


_builders = {"SmartTurnHttpAnalyzer": _build_analyzer, "SmartTurnStreamAnalyzer": _build_stream_analyzer}
_built: dict[str, type] = {}


def __getattr__(name: str) -> Any:
    # PEP 562: the Pipecat classes are made on first use, so importing this module never needs Pipecat.
    if name in _builders:
        if name not in _built:
            _built[name] = _builders[name]()
        return _built[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
