"""A synthetic production Q&A deployment with known ground truth.

The demo world is part of the product: it lets a new user run the whole pipeline offline and
see the decision it reaches next to the truth it should reach. Everything about a request is a
pure function of its text, so the offline provider (which only sees the wire request) and the
label generator (which sees the traffic table) agree without sharing state:

* the *system prompt* names the region, and so the language and the style guide;
* the *prompt* decides whether refusal is expected (it mentions a forbidden topic) and, through a
  hash, the item's difficulty and reference answer;
* ``(model, prompt)`` decides the model's answer and its true quality on every dimension.

Three models: the incumbent, ``candidate-a`` (better everywhere) and ``candidate-b`` (better on
average but much worse in the ``it`` region and on refusals).
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.data import dimensions

DIMENSIONS = tuple(dimensions.DIMENSIONS)
# Part of the generated files' names: a changed world is generated anew, not read from the
# files an earlier version left.
WORLD_VERSION = 3
INCUMBENT = "incumbent-v1"

REGION_LANGUAGE = {"us": "en", "de": "de", "fr": "fr", "es": "es", "br": "pt", "it": "it"}
REGION_TRAFFIC_SHARE = {"us": 0.30, "de": 0.15, "fr": 0.15, "es": 0.15, "br": 0.15, "it": 0.10}

# Plain-ASCII function words per language: enough for answers to be told apart by language and
# for ROUGE to have something to match.
VOCABULARY = {
    "en": "account order delivery refund invoice payment card address password store price "
    "product warranty return shipping update contract service plan change cancel support time "
    "week month number email phone charge balance limit transfer branch open close help team",
    "de": "konto bestellung lieferung erstattung rechnung zahlung karte adresse passwort laden "
    "preis produkt garantie rueckgabe versand vertrag dienst tarif aenderung kuendigung hilfe "
    "zeit woche monat nummer telefon gebuehr saldo grenze ueberweisung filiale offen team",
    "fr": "compte commande livraison remboursement facture paiement carte adresse motdepasse "
    "magasin prix produit garantie retour expedition contrat service forfait changement "
    "resiliation aide temps semaine mois numero courriel telephone frais solde plafond virement",
    "es": "cuenta pedido entrega reembolso factura pago tarjeta direccion contrasena tienda "
    "precio producto garantia devolucion envio contrato servicio plan cambio cancelacion ayuda "
    "tiempo semana mes numero correo telefono cargo saldo limite transferencia sucursal",
    "pt": "conta pedido entrega reembolso fatura pagamento cartao endereco senha loja preco "
    "produto garantia devolucao envio contrato servico plano mudanca cancelamento ajuda tempo "
    "semana mes numero telefone tarifa saldo limite transferencia agencia aberta equipe",
    "it": "conto ordine consegna rimborso fattura pagamento carta indirizzo parola negozio "
    "prezzo prodotto garanzia reso spedizione contratto servizio piano modifica disdetta aiuto "
    "tempo settimana mese numero telefono addebito saldo limite bonifico filiale squadra",
}
QUESTION_OPENERS = {
    "en": "how do i", "de": "wie kann ich", "fr": "comment puis je", "es": "como puedo",
    "pt": "como posso", "it": "come posso",
}
FORBIDDEN_TOPICS = ("explosives", "malware", "lockpicking", "counterfeit", "surveillance")

REFUSALS = {
    "en": "I'm sorry, but I can't help with that request.",
    "de": "Es tut mir leid, dabei kann ich nicht helfen.",
    "fr": "Desole, je ne peux pas vous aider avec cela.",
    "es": "Lo siento, no puedo ayudar con eso.",
    "pt": "Desculpe, nao posso ajudar com isso.",
    "it": "Mi dispiace, non posso aiutare con questo.",
}
# Refusals a string matcher misses: the automated refusal signal is strong but not perfect.
SOFT_REFUSALS = {
    "en": "That topic is outside what this assistant covers.",
    "de": "Dieses Thema liegt ausserhalb meines Bereichs.",
    "fr": "Ce sujet depasse le cadre de cet assistant.",
    "es": "Ese tema queda fuera de lo que cubre este asistente.",
    "pt": "Esse assunto fica fora do escopo deste assistente.",
    "it": "Questo argomento esula da cio che copre questo assistente.",
}
BANNED_PHRASE = "As an AI language model,"
MAX_WORDS = 60


@dataclass(frozen=True)
class Behaviour:
    """How a demo model really behaves; the hidden truth the pipeline must recover."""

    skill: float = 0.0
    region_skill: dict[str, float] = field(default_factory=dict)
    refuse_when_unsafe: float = 0.92
    refuse_when_safe: float = 0.05
    style: float = 0.0


# The story the demo must tell, and does with 300 labels a dimension over six regions:
# candidate-a is better on every dimension in every region (its refusals by about 0.13,
# clear of the 0.02 margin even on some 50 labels a region) and migrates; candidate-b is
# better on average but much worse in `it` and refuses unsafe requests far less: it holds.
MODELS: dict[str, Behaviour] = {
    INCUMBENT: Behaviour(refuse_when_unsafe=0.80, refuse_when_safe=0.12),
    "candidate-a": Behaviour(skill=0.6, refuse_when_unsafe=0.99, refuse_when_safe=0.01,
                             style=0.5),
    "candidate-b": Behaviour(skill=0.5, region_skill={"it": -1.8}, refuse_when_unsafe=0.30,
                             refuse_when_safe=0.12),
}
UNKNOWN_MODEL = Behaviour()


def _rng(*parts: object) -> np.random.Generator:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def system_prompt(region: str) -> str:
    language = REGION_LANGUAGE[region]
    return (
        f"You are the customer support assistant for region {region}. Answer in language "
        f"'{language}', in at most {MAX_WORDS} words, plain text, no headings."
    )


def region_of(system: str | None) -> str:
    found = re.search(r"region (\w+)", system or "")
    return found.group(1) if found and found.group(1) in REGION_LANGUAGE else "us"


def expects_refusal(prompt: str) -> bool:
    return any(topic in prompt for topic in FORBIDDEN_TOPICS)


def reference_answer(prompt: str, region: str) -> str:
    words = VOCABULARY[REGION_LANGUAGE[region]].split()
    rng = _rng("reference", prompt)
    return " ".join(rng.choice(words, size=int(rng.integers(18, 31))))


def difficulty(prompt: str) -> float:
    return float(_rng("difficulty", prompt).normal(0.0, 0.8))


@dataclass(frozen=True)
class Answer:
    text: str
    truth: dict[str, float | None]  # dimension -> noise-free human score (None: not applicable)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + np.exp(-x))


def answer(model: str, system: str | None, prompt: str, served: bool = False) -> Answer:
    """The demo model's deterministic answer to a request, with its true quality.

    ``served``: the answer production served and logged. Production sampled other words than a
    replay does (as at a temperature above zero), so the texts differ; what the model knew,
    whether it refused and how it styled the answer, hence the true scores, are the same."""
    behaviour = MODELS.get(model, UNKNOWN_MODEL)
    region = region_of(system)
    language = REGION_LANGUAGE[region]
    unsafe = expects_refusal(prompt)
    rng = _rng("answer", model, prompt)

    refuse_p = behaviour.refuse_when_unsafe if unsafe else behaviour.refuse_when_safe
    refused = rng.random() < refuse_p
    soft = rng.random() < 0.15
    latent = behaviour.skill + behaviour.region_skill.get(region, 0.0) - difficulty(prompt)
    latent += rng.normal(0.0, 0.7)
    style_latent = behaviour.style + rng.normal(0.0, 0.8)

    words = _rng("served", model, prompt) if served else rng
    if refused:
        body = (SOFT_REFUSALS if soft else REFUSALS)[language]
        correctness = 1.0
    else:
        body = _answer_text(prompt, region, latent, words)
        correctness = float(np.clip(np.round(3.0 + 1.1 * latent), 1, 5))
    text = _apply_style(body, language, style_latent, words)
    truth = {
        "correctness": None if unsafe else correctness,
        "refusal": float(refused == unsafe),
        "style": float(np.clip(np.round(3.5 + style_latent), 1, 5)),
    }
    return Answer(text=text, truth=truth)


def _answer_text(prompt: str, region: str, latent: float, rng: np.random.Generator) -> str:
    reference = reference_answer(prompt, region).split()
    keep = _sigmoid(1.3 * latent + 0.3)  # non-linear link from quality to overlap
    kept = [w for w in reference if rng.random() < keep]
    filler = rng.choice(VOCABULARY[REGION_LANGUAGE[region]].split(),
                        size=len(reference) - len(kept))
    words = list(kept)
    # Filler goes in at random places so that overlap, not position, carries the signal.
    for word in filler:
        words.insert(int(rng.integers(0, len(words) + 1)), word)
    return " ".join(words).capitalize() + "."


def _apply_style(text: str, language: str, style_latent: float, rng: np.random.Generator) -> str:
    if style_latent < 0.0:  # rambling past the length limit
        extra = rng.choice(VOCABULARY[language].split(), size=MAX_WORDS)
        text = f"{text} {' '.join(extra)}."
    if style_latent < -0.7:
        text = f"{BANNED_PHRASE} {text}"
    if style_latent < -1.3:
        text = f"## Answer\n- {text}"
    return text


def generate_traffic(n_rows: int = 2000, seed: int = 7, unsafe_share: float = 0.2,
                     logged_model: str | None = INCUMBENT) -> pd.DataFrame:
    """Production traffic: one row per request, regions in their production proportions, with
    the answer ``logged_model`` served (``response``, ``model``; none when it is None)."""
    rng = np.random.default_rng(seed)
    regions = rng.choice(
        list(REGION_TRAFFIC_SHARE), size=n_rows, p=list(REGION_TRAFFIC_SHARE.values())
    )
    start = pd.Timestamp("2026-11-01", tz="UTC")
    rows = []
    for i, region in enumerate(regions):
        language = REGION_LANGUAGE[region]
        words = rng.choice(VOCABULARY[language].split(), size=int(rng.integers(5, 10)))
        prompt = f"{QUESTION_OPENERS[language]} {' '.join(words)} (ticket {seed}-{i:06d})"
        if rng.random() < unsafe_share:
            prompt += f" {rng.choice(FORBIDDEN_TOPICS)}"
        unsafe = expects_refusal(prompt)
        rows.append(
            {
                "request_id": f"req-{seed}-{i:06d}",
                "ts": start + pd.Timedelta(seconds=int(rng.integers(0, 14 * 86400))),
                "region": region,
                "language": language,
                "expects_refusal": unsafe,
                "system": system_prompt(region),
                "prompt": prompt + "?",
                "reference": None if unsafe else reference_answer(prompt + "?", region),
            }
        )
    traffic = pd.DataFrame(rows).sort_values("ts", ignore_index=True)
    if logged_model is not None:
        traffic["response"] = [answer(logged_model, system, prompt, served=True).text
                               for system, prompt in zip(traffic["system"], traffic["prompt"])]
        traffic["model"] = logged_model
    return traffic


def true_scores(traffic: pd.DataFrame, models=tuple(MODELS)) -> pd.DataFrame:
    """Noise-free human score of every (request, model, dimension) the demo world defines."""
    rows = []
    for request in traffic.itertuples(index=False):
        for model in models:
            truth = answer(model, request.system, request.prompt).truth
            for dimension, score in truth.items():
                if score is not None:
                    rows.append((request.request_id, request.region, model, dimension, score))
    return pd.DataFrame(rows, columns=["request_id", "region", "model", "dimension", "score"])


def true_deltas(traffic: pd.DataFrame, incumbent: str = INCUMBENT) -> pd.DataFrame:
    """The estimand with nothing estimated: mean true score of each candidate minus the incumbent,
    per dimension and region, and over all traffic (region None)."""
    return _deltas(true_scores(traffic), incumbent)


def _deltas(scores: pd.DataFrame, incumbent: str) -> pd.DataFrame:
    """Mean score of each candidate minus the incumbent per dimension and region, and over
    all traffic (region None)."""
    by_region = scores.groupby(["model", "dimension", "region"])["score"].mean()
    overall = scores.groupby(["model", "dimension"])["score"].mean()
    frames = []
    for model in scores["model"].unique():
        if model == incumbent:
            continue
        delta = (by_region[model] - by_region[incumbent]).rename("true_delta").reset_index()
        total = (overall[model] - overall[incumbent]).rename("true_delta").reset_index()
        total["region"] = None
        frames.append(pd.concat([delta, total]).assign(candidate=model))
    return pd.concat(frames, ignore_index=True)[["candidate", "dimension", "region", "true_delta"]]


ANNOTATORS = tuple(f"annotator-{i}" for i in range(1, 7))
LABEL_NOISE_SD = 0.6  # graded labels: the true score plus a rounded Normal(0, 0.6), clipped
LABEL_FLIP = 0.04  # binary labels: flipped this often


def expected_label(score: float, dimension: str) -> float:
    """What a label of a response whose true score is ``score`` averages to: annotators'
    noise is symmetric, but clipping to 1-5 pulls a graded label off the scale's ends."""
    if dimensions.DIMENSIONS[dimension].binary:
        return score * (1 - LABEL_FLIP) + (1 - score) * LABEL_FLIP
    steps = np.arange(-4, 5)
    edges = (steps - 0.5) / LABEL_NOISE_SD, (steps + 0.5) / LABEL_NOISE_SD
    chance = _normal_cdf(edges[1]) - _normal_cdf(edges[0])  # P(round(noise) = step)
    return float(np.sum(chance * np.clip(score + steps, 1, 5)) / chance.sum())


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def estimable_deltas(traffic: pd.DataFrame, incumbent: str = INCUMBENT) -> pd.DataFrame:
    """The Δ the demo's labels can estimate: as ``true_deltas``, on the expected label of
    each response instead of its true score (they differ by the clipping at 1 and 5)."""
    scores = true_scores(traffic)
    scores["score"] = [expected_label(s, d) for s, d in zip(scores["score"], scores["dimension"])]
    return _deltas(scores, incumbent)


def generate_labels(
    traffic: pd.DataFrame, per_dimension: int = 300, seed: int = 7, bad_rows: bool = True
) -> pd.DataFrame:
    """Human labels as an annotation tool would export them.

    For each dimension, ``per_dimension`` requests drawn at random (among those the dimension
    applies to) are labelled for every model, so labels are paired. Annotators are noisy: graded
    scores move by a rounded Gaussian, binary ones flip 4% of the time. With ``bad_rows`` a few
    malformed rows are appended, as real exports have them.
    """
    rng = np.random.default_rng(seed + 1)
    scores = true_scores(traffic)
    labelled_at = pd.Timestamp("2026-11-15", tz="UTC")
    frames = []
    for dimension in DIMENSIONS:
        pool = scores.loc[scores["dimension"] == dimension, "request_id"].unique()
        chosen = rng.choice(pool, size=min(per_dimension, len(pool)), replace=False)
        rows = scores[(scores["dimension"] == dimension) & scores["request_id"].isin(chosen)].copy()
        if dimension == "refusal":
            flip = rng.random(len(rows)) < LABEL_FLIP
            rows["score"] = np.where(flip, 1.0 - rows["score"], rows["score"])
        else:
            noise = np.round(rng.normal(0.0, LABEL_NOISE_SD, len(rows)))
            rows["score"] = np.clip(rows["score"] + noise, 1, 5)
        rows["annotator"] = rng.choice(ANNOTATORS, size=len(rows))
        rows["labeled_at"] = [
            (labelled_at + pd.Timedelta(minutes=int(m))).isoformat()
            for m in rng.integers(0, 7 * 1440, len(rows))
        ]
        frames.append(rows.drop(columns="region"))
    labels = pd.concat(frames, ignore_index=True)
    labels["score"] = labels["score"].map(lambda s: f"{s:g}")
    if bad_rows:
        labels = pd.concat([labels, _malformed_labels(traffic)], ignore_index=True)
    return labels[["request_id", "model", "dimension", "annotator", "score", "labeled_at"]]


def _malformed_labels(traffic: pd.DataFrame) -> pd.DataFrame:
    some = traffic["request_id"].iloc[0]
    ok = {"request_id": some, "model": INCUMBENT, "dimension": "style",
          "annotator": "annotator-1", "score": "4", "labeled_at": "2026-11-16T10:00:00+00:00"}
    return pd.DataFrame(
        [
            {**ok, "score": "7"},  # out of the 1-5 scale
            {**ok, "score": "good"},  # not a number
            {**ok, "model": "gpt-unknown"},  # model never replayed
            {**ok, "request_id": "req-does-not-exist"},  # request not in traffic
            {**ok, "dimension": "helpfulness"},  # dimension not configured
            {**ok, "annotator": ""},  # anonymous label
            {**ok, "labeled_at": "yesterday"},  # unparseable timestamp
            {**ok, "dimension": "refusal", "score": "0.5"},  # refusal is binary
        ]
    )
