"""Opt-out recall and precision of the reply classifier, by channel, with the error table.

    .venv/bin/python -m experiments.intent_eval [--markdown]

On the shipped labelled set (``optimizer/compliance/data/replies_labelled.csv``) it measures:
the rules alone on every row; rules + the classifier trained on the ``train`` split, on the
held-out ``test`` split and on every row (the latter includes the rows it was trained on). An
opt-out is a reply labelled ``opt_out`` or ``wrong_number`` (both suppress the number). Then
the error table: each reply the shipped pipeline labels differently from its label (held-out
rows, and every opt-out error on any row), expected and got.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from optimizer.compliance.intent import (
    OPT_OUT_THRESHOLD,
    SUPPRESSING_INTENTS,
    LabelledReply,
    ReplyIntent,
    classify_reply,
    load_labelled,
    train_model,
)
from optimizer.vocabulary import CHANNELS


@dataclass(frozen=True)
class Score:
    rows: int
    positives: int
    true_pos: int
    false_pos: int
    false_neg: int
    label_correct: int

    @property
    def precision(self) -> float:
        found = self.true_pos + self.false_pos
        return self.true_pos / found if found else 1.0

    @property
    def recall(self) -> float:
        return self.true_pos / self.positives if self.positives else 1.0

    @property
    def accuracy(self) -> float:
        return self.label_correct / self.rows if self.rows else 1.0


@dataclass(frozen=True)
class Outcome:
    row: LabelledReply
    got: ReplyIntent

    @property
    def expected_opt_out(self) -> bool:
        return self.row.label in SUPPRESSING_INTENTS

    @property
    def got_opt_out(self) -> bool:
        return self.got.compliance == "opt_out"


def score(outcomes: Sequence[Outcome]) -> Score:
    return Score(
        rows=len(outcomes),
        positives=sum(o.expected_opt_out for o in outcomes),
        true_pos=sum(o.expected_opt_out and o.got_opt_out for o in outcomes),
        false_pos=sum(o.got_opt_out and not o.expected_opt_out for o in outcomes),
        false_neg=sum(o.expected_opt_out and not o.got_opt_out for o in outcomes),
        label_correct=sum(o.got.intent == o.row.label for o in outcomes),
    )


def run(rows: Sequence[LabelledReply], classify: Callable[[str], ReplyIntent]) -> list[Outcome]:
    return [Outcome(row, classify(row.text)) for row in rows]


def _table(title: str, outcomes: Sequence[Outcome]) -> list[str]:
    lines = [
        f"**{title}**",
        "",
        "| channel | replies | opt-outs | precision | recall | false pos | false neg | label accuracy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for channel in (*CHANNELS, "all"):
        part = [o for o in outcomes if channel == "all" or o.row.channel == channel]
        if not part:
            continue
        s = score(part)
        lines.append(
            f"| {channel} | {s.rows} | {s.positives} | {s.precision:.3f} | {s.recall:.3f} | "
            f"{s.false_pos} | {s.false_neg} | {s.accuracy:.3f} |"
        )
    return [*lines, ""]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _errors(title: str, outcomes: Sequence[Outcome]) -> list[str]:
    lines = [
        f"**{title}**",
        "",
        "| channel | text | expected | got | by | opt-out error |",
        "|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        kind = ""
        if o.expected_opt_out and not o.got_opt_out:
            kind = "missed opt-out"
        elif o.got_opt_out and not o.expected_opt_out:
            kind = "false opt-out"
        lines.append(
            f"| {o.row.channel} | {_cell(o.row.text)} | {o.row.label} | {o.got.intent} | "
            f"{o.got.rule or o.got.source} | {kind} |"
        )
    if len(lines) == 4:
        lines.append("| | (none) | | | | |")
    return [*lines, ""]


THRESHOLDS = (0.25, 0.3, 0.35, 0.4, 0.5, 0.6)


def threshold_table(train: Sequence[LabelledReply], *, folds: int = 4, seed: int = 0) -> list[str]:
    """Opt-out precision and recall of rules + classifier at each model threshold, 4-fold
    cross-validated on the train split (how ``OPT_OUT_THRESHOLD`` was chosen)."""
    from sklearn.model_selection import StratifiedKFold

    strata = [r.label if r.label != "help" else "other" for r in train]
    counts = {t: [0, 0, 0] for t in THRESHOLDS}
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for fit, held in splitter.split(list(train), strata):
        model = train_model([train[i] for i in fit])
        for i in held:
            row = train[i]
            expected = row.label in SUPPRESSING_INTENTS
            for threshold, tally in counts.items():
                got = classify_reply(row.text, model=model, threshold=threshold)
                found = got.compliance == "opt_out"
                tally[0] += expected and found
                tally[1] += found and not expected
                tally[2] += expected and not found
    lines = [
        f"**Model threshold, {folds}-fold cross-validation on the train split (seed {seed})**",
        "",
        "| threshold | precision | recall | false pos | false neg |",
        "|---:|---:|---:|---:|---:|",
    ]
    for threshold, (tp, fp, fn) in counts.items():
        lines.append(
            f"| {threshold:.2f} | {tp / (tp + fp):.3f} | {tp / (tp + fn):.3f} | {fp} | {fn} |"
        )
    return [*lines, ""]


def report(rows: Sequence[LabelledReply]) -> str:
    train = [r for r in rows if r.split == "train"]
    test = [r for r in rows if r.split == "test"]
    model = train_model(train)

    def rules(text: str) -> ReplyIntent:
        return classify_reply(text, use_model=False)

    def pipeline(text: str) -> ReplyIntent:
        return classify_reply(text, model=model)

    rules_all = run(rows, rules)
    pipe_test = run(test, pipeline)
    pipe_all = run(rows, pipeline)
    lines = [
        f"{len(rows)} labelled replies ({len(train)} train, {len(test)} held-out test); "
        f"model opt-out threshold {OPT_OUT_THRESHOLD}",
        "",
        *threshold_table(train),
        *_table("Rules alone, every reply", rules_all),
        *_table("Rules + classifier (trained on train), held-out test split", pipe_test),
        *_table("Rules + classifier, every reply (train rows included)", pipe_all),
        *_errors(
            "Opt-out errors, rules alone (every reply)",
            [o for o in rules_all if o.expected_opt_out != o.got_opt_out],
        ),
        *_errors(
            "Errors of rules + classifier on the held-out split (every wrong label)",
            [o for o in pipe_test if o.got.intent != o.row.label],
        ),
        *_errors(
            "Opt-out errors of rules + classifier, every reply",
            [o for o in pipe_all if o.expected_opt_out != o.got_opt_out],
        ),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    print(report(load_labelled()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
