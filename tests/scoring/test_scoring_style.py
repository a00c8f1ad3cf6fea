import math

import numpy as np
import pytest

from pipeline.demo import world as demo_world
from pipeline.scoring import StyleGuide, language_score, style_score
from pipeline.scoring.style import language_probability


def test_style_checks_follow_the_guide():
    guide = StyleGuide(max_words=5, required_phrases=("thanks",))
    scores = style_score(["Short answer, thanks", "## Heading\n- as an AI language model, no",
                          "one two three four five six thanks"], guide)
    assert scores.tolist() == [1.0, 0.0, 0.75]
    assert style_score(["fine"], StyleGuide()).tolist() == [1.0]  # no required-phrase check


SENTENCES = {
    "en": "Your refund was sent yesterday and should reach your card within five days.",
    "de": "Ihre Erstattung wurde gestern gesendet und sollte in fünf Tagen auf Ihrer Karte sein.",
    "fr": "Votre remboursement a été envoyé hier et arrivera sur votre carte dans cinq jours.",
    "es": "Su reembolso se envió ayer y llegará a su tarjeta dentro de cinco días.",
    "pt": "O seu reembolso foi enviado ontem e chegará ao seu cartão dentro de cinco dias.",
    "it": "Il rimborso è stato inviato ieri e arriverà sulla sua carta entro cinque giorni.",
}


@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_language_check_scores_the_expected_language_high_and_others_low(language):
    assert language_probability(SENTENCES[language], language) > 0.9
    for other in set(SENTENCES) - {language}:
        assert language_probability(SENTENCES[other], language) < 0.1, other


def test_text_too_short_to_tell_gets_no_language_check():
    # Fewer than 10 letters: the detector is near chance ("Danke." is 4% German), so the
    # check is skipped rather than failed; the length check is what catches an empty answer.
    assert math.isnan(language_probability("Danke.", "de"))
    assert math.isnan(language_probability("", "de"))
    assert math.isnan(language_probability(None, "de"))
    scores = language_score(["Ja, das geht gut.", "", "Ja, das geht gut."], ["de", "de", None])
    assert scores[0] > 0.5 and np.isnan(scores[1:]).all()  # None: no language expected
    assert style_score([""], StyleGuide(language="de")).tolist() == [2 / 3]  # length fails
    assert style_score(["Danke."], StyleGuide(language="de")).tolist() == [1.0]


def test_language_enters_the_style_score_as_a_graded_check():
    german = SENTENCES["de"]
    right = style_score([german], StyleGuide(language="de"))[0]
    wrong = style_score([german], StyleGuide(language="fr"))[0]
    assert right > 0.97 and 0.75 <= wrong < 0.77  # three checks pass, the fourth is ~0


def test_language_check_is_deterministic():
    texts = [*SENTENCES.values(), "Mixed: das ist ein Satz, and this is English."]
    first = language_score(texts, ["de"] * len(texts))
    assert np.array_equal(first, language_score(texts, ["de"] * len(texts)))


def test_unknown_language_code_is_rejected_with_the_known_ones():
    with pytest.raises(ValueError, match="'german' is not an ISO 639-1 code.*'de'"):
        StyleGuide(language="german")


def test_most_demo_answers_pass_their_regions_language_check():
    traffic = demo_world.generate_traffic(200, seed=3)
    texts, languages = [], []
    for request in traffic.itertuples(index=False):
        for model in demo_world.MODELS:
            texts.append(demo_world.answer(model, request.system, request.prompt).text)
            languages.append(request.language)
    scores = language_score(texts, languages)
    # Measured on 3,000 answers: 98% above 0.5, mean 0.92; the misses are accent-less
    # Spanish and Portuguese word lists the detector takes for Galician or Aragonese.
    assert np.mean(scores > 0.5) >= 0.95 and np.nanmean(scores) > 0.85
    assert not np.isnan(scores).any()
