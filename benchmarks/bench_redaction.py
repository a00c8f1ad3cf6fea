"""The redactor (`pipeline.replay.redaction`) on a labelled corpus: recall per category and the
share of ordinary prompts it changes.

    python benchmarks/bench_redaction.py [--per-kind 200] [--per-language 100] [--seed 0]
                                         [--show-misses 5] [--seeds N ...]

The corpus comes from `benchmarks/redaction_corpus.py` (generated from the seed, never stored):
ordinary customer-support prompts in six languages (dates, order numbers, versions, prices,
tracking codes, postcodes... that must stay intact), and sentences with one planted value of a
category each, typed in the formats people use.

* recall: a planted value counts as caught when every character of it lies inside a redacted
  span (of any kind); "as kind" is the share caught under its own category's placeholder.
* collateral: planted sentences in which something besides the planted value was redacted.
* ordinary changed: ordinary prompts whose redacted text differs from the original.
Targets (issue 22): recall >= 0.99 for every category, ordinary prompts changed <= 1 %.
With --seeds, one summary line per seed instead (other corpora from the same generator).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from redaction_corpus import KINDS, ordinary_prompts, planted_prompts  # noqa: E402

from pipeline.replay.redaction import find, redact  # noqa: E402

RECALL_TARGET, CHANGED_TARGET = 0.99, 0.01


def score(planted):
    """Per category: caught, caught as its own kind, planted, sentences with collateral
    redactions; the misses (text lines) and missed formats."""
    caught, as_kind, total, collateral = Counter(), Counter(), Counter(), Counter()
    misses: dict[str, list[str]] = defaultdict(list)
    missed_formats: Counter[str] = Counter()
    for item in planted:
        findings = find(item.text)
        covered = set()
        for f in findings:
            covered.update(range(f.start, f.end))
        total[item.kind] += 1
        if set(range(item.start, item.end)) <= covered:
            caught[item.kind] += 1
            kinds = {f.kind for f in findings if f.start < item.end and item.start < f.end}
            as_kind[item.kind] += kinds == {item.kind}
        else:
            missed_formats[item.fmt] += 1
            misses[item.kind].append(f"{item.fmt}: {item.text!r} -> {redact(item.text)!r}")
        if any(f.end <= item.start or f.start >= item.end for f in findings):
            collateral[item.kind] += 1
    return caught, as_kind, total, collateral, misses, missed_formats


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-kind", type=int, default=200)
    parser.add_argument("--per-language", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show-misses", type=int, default=5)
    parser.add_argument("--seeds", type=int, nargs="+", help="one summary line per seed")
    args = parser.parse_args(argv)
    if args.seeds:
        for seed in args.seeds:
            caught, _, total, _, _, _ = score(planted_prompts(args.per_kind, seed=seed + 1))
            ordinary = ordinary_prompts(args.per_language, seed=seed)
            changed = sum(redact(o.text) != o.text for o in ordinary) / len(ordinary)
            recalls = {kind: caught[kind] / total[kind] for kind in KINDS}
            met = min(recalls.values()) >= RECALL_TARGET and changed <= CHANGED_TARGET
            print(f"seed {seed}: recall " + ", ".join(f"{k} {v:.3f}" for k, v in recalls.items())
                  + f"; ordinary changed {changed:.3f}; {'met' if met else 'NOT MET'}")
        return 0

    ordinary = ordinary_prompts(args.per_language, seed=args.seed)
    planted = planted_prompts(args.per_kind, seed=args.seed + 1)

    started = time.perf_counter()
    caught, as_kind, total, collateral, misses, missed_formats = score(planted)
    changed = [(o, redact(o.text)) for o in ordinary]
    changed = [(o, after) for o, after in changed if after != o.text]
    elapsed = time.perf_counter() - started
    texts = len(planted) + len(ordinary)

    print(f"corpus: {len(planted)} planted values ({args.per_kind} per category), "
          f"{len(ordinary)} ordinary prompts ({args.per_language} per language x 6); "
          f"seed {args.seed}")
    print(f"{'category':<12} {'planted':>7} {'caught':>6} {'recall':>7} {'as kind':>7} "
          f"{'collateral':>10}  target")
    met = True
    for kind in KINDS:
        recall = caught[kind] / total[kind]
        ok = recall >= RECALL_TARGET
        met &= ok
        print(f"{kind:<12} {total[kind]:>7} {caught[kind]:>6} {recall:>7.3f} "
              f"{as_kind[kind] / total[kind]:>7.3f} {collateral[kind] / total[kind]:>10.3f}  "
              f"{'met' if ok else 'NOT MET'} (>= {RECALL_TARGET})")
    share = len(changed) / len(ordinary)
    met &= share <= CHANGED_TARGET
    by_language = Counter(o.language for o, _ in changed)
    print(f"ordinary prompts changed: {len(changed)} of {len(ordinary)} = {share:.3f}  "
          f"{'met' if share <= CHANGED_TARGET else 'NOT MET'} (<= {CHANGED_TARGET})"
          + (f"  by language {dict(sorted(by_language.items()))}" if changed else ""))
    print(f"time: {elapsed / texts * 1000:.2f} ms per text ({texts} texts)")
    if missed_formats:
        print("missed, by format:", dict(missed_formats.most_common()))
    if args.show_misses:
        for kind in KINDS:
            for line in misses[kind][:args.show_misses]:
                print("  miss", line)
        for o, after in changed[:args.show_misses * 2]:
            print(f"  changed [{o.language}] {o.text!r}\n       -> {after!r}")
    print("all targets met" if met else "targets NOT met (see above)")

    # The same values in sentences that name no category (not part of the targets).
    neutral = planted_prompts(args.per_kind, seed=args.seed + 1, neutral=True)
    caught, _, total, _, _, missed_formats = score(neutral)
    print("\nwithout a category word in the sentence (not part of the targets): recall "
          + ", ".join(f"{kind} {caught[kind] / total[kind]:.3f}" for kind in KINDS))
    if missed_formats:
        print("  missed, by format:", dict(missed_formats.most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
