"""Tests of smart_turn_client's TurnStream and StreamBridge against a real server's GET /stream. Run
by test/python-client.test.ts, which starts the servers (fixture model readout-v2.onnx, AUTH_KEY=dev) and
passes their URLs:
  SMART_TURN_TEST_URL     the server's /raw
  SMART_TURN_TEST_IDLE    /raw of a second server whose streams close after 500 ms without a message
  SMART_TURN_TEST_SILENT  a /raw URL that accepts connections and never answers
Each streamed answer is checked against POST /raw's answer for the same audio from the same server.
"""

import asyncio
import os
import sys
import time
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from smart_turn_client import SmartTurnHTTPError, SmartTurnRefused, SmartTurnTimeout, TurnStream, predict  # noqa: E402
from smart_turn_client import pipecat as bridge  # noqa: E402
from smart_turn_client.stream import stream_url  # noqa: E402
from test_client import StandInBaseSmartTurn, TimeoutTurnsComplete  # noqa: E402

URL = os.environ["SMART_TURN_TEST_URL"]
IDLE = os.environ["SMART_TURN_TEST_IDLE"]
SILENT = os.environ["SMART_TURN_TEST_SILENT"]
KEY = "dev"


def pcm(seconds: float, rate: int = 16000, seed: int = 0) -> np.ndarray:
    """Noise as int16, as Pipecat's transports deliver audio."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(0, 0.2, int(seconds * rate)) * 32768, -32768, 32767).astype("<i2")


def frames(audio: np.ndarray, rate: int = 16000) -> list:
    """20 ms frames of int16 bytes."""
    step = rate // 50
    return [audio[i : i + step].tobytes() for i in range(0, len(audio), step)]


def over_raw(audio: np.ndarray, url: str = URL, rate: int = 16000) -> dict:
    headers = {} if rate == 16000 else {"X-Sample-Rate": str(rate)}
    return asyncio.run(predict(audio.astype(np.float32) / 32768, url, auth_key=KEY, headers=headers))


class TurnStreamTest(unittest.TestCase):
    def run_stream(self, body, url=URL, **options):
        async def main():
            stream = TurnStream(url, auth_key=options.pop("auth_key", KEY), sample_rate=options.pop("sample_rate", 16000), **options)
            try:
                return await body(stream)
            finally:
                await stream.close()

        return asyncio.run(main())

    def test_url_forms(self):
        for url in ("http://h:8000", "http://h:8000/raw", "ws://h:8000/stream", "h:8000"):
            self.assertEqual(stream_url(url, 48000, "int16"), "ws://h:8000/stream?sample_rate=48000&sample_type=int16")
        self.assertEqual(stream_url("https://h/x/raw", 16000, "float32"), "wss://h/x/stream?sample_rate=16000&sample_type=float32")

    def test_answers_what_raw_answers_for_the_same_audio(self):
        audio = pcm(3, seed=1)

        async def body(stream):
            for frame in frames(audio):
                stream.send_audio(frame)
            return await stream.predict()

        answer = self.run_stream(body)
        self.assertEqual(sorted(answer), ["metrics", "prediction", "probability"])
        self.assertAlmostEqual(answer["probability"], over_raw(audio)["probability"], places=6)

    def test_declares_its_rate_and_the_server_resamples(self):
        audio = pcm(2, 48000, seed=2)

        async def body(stream):
            for frame in frames(audio, 48000):
                stream.send_audio(frame)
            return await stream.predict()

        answer = self.run_stream(body, sample_rate=48000)
        self.assertAlmostEqual(answer["probability"], over_raw(audio, rate=48000)["probability"], places=3)

    def test_reset_starts_a_new_turn(self):
        before, after = pcm(2, seed=3), pcm(1, seed=4)

        async def body(stream):
            stream.send_audio(before.tobytes())
            stream.reset()
            stream.send_audio(after.tobytes())
            return await stream.predict()

        self.assertAlmostEqual(self.run_stream(body)["probability"], over_raw(after)["probability"], places=6)

    def test_a_servers_error_message_is_raised_with_its_code(self):
        async def body(stream):
            return await stream.predict()  # no audio yet

        with self.assertRaises(SmartTurnRefused) as caught:
            self.run_stream(body)
        self.assertEqual(caught.exception.code, "BAD_MESSAGE")
        self.assertIn("no audio", caught.exception.message)

    def test_a_refused_upgrade_fails_the_prediction_at_once(self):
        async def body(stream):
            stream.send_audio(pcm(0.1).tobytes())
            t0 = time.monotonic()
            try:
                await stream.predict(timeout=5)
            finally:
                self.assertLess(time.monotonic() - t0, 3)

        with self.assertRaises(SmartTurnHTTPError) as caught:
            self.run_stream(body, auth_key="wrong")
        self.assertEqual(caught.exception.status, 401)

    def test_timeout_bounds_a_silent_server(self):
        async def body(stream):
            stream.send_audio(pcm(0.1).tobytes())
            await stream.predict(timeout=0.5)

        t0 = time.monotonic()
        with self.assertRaises(SmartTurnTimeout):
            self.run_stream(body, url=SILENT)
        self.assertLess(time.monotonic() - t0, 3)

    def test_reconnects_after_the_server_closes_and_sends_the_turn_again(self):
        first, second = pcm(1, seed=5), pcm(1, seed=6)

        async def body(stream):
            for frame in frames(first):
                stream.send_audio(frame)
            await asyncio.sleep(1.0)  # the server closes the quiet stream (1008) after 500 ms
            for frame in frames(second):
                stream.send_audio(frame)
            answer = await stream.predict()
            return answer, stream.reconnects

        answer, reconnects = self.run_stream(body, url=IDLE, heartbeat=None)
        self.assertGreaterEqual(reconnects, 1)
        self.assertAlmostEqual(answer["probability"], over_raw(np.concatenate([first, second]), url=IDLE)["probability"], places=6)


class UpstreamBaseSmartTurn(StandInBaseSmartTurn):
    """Pipecat's BaseSmartTurn as far as the stream bridge relies on it: append_audio's state machine
    (speech start, silence count, buffer trim), _clear, and analyze_end_of_turn cutting the segment
    (from pre_speech_ms before the speech start, at most max_duration_secs) that test_client's stand-in
    then runs _predict_endpoint on, in its worker thread. Ported from pipecat-ai/pipecat
    src/pipecat/audio/turn/smart_turn/base_smart_turn.py (commit 07a4faa), less logging and metrics.
    """

    class Params:
        stop_secs = 3.0
        pre_speech_ms = 500.0
        max_duration_secs = 8.0

    def __init__(self, *, sample_rate=16000, **kwargs):
        super().__init__(**kwargs)
        self.set_sample_rate(sample_rate)
        self._stop_ms = self._params.stop_secs * 1000
        self._audio_buffer = []
        self._speech_triggered = False
        self._silence_ms = 0
        self._speech_start_time = 0
        self._vad_start_secs = 0.0
        self.segments = []

    def append_audio(self, buffer, is_speech):
        audio_int16 = np.frombuffer(buffer, dtype=np.int16)
        self._audio_buffer.append((time.time(), audio_int16.astype(np.float32) / 32768.0))
        state = "INCOMPLETE"
        if is_speech:
            self._silence_ms = 0
            self._speech_triggered = True
            if self._speech_start_time == 0:
                self._speech_start_time = time.time()
        elif self._speech_triggered:
            self._silence_ms += len(audio_int16) / (self.sample_rate / 1000)
            if self._silence_ms >= self._stop_ms:
                state = "COMPLETE"
                self._clear(state)
        else:
            max_buffer_time = self._params.pre_speech_ms / 1000 + self._params.stop_secs + self._params.max_duration_secs
            while self._audio_buffer and self._audio_buffer[0][0] < time.time() - max_buffer_time:
                self._audio_buffer.pop(0)
        return state

    async def analyze_end_of_turn(self):
        loop = asyncio.get_running_loop()
        state, result = await loop.run_in_executor(self._executor, self._cut_and_process, self._audio_buffer)
        if state == "COMPLETE":
            self._clear(state)
        return state, result

    def _clear(self, turn_state):
        self._speech_triggered = turn_state == "INCOMPLETE"
        self._audio_buffer = []
        self._speech_start_time = 0
        self._silence_ms = 0

    def _cut_and_process(self, audio_buffer):
        start_time = self._speech_start_time - (self._params.pre_speech_ms + self._vad_start_secs * 1000) / 1000
        start_index = next((i for i, (t, _) in enumerate(audio_buffer) if t >= start_time), 0)
        segment = np.concatenate([chunk for _, chunk in audio_buffer[start_index:]])
        segment = segment[-int(self._params.max_duration_secs * self.sample_rate) :]
        self.segments.append(segment)
        return self._process_speech_segment(segment)


class StreamAnalyzer(bridge.StreamBridge, UpstreamBaseSmartTurn):
    timeout_exception = TimeoutTurnsComplete


class StreamBridgeTest(unittest.TestCase):
    def converse(self, analyzer, script):
        """Runs `script(analyzer)` (a coroutine) on a loop, as Pipecat's transport would, then cleans up."""

        async def main():
            try:
                return await script(analyzer)
            finally:
                await analyzer.cleanup()

        return asyncio.run(main())

    def test_the_server_holds_the_segment_the_base_would_have_uploaded(self):
        before, speech, pause = pcm(0.4, seed=7), pcm(2, seed=8), pcm(0.2, seed=9)

        async def script(analyzer):
            for frame in frames(before):
                analyzer.append_audio(frame, False)
            await asyncio.sleep(0.6)  # these frames fall outside the 500 ms of pre-speech
            for frame in frames(pcm(0.3, seed=10)):
                analyzer.append_audio(frame, False)
            for frame in frames(speech):
                analyzer.append_audio(frame, True)
            for frame in frames(pause):
                analyzer.append_audio(frame, False)
            return await analyzer.analyze_end_of_turn()

        analyzer = StreamAnalyzer(url=URL, auth_key=KEY)
        state, result = self.converse(analyzer, script)
        segment = analyzer.segments[0]
        self.assertEqual(len(segment), int(16000 * 2.5))  # the 0.3 s of pre-speech, the speech, the pause
        self.assertAlmostEqual(result["probability"], over_raw((segment * 32768).astype(np.int16))["probability"], places=6)
        self.assertEqual(state, "COMPLETE" if result["prediction"] == 1 else "INCOMPLETE")

    def test_a_new_turn_after_a_complete_one_starts_from_nothing(self):
        async def script(analyzer):
            for frame in frames(pcm(3, seed=11)):
                analyzer.append_audio(frame, True)
            analyzer._clear("COMPLETE")  # as analyze_end_of_turn does after a complete turn
            for frame in frames(pcm(1, seed=12)):
                analyzer.append_audio(frame, True)
            return await analyzer.analyze_end_of_turn()

        analyzer = StreamAnalyzer(url=URL, auth_key=KEY)
        _, result = self.converse(analyzer, script)
        self.assertEqual(len(analyzer.segments[0]), 16000)
        self.assertAlmostEqual(result["probability"], over_raw((analyzer.segments[0] * 32768).astype(np.int16))["probability"], places=6)

    def test_reconnects_and_sends_the_current_turn_again(self):
        first, second = pcm(1, seed=13), pcm(1, seed=14)

        async def script(analyzer):
            for frame in frames(first):
                analyzer.append_audio(frame, True)
            await asyncio.sleep(1.0)  # the server closes the quiet stream after 500 ms
            for frame in frames(second):
                analyzer.append_audio(frame, True)
            _, result = await analyzer.analyze_end_of_turn()
            return result, analyzer._stream.reconnects

        analyzer = StreamAnalyzer(url=IDLE, auth_key=KEY, stream_options={"heartbeat": None})
        result, reconnects = self.converse(analyzer, script)
        self.assertGreaterEqual(reconnects, 1)
        self.assertAlmostEqual(result["probability"], over_raw(np.concatenate([first, second]), url=IDLE)["probability"], places=6)

    def test_a_timeout_becomes_the_bases_timeout_exception(self):
        async def script(analyzer):
            analyzer._params.stop_secs = 0.5
            analyzer.append_audio(pcm(0.1).tobytes(), True)
            return await analyzer.analyze_end_of_turn()

        t0 = time.monotonic()
        self.assertEqual(self.converse(StreamAnalyzer(url=SILENT, auth_key=KEY), script), ("COMPLETE", None))
        self.assertLess(time.monotonic() - t0, 3)


if __name__ == "__main__":
    unittest.main()
