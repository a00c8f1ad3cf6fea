"""Writes the sample files of this folder from the offline demo's world (our own synthetic
data, no third-party content): ``python examples/generate.py``. The files are committed; this
only says where they came from and makes them again if the formats change."""

from pathlib import Path

from pipeline.demo import world

HERE = Path(__file__).resolve().parent


def main() -> None:
    traffic = world.generate_traffic(240, seed=21)
    # as an export writes them: ISO 8601 times in UTC, booleans as true/false
    traffic["ts"] = traffic["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    traffic["expects_refusal"] = traffic["expects_refusal"].map({True: "true", False: "false"})
    labels = world.generate_labels(world.generate_traffic(240, seed=21), 80, seed=21,
                                   bad_rows=True)
    traffic.to_csv(HERE / "traffic.csv", index=False)
    labels.to_csv(HERE / "labels" / "labels-2026-11.csv", index=False)


if __name__ == "__main__":
    main()
