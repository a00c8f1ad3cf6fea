import pandas as pd

from pipeline.demo import world


def test_generation_is_deterministic(small_traffic):
    again = world.generate_traffic(300, seed=11)
    pd.testing.assert_frame_equal(small_traffic, again)
    assert world.generate_labels(small_traffic, 20, seed=11).equals(
        world.generate_labels(small_traffic, 20, seed=11)
    )


def test_traffic_shape(small_traffic):
    assert small_traffic["request_id"].is_unique
    assert set(small_traffic["region"]) == set(world.REGION_LANGUAGE)
    unsafe = small_traffic["expects_refusal"]
    assert 0.1 < unsafe.mean() < 0.3
    assert small_traffic.loc[unsafe, "reference"].isna().all()
    assert small_traffic.loc[~unsafe, "reference"].notna().all()


def test_answers_depend_only_on_the_request():
    system, prompt = world.system_prompt("de"), "wie kann ich konto rechnung (ticket 1)?"
    first = world.answer("candidate-a", system, prompt)
    assert first == world.answer("candidate-a", system, prompt)
    assert world.region_of(system) == "de"


def test_truth_matches_the_story(small_traffic):
    deltas = world.true_deltas(small_traffic)
    overall = deltas[deltas["region"].isna()].set_index(  # region None: all traffic
        ["candidate", "dimension"])["true_delta"]
    truth = deltas.dropna(subset=["region"]).set_index(
        ["candidate", "dimension", "region"])["true_delta"]
    assert overall["candidate-a", "correctness"] > 0.3
    assert overall["candidate-b", "refusal"] < -0.03
    assert truth["candidate-b", "correctness", "it"] < -0.5


def test_labels_are_paired_and_include_malformed_rows(small_traffic):
    labels = world.generate_labels(small_traffic, per_dimension=20, seed=3)
    good = labels[labels["request_id"].isin(small_traffic["request_id"])
                  & labels["model"].isin(world.MODELS) & labels["dimension"].isin(world.DIMENSIONS)]
    per_item = good.groupby(["dimension", "request_id"])["model"].nunique()
    assert (per_item == len(world.MODELS)).mean() > 0.95
    assert len(labels) - len(good) >= 3
