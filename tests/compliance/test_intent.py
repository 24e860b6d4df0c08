"""Reply intent: the shipped labelled set's opt-out recall and precision, every per-se word in
English and Spanish on every channel through ingest, the classifier adding but never removing
an opt-out, and the look-alike policy."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from optimizer.compliance.intent import (
    REPLY_INTENTS,
    SUPPRESSING_INTENTS,
    classify_reply,
    load_labelled,
    train_model,
)
from optimizer.ingest.events import EventInput, ingest_events
from optimizer.settings import Settings
from optimizer.store.db import transaction
from optimizer.store.models import Event, Lead, Suppression
from optimizer.vocabulary import CHANNELS

NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)
SETTINGS = Settings(brand_name="Acme Dental")
# The FCC's per-se revocation words (47 CFR 64.1200(a)(10)) and their usual Spanish forms.
PER_SE_EN = ["stop", "quit", "end", "revoke", "opt out", "cancel", "unsubscribe"]
PER_SE_ES = ["pare", "alto", "cancelar", "basta", "no más mensajes", "parar"]
CARRIER = ["STOPALL", "STOP ALL", "UNSUB", "OPTOUT"]
# Which event type carries the lead's words on each channel.
CHANNEL_EVENT = {
    "sms": "inbound",
    "rcs": "inbound",
    "webchat": "webchat",
    "email": "inbound",
    "voice": "call",
}


def _opt_out_scores(rows: list, **kwargs: object) -> tuple[float, float]:
    tp = fp = fn = 0
    for row in rows:
        expected = row.label in SUPPRESSING_INTENTS
        got = classify_reply(row.text, **kwargs).compliance == "opt_out"  # type: ignore[arg-type]
        tp += expected and got
        fp += got and not expected
        fn += expected and not got
    return tp / (tp + fp), tp / (tp + fn)


def test_the_shipped_set_is_large_labelled_and_covers_every_channel() -> None:
    rows = load_labelled()
    assert len(rows) >= 300
    assert {r.label for r in rows} == set(REPLY_INTENTS)
    assert {r.channel for r in rows} == set(CHANNELS)
    assert {r.split for r in rows} == {"train", "test"}
    assert len({(r.channel, r.text) for r in rows}) == len(rows)


def test_opt_out_recall_and_precision_on_the_shipped_set() -> None:
    rows = load_labelled()
    precision, recall = _opt_out_scores(rows)  # rules + the shipped classifier
    assert recall >= 0.98, recall
    assert precision >= 0.9, precision
    rules_precision, rules_recall = _opt_out_scores(rows, use_model=False)
    assert rules_recall >= 0.98, rules_recall
    assert rules_precision >= 0.99, rules_precision


def test_opt_out_recall_on_the_held_out_split() -> None:
    rows = load_labelled()
    model = train_model([r for r in rows if r.split == "train"])
    precision, recall = _opt_out_scores([r for r in rows if r.split == "test"], model=model)
    assert recall >= 0.98, recall
    assert precision >= 0.9, precision


@pytest.mark.parametrize("word", PER_SE_EN + PER_SE_ES + CARRIER)
@pytest.mark.parametrize(
    "form", ["{w}", "{W}", "{w}.", "{W}!!!", "please {w}", "{w} 🛑", "{w} por favor"]
)
def test_every_per_se_word_is_an_opt_out(word: str, form: str) -> None:
    text = form.format(w=word, W=word.upper())
    result = classify_reply(text)
    assert result.compliance == "opt_out", text
    assert result.source == "rule", text


def test_every_per_se_word_suppresses_on_every_channel(sessions: sessionmaker[Session]) -> None:
    words = PER_SE_EN + PER_SE_ES + CARRIER
    with transaction(sessions) as session:
        leads = {}
        for channel in CHANNELS:
            for index, word in enumerate(words):
                lead = Lead(
                    external_id=f"{channel}-{index}",
                    phone_e164=f"+1212555{CHANNELS.index(channel)}{index:03d}",
                    attributes={},
                    created_at=NOW - dt.timedelta(days=3),
                    updated_at=NOW - dt.timedelta(days=3),
                )
                session.add(lead)
                session.flush()
                leads[channel, word] = lead
        events = [
            EventInput(
                idempotency_key=f"{channel}-{word}",
                lead_id=lead.id,
                type=CHANNEL_EVENT[channel],
                channel=channel,
                occurred_at=NOW,
                text=word.title(),
            )
            for (channel, word), lead in leads.items()
        ]
        result = ingest_events(session, events=events, settings=SETTINGS, now=NOW)
        assert result.accepted == len(events)
        assert sum(a.type == "send_confirmation" for a in result.actions) == len(events)
        suppressed = set(session.scalars(select(Suppression.lead_id)))
        missed = [key for key, lead in leads.items() if lead.id not in suppressed]
        assert missed == []
        metas = [m for m in session.scalars(select(Event.meta))]
        assert all(m["intent"] == "opt_out" and m["reply_intent"] == "opt_out" for m in metas)


class _Contrary:
    """A classifier that is sure nothing is an opt-out."""

    def probabilities(self, text: str) -> dict[str, float]:
        return {"interested": 1.0}


def test_the_classifier_never_removes_a_rules_opt_out() -> None:
    contrary = _Contrary()
    for row in load_labelled():
        ruled = classify_reply(row.text, use_model=False)
        if ruled.compliance == "opt_out":
            got = classify_reply(row.text, model=contrary)  # type: ignore[arg-type]
            assert got.compliance == "opt_out", row.text


class _Alarmed:
    """A classifier that is sure everything is an opt-out."""

    def probabilities(self, text: str) -> dict[str, float]:
        return {"opt_out": 1.0}


@pytest.mark.parametrize(
    "text",
    [
        "don't stop, I'm interested",
        "what time does the store close? stop by tomorrow?",
        "the bus stop on Main is closed",
        "can I cancel my appointment?",
        "keep the texts coming",
        "I want to opt in",
    ],
)
def test_look_alikes(text: str) -> None:
    assert classify_reply(text, use_model=False).compliance != "opt_out"
    # The guards hold even against a classifier sure that it is an opt-out.
    assert classify_reply(text, model=_Alarmed()).compliance != "opt_out"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("no more please", "opt_out"),
        ("who is this? I never signed up", "opt_out"),
        ("Pare", "opt_out"),
        ("STOPPP", "opt_out"),
        ("stoooop", "opt_out"),
        ("Who is this? STOP", "opt_out"),
        ("leave me aloooone", "opt_out"),
        ("No me escriban más", "opt_out"),
        ("Sáquenme de su lista", "opt_out"),
        ("número equivocado", "wrong_number"),
        ("Wrong number", "wrong_number"),
        ("Lead asked to be removed from the list", "opt_out"),
        ("Put me on your do not call list", "opt_out"),
        ("HELP", "help"),
        ("ayuda", "help"),
    ],
)
def test_rules(text: str, intent: str) -> None:
    assert classify_reply(text, use_model=False).intent == intent


def test_the_model_labels_what_the_rules_leave() -> None:
    assert classify_reply("Yes, please call me tomorrow").intent == "interested"
    assert classify_reply("What are your opening hours?").intent == "question"
    assert classify_reply("").intent == "other"
