"""Client for the Smart Turn inference server (Pipecat's HttpSmartTurnAnalyzer wire format).

``predict`` posts one clip and returns the server's answer; ``TurnStream`` streams a conversation's
turns to GET /stream and asks at the pauses; ``smart_turn_client.pipecat`` holds the Pipecat analyzers
built on them (imported only when Pipecat is installed).
"""

from .client import (
    DTYPES,
    SmartTurnBadAnswer,
    SmartTurnError,
    SmartTurnHTTPError,
    SmartTurnTimeout,
    SmartTurnUnreachable,
    encode,
    predict,
)
from .stream import SmartTurnRefused, TurnStream

__all__ = [
    "DTYPES",
    "SmartTurnBadAnswer",
    "SmartTurnError",
    "SmartTurnHTTPError",
    "SmartTurnRefused",
    "SmartTurnTimeout",
    "SmartTurnUnreachable",
    "TurnStream",
    "encode",
    "predict",
]
