from pipeline.scoring import StyleGuide, style_score


def test_style_checks_follow_the_guide():
    guide = StyleGuide(max_words=5, required_phrases=("thanks",))
    scores = style_score(["Short answer, thanks", "## Heading\n- as an AI language model, no",
                          "one two three four five six thanks"], guide)
    assert scores.tolist() == [1.0, 0.0, 0.75]
    assert style_score(["fine"], StyleGuide()).tolist() == [1.0]  # no required-phrase check
