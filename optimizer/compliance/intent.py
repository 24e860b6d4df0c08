"""Reply intent: what a lead's reply means, for compliance first and for the sales hand-off.

Every reply gets one of :data:`REPLY_INTENTS`. The rules (:func:`classify_inbound`) decide
first and alone decide ``help`` and ``start``; their opt-out is final. A trained classifier
(TF-IDF over character n-grams + logistic regression, trained on the shipped labelled replies,
``data/replies_labelled.csv``, split ``train``) then labels the rest, and may *add* an opt-out:
when its probability of ``opt_out`` or ``wrong_number`` reaches :data:`OPT_OUT_THRESHOLD` (kept
low: when unsure, the safe side is an opt-out), unless the reply matches one of the rules table's
``model_keep_guards`` ("don't stop", "stop by tomorrow?", "cancel my appointment").

Policy for look-alikes: a reply that names a per-se word only as an everyday word ("stop by",
"bus stop", "when does the offer end?", "can I cancel my appointment?") or negates it ("don't
stop, I'm interested") is no opt-out; a per-se word standing alone, in any sentence of the
reply, always is. A bare "not interested" (nothing else) is taken as "stop contacting me"; a
decline with a reason or a time ("not right now", "too expensive", "I already have a dentist")
is ``not_interested``: no hand-off, no reward, but no suppression either.

The model is trained in-process from the CSV on first use (a few hundred rows: well under a
second, deterministic), so no pickled artifact is shipped.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

from optimizer.compliance.inbound import _LONG_RUNS, classify_inbound, normalise
from optimizer.compliance.rules import load_rules

ReplyLabel = Literal[
    "opt_out", "help", "interested", "question", "not_interested", "wrong_number", "other"
]
REPLY_INTENTS: tuple[str, ...] = (
    "opt_out",
    "help",
    "interested",
    "question",
    "not_interested",
    "wrong_number",
    "other",
)
# Intents that revoke consent and suppress the number.
SUPPRESSING_INTENTS = ("opt_out", "wrong_number")
# Intents that put the lead on the sales hand-off list (and count as a positive reply reward).
HANDOFF_INTENTS = ("interested", "question")
# The labels the model may give a reply the rules did not settle (help/start are the rules').
_MODEL_LABELS = ("interested", "question", "not_interested", "other")
# The lowest threshold whose 4-fold cross-validated opt-out precision on the train split is
# >= 0.93 (0.35: 0.911, 0.40: 0.940, 0.50: 0.966; recall 1.000 at each): `experiments/intent_eval.py`.
OPT_OUT_THRESHOLD = 0.40
DATA_FILE = "replies_labelled.csv"


@dataclass(frozen=True, slots=True)
class LabelledReply:
    text: str
    channel: str
    label: str
    split: str


@dataclass(frozen=True, slots=True)
class ReplyIntent:
    """``intent``: the reply's label; ``compliance``: what the gate acts on (``opt_out``,
    ``help``, ``start`` or ``other``); ``source``: ``rule`` or ``model`` (or ``none`` for empty
    text); ``opt_out_probability``: the model's, when it ran."""

    intent: str
    compliance: Literal["opt_out", "help", "start", "other"]
    rule: str | None
    source: Literal["rule", "model", "none"]
    opt_out_probability: float | None = None

    def meta(self) -> dict[str, Any]:
        """What an event's meta keeps of it."""
        out: dict[str, Any] = {"reply_intent": self.intent, "intent_source": self.source}
        if self.opt_out_probability is not None:
            out["opt_out_probability"] = round(self.opt_out_probability, 4)
        return out


def load_labelled(text: str | None = None) -> list[LabelledReply]:
    """The shipped labelled replies (or ``text`` in the same CSV form)."""
    if text is None:
        text = (
            resources.files("optimizer.compliance")
            .joinpath("data", DATA_FILE)
            .read_text(encoding="utf-8")
        )
    rows = []
    for line, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        if row["label"] not in REPLY_INTENTS:
            raise ValueError(
                f"{DATA_FILE} line {line}: label {row['label']!r} "
                f"(one of {', '.join(REPLY_INTENTS)} expected)"
            )
        rows.append(LabelledReply(row["text"], row["channel"], row["label"], row["split"]))
    return rows


def _features(text: str) -> str:
    return _LONG_RUNS.sub(r"\1", normalise(text))


class IntentModel:
    """TF-IDF character n-grams (2-5, within words) + multinomial logistic regression."""

    def __init__(self, texts: Sequence[str], labels: Sequence[str]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        self.pipeline = make_pipeline(
            TfidfVectorizer(
                analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, preprocessor=_features
            ),
            LogisticRegression(C=10.0, class_weight="balanced", max_iter=5000, random_state=0),
        )
        from threadpoolctl import threadpool_limits

        # A few hundred rows: one BLAS thread fits in a fraction of a second, where a thread
        # per core contending on a busy machine took seconds.
        with threadpool_limits(limits=1):
            self.pipeline.fit(list(texts), list(labels))
        self.classes: tuple[str, ...] = tuple(str(c) for c in self.pipeline.classes_)

    def probabilities(self, text: str) -> dict[str, float]:
        row = self.pipeline.predict_proba([text])[0]
        return {label: float(p) for label, p in zip(self.classes, row, strict=True)}


def train_model(rows: Sequence[LabelledReply]) -> IntentModel:
    return IntentModel([r.text for r in rows], [r.label for r in rows])


@lru_cache(maxsize=1)
def shipped_model() -> IntentModel | None:
    """The model trained on the shipped set's ``train`` split (None if it cannot be built:
    the rules then stand alone)."""
    try:
        return train_model([r for r in load_labelled() if r.split == "train"])
    except Exception:
        return None


def _guarded(text: str) -> bool:
    words = _features(text)
    return any(pattern.search(words) for pattern in load_rules().model_keep_guards)


def classify_reply(
    text: str | None,
    *,
    model: IntentModel | None = None,
    use_model: bool = True,
    threshold: float = OPT_OUT_THRESHOLD,
) -> ReplyIntent:
    """The intent of one reply: rules first, then the model (``model``, default the shipped one;
    ``use_model=False``: rules only, the rest ``question`` if it asks something, else ``other``).

    >>> classify_reply("take me off your list").compliance
    'opt_out'
    >>> classify_reply("Wrong number").intent
    'wrong_number'
    """
    if not text or not normalise(text):
        return ReplyIntent("other", "other", None, "none")
    ruled = classify_inbound(text)
    if ruled.intent == "opt_out":
        label = "wrong_number" if ruled.rule and "wrong_number" in ruled.rule else "opt_out"
        return ReplyIntent(label, "opt_out", ruled.rule, "rule")
    if ruled.intent == "help":
        return ReplyIntent("help", "help", ruled.rule, "rule")
    if ruled.intent == "start":
        return ReplyIntent("other", "start", ruled.rule, "rule")
    chosen = (model or shipped_model()) if use_model else None
    if chosen is None:
        label = "question" if "?" in text else "other"
        return ReplyIntent(label, "other", None, "rule")
    try:
        probabilities = chosen.probabilities(text)
    except Exception:
        return ReplyIntent("question" if "?" in text else "other", "other", None, "rule")
    opt_out = sum(probabilities.get(label, 0.0) for label in SUPPRESSING_INTENTS)
    if opt_out >= threshold and not _guarded(text):
        label = max(SUPPRESSING_INTENTS, key=lambda name: probabilities.get(name, 0.0))
        return ReplyIntent(label, "opt_out", f"model.{label}", "model", opt_out)
    label = max(_MODEL_LABELS, key=lambda name: probabilities.get(name, 0.0))
    return ReplyIntent(label, "other", None, "model", opt_out)
