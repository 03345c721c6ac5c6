"""The label space: the 8 RAVDESS emotions, in the model's output order, and sentiment."""

from __future__ import annotations

# Output order of the fusion model: RAVDESS emotion codes 01..08.
EMOTIONS: tuple[str, ...] = (
    "neutral",
    "calm",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgust",
    "surprised",
)

# Sentiment derived from the predicted emotion. Surprise is ambiguous in valence; in RAVDESS it is
# acted mostly as pleasant astonishment, so it counts as positive. Calm is a low-arousal, pleasant
# state, but it is acted close to neutral, so it stays neutral.
SENTIMENT: dict[str, str] = {
    "neutral": "neutral",
    "calm": "neutral",
    "happy": "positive",
    "surprised": "positive",
    "sad": "negative",
    "angry": "negative",
    "fearful": "negative",
    "disgust": "negative",
}

MODALITIES: tuple[str, ...] = ("audio", "visual", "text")


def sentiment_of(emotion: str) -> str:
    """Return 'positive', 'neutral' or 'negative' for one of EMOTIONS."""
    return SENTIMENT[emotion]
