from edgemood.labels import EMOTIONS, SENTIMENT, sentiment_of
from edgemood.ravdess import parse_name


def test_parses_every_field():
    name = parse_name("/data/Actor_12/03-01-05-02-01-02-12.flac")
    assert name is not None
    assert (name.modality, name.vocal_channel, name.intensity) == (3, 1, 2)
    assert (name.statement, name.repetition, name.actor) == (1, 2, 12)
    assert name.emotion == "angry" and name.label == EMOTIONS.index("angry")
    assert name.transcript == "Kids are talking by the door"
    assert name.female


def test_video_names_and_statement_two():
    name = parse_name("01-01-08-01-02-01-07.mp4")
    assert name.emotion == "surprised" and not name.female
    assert name.transcript == "Dogs are sitting by the door"


def test_rejects_names_outside_the_scheme():
    for bad in (
        "clip.mp4",
        "03-01-09-01-01-01-01.wav",  # emotion 09 does not exist
        "03-01-05-03-01-01-01.wav",  # intensity 03
        "03-01-05-01-03-01-01.wav",  # statement 03
        "03-01-05-01-01-01-25.wav",  # actor 25
        "04-01-05-01-01-01-01.wav",  # modality 04
        "03-01-05-01-01-01.wav",  # six fields
        "03-01-05-01-01-01-01-01.wav",
    ):
        assert parse_name(bad) is None, bad


def test_every_emotion_has_a_sentiment():
    assert set(SENTIMENT) == set(EMOTIONS)
    assert set(SENTIMENT.values()) == {"positive", "neutral", "negative"}
    assert sentiment_of("happy") == "positive" and sentiment_of("sad") == "negative"
