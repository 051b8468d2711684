"""Tests of smart_turn_client against a real server. Run by test/python-client.test.ts, which starts
the server (fixture model readout-v2.onnx, AUTH_KEY=dev) and passes its URLs:
  SMART_TURN_TEST_URL     the server's /raw
  SMART_TURN_TEST_DEAD    a /raw URL where nothing listens
  SMART_TURN_TEST_SILENT  a /raw URL that accepts connections and never answers
Standalone: /usr/bin/python3 -m unittest discover -s clients/python/tests (with those set).
"""

import asyncio
import io
import math
import os
import sys
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.signal import resample_poly

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from smart_turn_client import (  # noqa: E402
    SmartTurnHTTPError,
    SmartTurnTimeout,
    SmartTurnUnreachable,
    encode,
    predict,
)
from smart_turn_client import pipecat as bridge  # noqa: E402

URL = os.environ["SMART_TURN_TEST_URL"]
DEAD = os.environ["SMART_TURN_TEST_DEAD"]
SILENT = os.environ["SMART_TURN_TEST_SILENT"]
KEY = "dev"


def tone(n: int) -> np.ndarray:
    return (0.3 * np.sin(0.05 * np.arange(n))).astype(np.float32)


def voice_like(rate: int, seconds: float = 5.0) -> np.ndarray:
    """A tremolo 220 Hz tone and two partials up to 2.9 kHz, faded in and out over 50 ms: inside the
    passband of any 8 kHz pipeline, so resamplers may only differ by their filters' ripple."""
    t = np.arange(int(rate * seconds)) / rate
    x = 0.2 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    x += 0.1 * np.sin(2 * np.pi * 1370 * t + 0.3) + 0.05 * np.sin(2 * np.pi * 2900 * t)
    return (x * np.minimum(1, np.minimum(t, t[-1] - t) / 0.05)).astype(np.float32)


#: Largest difference in probability allowed between a clip the server resampled and the same clip
#: resampled to 16 kHz beforehand (scipy's resample_poly). On voice_like() audio the two resamplers
#: (libsamplerate's sinc filter, scipy's Kaiser polyphase) agree to about -60 dB (rms difference
#: 8e-5 from 8 kHz, 2e-5 from 48 kHz, against an rms of 0.12), and give the same number of samples. A
#: model reading the clip's length sees no difference; one weighting every sample (the value-sensitive
#: fixtures: z = 4 * sum(w_i * x_i) / sqrt(n) + ..., |w_i| < 0.5) moved by 7e-6 at most when this was
#: measured. 1e-3 leaves room for other smooth models, and is far below what a clip sent at the wrong
#: rate changes (test_an_undeclared_rate_is_heard_at_the_wrong_speed: 0.05 and more).
RESAMPLED_TOLERANCE = 1e-3


def fixture_probability(audio: np.ndarray) -> float:
    """What readout-v2.onnx answers for 16 kHz float audio (scripts/make_fixtures.py defines it): the
    last 16 s normalized to zero mean and unit variance, then a fixed pseudo-random read-out."""
    x = np.asarray(audio, dtype=np.float64)[-256000:]
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    k = (np.arange(x.size, dtype=np.uint64) * 2654435761) % 2**32
    w = (k >> 8).astype(np.float64) * 2.0**-24 - 0.5
    z = 4 * np.dot(w, x) / math.sqrt(x.size) + 4 * (x.size / 256000 - 0.5)
    return 1 / (1 + math.exp(-z))


class PredictTest(unittest.TestCase):
    def test_refuses_stereo_audio_before_sending(self):
        with self.assertRaisesRegex(ValueError, "mono"):
            encode(np.zeros((2, 100), np.float32))

    def test_wrong_key_is_an_http_error_with_the_servers_message(self):
        with self.assertRaises(SmartTurnHTTPError) as caught:
            asyncio.run(predict(tone(16000), URL, auth_key="wrong"))
        self.assertEqual(caught.exception.status, 401)
        self.assertEqual(caught.exception.code, "UNAUTHORIZED")
        self.assertIn("AUTH_KEY", caught.exception.message)

    def test_unreachable_host(self):
        with self.assertRaises(SmartTurnUnreachable):
            asyncio.run(predict(tone(16000), DEAD, auth_key=KEY))

    def test_total_timeout_bounds_a_silent_server(self):
        # Only the timeout can end this call (the server never answers); without it the suite would
        # hang until test/python-client.test.ts stops it. Not before the timeout, either.
        t0 = time.monotonic()
        with self.assertRaises(SmartTurnTimeout):
            asyncio.run(predict(tone(16000), SILENT, auth_key=KEY, timeout=0.5))
        self.assertGreaterEqual(time.monotonic() - t0, 0.45)

    def test_answers_as_pipecat_reads_them(self):
        answer = asyncio.run(predict(tone(200000), URL, auth_key=KEY))
        self.assertEqual(sorted(answer), ["metrics", "prediction", "probability"])
        self.assertAlmostEqual(answer["probability"], fixture_probability(tone(200000)), places=5)
        self.assertEqual(answer["prediction"], int(fixture_probability(tone(200000)) > 0.5))
        self.assertGreater(answer["metrics"]["inference_time"], 0)

    def test_8k_and_48k_resampled_by_the_server_answer_as_audio_resampled_beforehand(self):
        for rate in (8000, 48000):
            with self.subTest(rate=rate):
                audio = voice_like(rate)
                by_server = asyncio.run(predict(audio, URL, sample_rate=rate, auth_key=KEY))
                beforehand = resample_poly(audio.astype(np.float64), 16000, rate).astype(np.float32)
                self.assertEqual(len(beforehand), 80000)
                at_16k = asyncio.run(predict(beforehand, URL, sample_rate=16000, auth_key=KEY))
                self.assertLess(abs(by_server["probability"] - at_16k["probability"]), RESAMPLED_TOLERANCE)

    def test_an_undeclared_rate_is_heard_at_the_wrong_speed(self):
        """What upstream's analyzer does: the comparison above would catch a rate that is not used."""
        for rate in (8000, 48000):
            with self.subTest(rate=rate):
                audio = voice_like(rate)
                declared = asyncio.run(predict(audio, URL, sample_rate=rate, auth_key=KEY))
                undeclared = asyncio.run(predict(audio, URL, sample_rate=None, auth_key=KEY))
                self.assertGreater(abs(declared["probability"] - undeclared["probability"]), 50 * RESAMPLED_TOLERANCE)

    def test_int16_payload_answers_as_float32_in_half_the_bytes(self):
        pcm = (voice_like(8000) * 32767).astype(np.int16)
        as_float = pcm.astype(np.float32) / 32768.0  # Pipecat's buffer
        self.assertLess(len(encode(as_float, "int16")), 0.51 * len(encode(as_float)))
        self.assertEqual(encode(as_float, "int16"), encode(pcm, "int16"))
        a = asyncio.run(predict(as_float, URL, sample_rate=8000, dtype="int16", auth_key=KEY))
        b = asyncio.run(predict(as_float, URL, sample_rate=8000, auth_key=KEY))
        self.assertEqual(a["probability"], b["probability"])

    def test_refuses_an_unknown_dtype_and_reports_a_refused_rate(self):
        with self.assertRaisesRegex(ValueError, "dtype must be one of"):
            encode(tone(100), "float64")
        with self.assertRaises(SmartTurnHTTPError) as caught:
            asyncio.run(predict(tone(16000), URL, sample_rate=4000, auth_key=KEY))
        self.assertEqual((caught.exception.status, caught.exception.code), (400, "BAD_QUERY"))

    def test_int16_scaled_audio_as_pipecat_buffers_it(self):
        pcm = (tone(48000) * 32767).astype(np.int16)
        self.assertEqual(np.load(io.BytesIO(encode(pcm))).dtype, np.dtype("<f4"))
        answer = asyncio.run(predict(pcm, URL, headers={"Authorization": f"Key {KEY}"}))
        expected = fixture_probability(pcm / 32768.0)
        self.assertAlmostEqual(answer["probability"], expected, places=5)
        self.assertEqual(answer["prediction"], int(expected > 0.5))


class TimeoutTurnsComplete(Exception):
    """Stands in for Pipecat's SmartTurnTimeoutException."""


class StandInBaseSmartTurn:
    """The parts of Pipecat's BaseSmartTurn the bridge relies on (base_smart_turn.py at
    pipecat-ai/pipecat acead05): a params object with stop_secs, analyze_end_of_turn running
    _predict_endpoint on a one-thread executor via loop.run_in_executor, and BaseTurnAnalyzer's
    sample_rate (0 until the pipeline calls set_sample_rate, unless given to the constructor)."""

    class Params:
        stop_secs = 3.0

    def __init__(self, *, sample_rate=None, **kwargs):
        self._params = self.Params()
        self._executor = ThreadPoolExecutor(max_workers=1)
        self._init_sample_rate = sample_rate
        self._sample_rate = 0
        self.threads = []
        self.audio = tone(256000)

    @property
    def sample_rate(self):
        return self._sample_rate

    def set_sample_rate(self, sample_rate):
        self._sample_rate = self._init_sample_rate or sample_rate

    async def analyze_end_of_turn(self):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._process_speech_segment, self.audio)

    def _process_speech_segment(self, audio):
        self.threads.append(threading.current_thread())
        try:
            result = self._predict_endpoint(audio)
            return ("COMPLETE" if result["prediction"] == 1 else "INCOMPLETE"), result
        except TimeoutTurnsComplete:
            return "COMPLETE", None

    async def cleanup(self):
        self._executor.shutdown(wait=False)


class Analyzer(bridge.LoopBridge, StandInBaseSmartTurn):
    timeout_exception = TimeoutTurnsComplete


class UpstreamBugTest(unittest.TestCase):
    def test_get_running_loop_raises_in_the_executor_thread(self):
        """What Pipecat's HttpSmartTurnAnalyzer._predict_endpoint does, and why it never sends."""

        async def main():
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, asyncio.get_running_loop)

        with self.assertRaisesRegex(RuntimeError, "no running event loop"):
            asyncio.run(main())


class LoopBridgeTest(unittest.TestCase):
    def run_analyzer(self, analyzer):
        async def main():
            try:
                return await analyzer.analyze_end_of_turn()
            finally:
                await analyzer.cleanup()

        return asyncio.run(main())

    def test_module_imports_without_pipecat_and_says_what_is_missing(self):
        try:
            import pipecat  # noqa: F401
        except ImportError:
            for name in ("SmartTurnHttpAnalyzer", "SmartTurnStreamAnalyzer"):
                with self.assertRaisesRegex(ImportError, "pip install pipecat-ai"):
                    getattr(bridge, name)
        else:
            self.skipTest("pipecat is installed here")

    def test_sends_from_the_worker_thread_through_the_loop(self):
        analyzer = Analyzer(url=URL, auth_key=KEY)
        state, result = self.run_analyzer(analyzer)
        self.assertIsNot(analyzer.threads[0], threading.main_thread())
        self.assertEqual(state, "COMPLETE")
        self.assertAlmostEqual(result["probability"], fixture_probability(tone(256000)), places=5)

    def test_declares_the_pipelines_rate_and_can_send_int16(self):
        beforehand = resample_poly(voice_like(48000).astype(np.float64), 16000, 48000).astype(np.float32)
        at_16k = asyncio.run(predict(beforehand, URL, auth_key=KEY))
        for dtype in ("float32", "int16"):
            with self.subTest(dtype=dtype):
                analyzer = Analyzer(url=URL, auth_key=KEY, dtype=dtype)
                analyzer.set_sample_rate(48000)  # as the pipeline does when it starts
                analyzer.audio = voice_like(48000)
                state, result = self.run_analyzer(analyzer)
                self.assertLess(abs(result["probability"] - at_16k["probability"]), RESAMPLED_TOLERANCE)
        with self.assertRaisesRegex(ValueError, "dtype must be one of"):
            Analyzer(url=URL, dtype="float64")

    def test_uses_a_given_session_and_headers(self):
        import aiohttp

        async def main():
            async with aiohttp.ClientSession() as session:
                analyzer = Analyzer(url=URL, aiohttp_session=session, headers={"Authorization": f"Key {KEY}"})
                state, result = await analyzer.analyze_end_of_turn()
                self.assertFalse(session.closed)
                return state, result

        state, result = asyncio.run(main())
        self.assertEqual(state, "COMPLETE")

    def test_a_timeout_becomes_the_bases_timeout_exception(self):
        analyzer = Analyzer(url=SILENT, auth_key=KEY)
        analyzer._params.stop_secs = 0.5
        t0 = time.monotonic()
        state, result = self.run_analyzer(analyzer)
        self.assertEqual((state, result), ("COMPLETE", None))
        self.assertGreaterEqual(time.monotonic() - t0, 0.45)

    def test_other_failures_read_as_incomplete(self):
        analyzer = Analyzer(url=URL, auth_key="wrong")
        with self.assertLogs("smart_turn_client.pipecat", "ERROR") as logs:
            state, result = self.run_analyzer(analyzer)
        self.assertEqual((state, result["prediction"]), ("INCOMPLETE", 0))
        self.assertIn("401", logs.output[0])

    def test_refuses_to_block_the_loop_thread(self):
        async def main():
            analyzer = Analyzer(url=URL, auth_key=KEY)
            analyzer._loop = asyncio.get_running_loop()
            analyzer._predict_endpoint(tone(100))

        with self.assertRaisesRegex(RuntimeError, "off the event loop thread"):
            asyncio.run(main())


if __name__ == "__main__":
    unittest.main()
