"""Client for the Smart Turn inference server (Pipecat's HttpSmartTurnAnalyzer wire format).

``predict`` posts one clip and returns the server's answer; ``smart_turn_client.pipecat`` holds a
drop-in Pipecat analyzer built on it (imported only when Pipecat is installed).
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

__all__ = [
    "DTYPES",
    "SmartTurnBadAnswer",
    "SmartTurnError",
    "SmartTurnHTTPError",
    "SmartTurnTimeout",
    "SmartTurnUnreachable",
    "encode",
    "predict",
]
