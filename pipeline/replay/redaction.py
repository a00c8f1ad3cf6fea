"""Removing personal data and secrets from text before it reaches a third-party model or a table.

One redactor for every path: ``traffic_sample`` (prompt, system, reference, logged answer) and
``llm-migrate replay`` (system and prompt) call it, and so can anything else that stores text.
The redacted text is what is stored and what is sent.

Categories (``KINDS``) and what each one catches:

``email``
    Addresses with internationalised local parts and domains (``jürgen@müller.de``), the
    full-width ``＠``, ``mailto:``, spaces around the ``@``, and the usual obfuscations:
    ``name (at) domain (dot) com``, ``name [at] domain.com``, ``name {at} domain.com``,
    ``arroba``, ``arobase``, ``chiocciola``, ``punto``, ``point``, ``ponto``, ``Punkt``. The
    English word "at" alone (``jane at example dot com``, ``jane.doe at example.com``) only
    when the dot is written out as well, or the local part has a dot, digit, ``_``, ``+`` or
    ``-``, or the domain is a mailbox provider (gmail, web, orange, libero, uol...), and the
    local part is no word that comes before "at" in a sentence ("look at this dot com").
``phone``
    ``phonenumbers``' ``PhoneNumberMatcher`` at leniency ``VALID`` (the number must exist in the
    numbering plan) for the six traffic regions (US, DE, FR, ES, BR, IT; more with
    ``phone_regions``) and any international ``+``/``00`` number, then read in its sentence
    (:func:`_phone_shaped`): never a piece of a longer code (``ORD-2026-112497``), a date, an
    IP address or a version; a national number after an order-like word (order, Bestellung,
    commande, pedido, ordine, ticket, invoice, tracking, #, ...) is left alone unless a
    telephone word (call, Telefon, numéro, móvil, celular, cellulare, WhatsApp, ...) is
    nearer; with neither word around, a national number must be grouped as its country groups
    numbers (``phonenumbers``' ``EXACT_GROUPING``) or be a bare run of 9+ digits with the
    trunk ``0``. So ``4155550132`` alone, or ``Bestellung 0301234567``, is not redacted: such
    runs cannot be told from order numbers.
``card``
    14 to 19 digits (13-digit runs are EAN barcodes far more often than cards), grouped with
    spaces, double spaces, dots or dashes, Luhn-checked, with a card network's leading digits
    (22-27, 30, 34-39, 4, 5, 6).
``iban``
    IBANs of every country, grouped or not, any case, checked by ``python-stdnum`` (mod 97 and
    the country's length and format).
``national_id``
    US social security numbers (``123-45-6789``, ``123 45 6789``; nine bare digits only after
    "SSN" or "social security"), German Steuer-ID, French NIR (numéro de sécurité sociale),
    Spanish DNI and NIE, Brazilian CPF, Italian codice fiscale: each validated by
    ``python-stdnum`` (checksums, and the dates and structure where the id has them). Eleven
    bare digits (Steuer-ID, CPF) after an order-like word and no id word are left alone.
``secret``
    Provider-prefixed keys and tokens (OpenAI ``sk-``/``sk-proj-``, Anthropic ``sk-ant-``,
    GitHub ``ghp_``/``gho_``/``ghs_``/``github_pat_``, GitLab ``glpat-``, AWS ``AKIA``/``ASIA``,
    Slack ``xox?-`` and webhooks, Google ``AIza``/``ya29.``, Stripe, Hugging Face, npm, PyPI,
    SendGrid), JWTs, PEM private keys, ``Bearer`` tokens, the password in a URL
    (``postgres://user:pw@host``), a value after a secret's name (``api_key=...``,
    ``password: ...``, ``Passwort ist ...``) when it holds a digit or a symbol, and any other
    token of 20 to 256 characters mixing upper case, lower case and digits, not made of words
    (identifiers, paths), whose Shannon entropy is at least 4 bits per character (3.8 from 24
    characters on) (:func:`looks_random`). Hexadecimal strings and UUIDs are deliberately *not*
    taken by the entropy rule: commit ids, checksums and request ids are what support
    conversations quote, and a hex-only key is caught only after its name.

Not detected (no rule can, offline and without a language model): people's names, street
addresses, dates of birth, free-text descriptions of a person, passport and driving-licence
numbers, and the national ids of other countries.

Placeholders are ``[KIND_n]`` in upper case (``[EMAIL_1]``, ``[PHONE_2]``, ``[NATIONAL_ID_1]``,
``[SECRET_1]``, and ``[CUSTOMER_1]`` for an ``extra`` pattern named ``customer``): ``n`` counts
the distinct values of that kind in order of first appearance, and the same value gets the same
placeholder everywhere in one text, or in all the fields of one request when they go through one
:class:`Redactor`. "The same value" is compared normalised: e-mails in lower case with the
obfuscations undone, phone numbers in E.164, cards, IBANs and ids by their characters alone.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from stdnum import iban as std_iban
from stdnum.br import cpf as std_cpf
from stdnum.de import idnr as std_idnr
from stdnum.es import dni as std_dni
from stdnum.es import nie as std_nie
from stdnum.fr import nir as std_nir
from stdnum.it import codicefiscale as std_cf
from stdnum.us import ssn as std_ssn

KINDS = ("email", "phone", "card", "iban", "national_id", "secret")
# The traffic's regions (pipeline.demo.world.REGION_LANGUAGE: us, de, fr, es, br, it).
PHONE_REGIONS = ("US", "DE", "FR", "ES", "BR", "IT")


@dataclass(frozen=True)
class Finding:
    """One value found in a text: ``text[start:end]`` is of ``kind``; ``key`` is its
    normalised form (what makes two spellings the same value)."""

    kind: str
    start: int
    end: int
    key: str


# ---------------------------------------------------------------------------------------------
# e-mail

_LOCAL = r"\w[\w!#$%&'*+=?^`{|}~-]*(?:\.[\w!#$%&'*+=?^`{|}~-]+)*"
_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_TLD = r"(?:[^\W\d_]{2,24}|xn--[a-z0-9-]{2,59})"
EMAIL = re.compile(
    rf"(?<![\w.+-])({_LOCAL})[ \t]?[@＠][ \t]?((?:{_LABEL}\.)+{_TLD})(?![\w-])")

_OPEN, _CLOSE = r"[(\[{<]", r"[)\]}>]"
_AT_WORDS = r"(?:at|@|arroba|arobase|chiocciola|ät|klammeraffe)"
_DOT_WORDS = r"(?:dot|punto|point|ponto|punkt|\.)"
_BRACKET_AT = rf"\s{{0,2}}{_OPEN}\s{{0,2}}{_AT_WORDS}\s{{0,2}}{_CLOSE}\s{{0,2}}"
_BARE_AT = r"\s{1,2}(?:at|arroba|arobase|chiocciola)\s{1,2}"
_SPACED_AT = r"\s{1,2}[@＠]\s{1,2}|\s{1,2}[@＠]|[@＠]\s{1,2}"
_BRACKET_DOT = rf"\s{{0,2}}{_OPEN}\s{{0,2}}{_DOT_WORDS}\s{{0,2}}{_CLOSE}\s{{0,2}}"
_BARE_DOT = r"\s{1,2}(?:dot|punto|point|ponto|punkt)\s{1,2}"
_SEP_DOT = rf"(?:{_BRACKET_DOT}|{_BARE_DOT}|\.)"
_WORD = r"[\w+-]+"
OBFUSCATED_EMAIL = re.compile(
    rf"(?i)(?<![\w.+-])({_WORD}(?:{_SEP_DOT}{_WORD}){{0,3}})"
    rf"({_BRACKET_AT}|{_BARE_AT}|{_SPACED_AT})"
    rf"({_LABEL}(?:{_SEP_DOT}{_LABEL}){{0,5}})({_SEP_DOT})({_TLD})(?![\w-])")
# Top-level domains trusted in the all-words form ("jane at example dot com"): without them
# "look at this dot com" would be an address.
_COMMON_TLDS = {"com", "net", "org", "de", "fr", "es", "it", "br", "pt", "uk", "us", "eu", "io",
                "info", "biz", "ch", "at", "be", "nl", "co", "ca", "mx", "ar", "edu", "gov", "me",
                "ru", "pl", "se", "dk", "fi", "ie", "au", "jp", "cn", "in", "app", "dev", "рф"}
# Words that come before "at" in ordinary sentences ("look at this dot com").
_NOT_LOCAL_PARTS = {
    "look", "looking", "looked", "arrive", "arrived", "stay", "staying", "be", "is", "are", "am",
    "was", "were", "me", "us", "we", "you", "them", "it", "him", "her", "work", "works",
    "working", "meet", "here", "there", "see", "check", "shop", "buy", "bought", "order",
    "ordered", "sign", "log", "login", "up", "in", "available", "located", "live", "lives",
    "sold", "sell", "find", "found", "go", "went", "get", "got", "start", "started", "even",
    "not", "only", "just", "and", "or", "but", "then", "all", "least", "best", "most", "once",
    "account", "accounts", "address", "email", "mail", "inbox", "mailbox", "profile",
    "someone", "somebody", "anyone", "everyone", "registered", "signed", "logged", "created",
    "free", "new", "old", "my", "your", "our", "their", "his", "its", "this", "that", "user",
    "users", "customer", "customers", "support", "help", "contact", "info", "team", "sales"}
_DOT_NORMAL = re.compile(rf"(?i){_BRACKET_DOT}|{_BARE_DOT}")
_MAILBOX_PROVIDERS = {
    "gmail", "googlemail", "yahoo", "ymail", "outlook", "hotmail", "live", "msn", "icloud",
    "me", "mac", "aol", "gmx", "web", "t-online", "freenet", "posteo", "mailbox", "orange",
    "free", "laposte", "sfr", "wanadoo", "libero", "tiscali", "virgilio", "alice", "tim",
    "telefonica", "movistar", "terra", "uol", "bol", "ig", "sapo", "proton", "protonmail",
    "tutanota", "zoho", "yandex", "mail", "email", "fastmail", "hey"}


def _at_word_email(local: str, domain: str, dot: str, tld: str) -> bool:
    """Whether ``local at domain<dot>tld``, with "at" as a bare English word, is an address.
    "look at this dot com" and "log in at example.com" are not: the local part must not be a
    word that comes before "at" in a sentence, and either a dot is written out too (``jane at
    example dot com``, with a common top-level domain) or the local part has a dot, digit,
    ``_``, ``+`` or ``-`` or the domain is a mailbox provider (``jane.doe at example.com``,
    ``jane at gmail.com``). ("arroba", "chiocciola" and "arobase" say it themselves.)"""
    if local.lower() in _NOT_LOCAL_PARTS or not any(c.isalpha() for c in local):
        return False
    if _DOT_NORMAL.search(local + domain + dot):
        return tld.lower() in _COMMON_TLDS
    return (re.search(r"[._+\d-]", local) is not None
            or domain.split(".")[0].lower() in _MAILBOX_PROVIDERS)


def _emails(text: str) -> Iterator[Finding]:
    for match in EMAIL.finditer(text):
        key = f"{match.group(1)}@{match.group(2)}".lower()
        yield Finding("email", match.start(1), match.end(), key)
    position = 0
    while (match := OBFUSCATED_EMAIL.search(text, position)) is not None:
        position = match.start() + 1  # a rejected match may hide one that starts inside it
        local, at, domain, dot, tld = match.groups()
        if at.strip().lower() == "at" and not _at_word_email(local, domain, dot, tld):
            continue
        key = _DOT_NORMAL.sub(".", f"{local}@{domain}{dot}{tld}").lower()
        yield Finding("email", match.start(), match.end(), key)
        position = match.end()


# ---------------------------------------------------------------------------------------------
# context words: what is said just before a bare run of digits

_PHONE_WORDS = re.compile(
    r"(?i)\b(?:tel|tél|tlf|tfno|telf|phone|telephone|téléphone|telefone?|telefono|teléfono|"
    r"\w*(?:telefon|handy|mobil|ruf|festnetz|fax)nummer|handy|mobile?|mobil|cell(?:phone)?|"
    r"cellulare|celular|móvil|movil|portable|portatile|fixo|fisso|fijo|fixe|landline|whats\s?app|"
    r"signal|telegram|sms|text(?:\s+me)?|call(?:\s+me)?|ring|reach|anrufen|ruf|rufen|"
    r"erreich\w*|appel(?:er|ez)?|joindre|joignable|ll[aá]m\w*|ligu?e(?:m)?|ligar|"
    r"chiam(?:are|ami|atemi)|conta(?:c)?t\w*|contatt\w*|kontakt\w*|numer[oa]|número|numéro|"
    r"nummer|number|fax|hotline)\b")
_ORDER_WORDS = re.compile(
    r"(?i)(?:\b(?:order|orders|bestell\w*|auftrag\w*|kunden\w*|rechnung\w*|sendung\w*|"
    r"commande|facture|client|colis|suivi|pedido|factura|cliente|seguimiento|envío|envio|"
    r"ordine|fattura|spedizione|encomenda|fatura|rastreamento|rastreio|ticket|invoice|"
    r"tracking|shipment|parcel|package|paket|paquete|pacote|pacco|nota|nf|nfe|recibo|beleg|"
    r"quittung|reçu|ricevuta|scontrino|dhl|ups|dpd|gls|hermes|fedex|usps|correos|correios|"
    r"poste|chronopost|colissimo|seur|brt|sda|tnt|"
    r"ref|reference|référence|referencia|riferimento|"
    r"case|vorgang\w*|dossier|expediente|pratica|protocol[oe]?|account|konto|compte|cuenta|"
    r"conta|conto|sku|ean|isbn|serial|seriennummer|série|serie|article|artikel|artículo|"
    r"articolo|artigo|id|transaction|transaktion|transacción|transazione|"
    r"transação|booking|buchung\w*|réservation|reserva|prenotazione|voucher|gutschein|"
    r"coupon|code|código|codice|batch|lot|lote|lotto|po|rma|imei|model|modell|modèle|"
    r"modelo|modello|version|versão|versione|versión|year|jahr|année|año|anno|ano)\b|[#№]|"
    r"\bn[°º]|\b(?:no|nr|num)\.|\bnr\b)")


def _context(text: str, start: int, end: int, before: int = 40, after: int = 20) -> str | None:
    """'phone' or 'order' for the nearest such word in the ``before`` characters ahead of
    ``text[start:end]`` (or, failing that, the ``after`` characters behind it); None if none."""
    window = text[max(0, start - before):start]
    nearest: tuple[int, str] | None = None
    for pattern, label in ((_PHONE_WORDS, "phone"), (_ORDER_WORDS, "order")):
        for match in pattern.finditer(window):
            if nearest is None or match.end() > nearest[0]:
                nearest = (match.end(), label)
    if nearest is not None:
        return nearest[1]
    tail = text[end:end + after]
    if _PHONE_WORDS.search(tail):
        return "phone"
    return None


# ---------------------------------------------------------------------------------------------
# phone numbers

_DIGIT_RUN = re.compile(r"\d[\d \t().\-/–]{5,}\d")
_BARE_DIGITS = re.compile(r"\d+")
_DATE = re.compile(
    r"(?:(\d{1,2})[./-](\d{1,2})[./-](?:\d{2}|\d{4})|\d{4}[./-]\d{1,2}[./-]\d{1,2})")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_POSTCODE = re.compile(r"\d{5}-\d{3}|\d{2}\.\d{3}-\d{3}")  # Brazil's CEP
_GLUE = set("-/_.:")


def _phone_shaped(text: str, start: int, end: int, raw: str, region: str) -> bool:
    """Whether a valid number the matcher found reads as a phone number in its sentence."""
    before, after = text[start - 1:start], text[end:end + 2]
    if (before.isalnum() or before in _GLUE) or (after[:1] in _GLUE and after[1:2].isalnum()):
        return False  # part of a longer code: ORD-2026-112497, v2.13.0415
    if raw.startswith(("+", "00", "＋")):
        return True  # international: the country code says it is a phone number
    date = _DATE.fullmatch(raw)
    if date and (date.group(1) is None or int(date.group(1)) <= 31 and int(date.group(2)) <= 31):
        return False
    if (_IPV4.fullmatch(raw) and all(int(g) <= 255 for g in raw.split("."))
            or "." in raw and any(len(g) == 1 for g in raw.split("."))):
        return False  # an IP address or a version (135.0.3984.113)
    said = _context(text, start, end)
    if said == "order":  # "Order 686 495 105": a national number after an order-like word
        return False
    if said == "phone":
        return True
    # With no telephone word around it, a national number must look like one: not one bare run
    # of digits without a trunk 0 and at least 9 digits (4155550132 is an order number as
    # well), no letters, 8 digits or more, not a postcode, and grouped as the country groups
    # its numbers (86624-7972 is a US ZIP code, not a Spanish number).
    if _BARE_DIGITS.fullmatch(raw):
        return raw.startswith("0") and len(raw) >= 9
    if (any(c.isalpha() for c in raw) or sum(c.isdigit() for c in raw) < 8
            or _POSTCODE.fullmatch(raw)):
        return False  # a size (1685x650), a short code (841.137), a CEP (01310-100)
    window = text[max(0, start - 1):end + 1]
    return any(m.raw_string == raw for m in phonenumbers.PhoneNumberMatcher(
        window, region, leniency=phonenumbers.Leniency.EXACT_GROUPING))


def _phones(text: str, regions: tuple[str, ...]) -> Iterator[Finding]:
    # Cheap guard: the matcher costs about half a millisecond per region and text, and a phone
    # number has at least 7 digits.
    if not any(sum(c.isdigit() for c in m.group()) >= 7 for m in _DIGIT_RUN.finditer(text)):
        return
    found: dict[tuple[int, int], str] = {}
    for region in regions:
        for match in phonenumbers.PhoneNumberMatcher(text, region,
                                                     leniency=phonenumbers.Leniency.VALID):
            raw, start, end = match.raw_string, match.start, match.end
            if raw.startswith("(") and ")" not in raw:  # "(030 1234567 from Germany)"
                raw, start = raw[1:], start + 1
            if (start, end) in found:
                continue
            if not _phone_shaped(text, start, end, raw, region):
                continue
            found[(start, end)] = phonenumbers.format_number(match.number,
                                                     phonenumbers.PhoneNumberFormat.E164)
    for (start, end), key in found.items():
        yield Finding("phone", start, end, key)


# ---------------------------------------------------------------------------------------------
# payment cards

_CARD_RUN = re.compile(r"(?<![\w.,])\d(?:(?: {1,2}|[.\-]| - )?\d){13,}(?![\w])")
_GROUP_SEP = re.compile(r" - | {1,2}|[.\-]")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if i % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _card_network(digits: str) -> bool:
    """A card network's leading digits for the number's length: Amex 34/37 (15), Diners
    36/30/38/39 (14, 16-19), Mastercard 2221-2720 and 51-55, Mir 2200-2204, Visa 4, Maestro
    50/56-69, Discover 6011/64/65, UnionPay 62, JCB 35 (16-19)."""
    head, length = int(digits[:4]), len(digits)
    if length == 14:
        return digits[:2] in {"30", "36", "38", "39"}
    if length == 15:
        return digits[:2] in {"34", "37"}
    return (2200 <= head <= 2720 or digits[0] in "456"
            or digits[:2] in {"30", "35", "36", "38", "39"})


def _card_grouping(value: str) -> bool:
    """Typed as cards are: in one piece, in fours (the last group shorter), or 4-6-5 / 4-6-4
    (Amex, Diners); not 3-7-7 (an Amazon order number)."""
    sizes = [len(g) for g in _GROUP_SEP.split(value)]
    return (len(sizes) == 1 or all(n == 4 for n in sizes[:-1]) and 1 <= sizes[-1] <= 4
            or sizes in ([4, 6, 5], [4, 6, 4]))


def _cards(text: str) -> Iterator[Finding]:
    for run in _CARD_RUN.finditer(text):
        groups = []  # (start, end, digits) of each separated group of digits
        position = run.start()
        for piece in _GROUP_SEP.split(run.group()):
            start = text.index(piece, position)
            groups.append((start, start + len(piece), piece))
            position = start + len(piece)
        # A card starts the run, follows another card, or is a group of four after a group of
        # another size ("exp. 12/27 4111 1111 1111 1111"); inside a run of fours it would be a
        # piece of a tracking code.
        i, after_card = 0, True
        while i < len(groups):
            best = None
            if after_card or len(groups[i][2]) == 4 and len(groups[i - 1][2]) != 4:
                digits = ""
                for j in range(i, len(groups)):
                    digits += groups[j][2]
                    if len(digits) > 19:
                        break
                    if (len(digits) >= 14 and _luhn_ok(digits) and _card_network(digits)
                            and _card_grouping(text[groups[i][0]:groups[j][1]])):
                        best = (j, digits)
            if best is None:
                i, after_card = i + 1, False
                continue
            j, digits = best
            yield Finding("card", groups[i][0], groups[j][1], digits)
            i, after_card = j + 1, True


# ---------------------------------------------------------------------------------------------
# IBAN

_IBAN_RUN = re.compile(r"(?i)(?<![\w])[A-Z]{2}[ \-]?\d{2}(?:[ \-]?[A-Z0-9]){10,32}")


def _ibans(text: str) -> Iterator[Finding]:
    position = 0
    while (run := _IBAN_RUN.search(text, position)) is not None:
        position = run.start() + 1
        value = run.group()
        ends = [i + 1 for i, c in enumerate(value) if c.isalnum()]
        # The longest prefix that is a valid IBAN and ends at a word boundary.
        for count in range(len(ends), 14, -1):
            end = run.start() + ends[count - 1]
            if end < len(text) and text[end].isalnum():
                continue
            compact = re.sub(r"[ \-]", "", text[run.start():end]).upper()
            if std_iban.is_valid(compact):
                yield Finding("iban", run.start(), end, compact)
                position = end
                break


# ---------------------------------------------------------------------------------------------
# national ids

_SSN_WORDS = re.compile(r"(?i)\b(?:ssn|ssns|social\s+security(?:\s+(?:number|no\.?|#))?|"
                        r"soc\.?\s*sec\.?)\b")
_NATIONAL_IDS: list[tuple[re.Pattern, Callable[[str], bool], bool]] = [
    # (pattern, validator of the compact value, needs a context word when typed as bare digits)
    # US SSN: 123-45-6789 / 123 45 6789; nine bare digits only after an SSN word (below).
    (re.compile(r"(?<![\w\-.])\d{3}([\- ])\d{2}\1\d{4}(?![\w\-]|\.\d)"), std_ssn.is_valid, False),
    # German Steuer-ID: 12 345 678 903 or 12345678903 (11 digits, one repeated digit, ISO 7064).
    (re.compile(r"(?<![\w\-.,+])\d{2}(?: ?\d{3}){3}(?![\w\-]|[.,]\d)"), std_idnr.is_valid, True),
    # French NIR: 1 85 05 78 006 084 36 (sex, year, month, department incl. 2A/2B, key).
    (re.compile(r"(?i)(?<![\w\-.,+])[12378][ .]?\d{2}[ .]?\d{2}[ .]?(?:\d{2}|2A|2B)[ .]?\d{3}"
                r"[ .]?\d{3}[ .]?\d{2}(?![\w\-]|[.,]\d)"), std_nir.is_valid, False),
    # Spanish DNI: 12345678Z, 12.345.678-Z; NIE: X1234567L.
    # A letter after a space only in upper case: "12345678 a" is a number and a word.
    (re.compile(r"(?<![\w\-.,+])(?:\d{8}|\d{2}\.\d{3}\.\d{3})(?:-?[A-Za-z]| [A-Z])(?!\w)"),
     std_dni.is_valid, False),
    (re.compile(r"(?<![\w\-.,+])[XYZxyz][ \-]?\d{7}(?:-?[A-Za-z]| [A-Z])(?!\w)"), std_nie.is_valid,
     False),
    # Brazilian CPF: 123.456.789-09 or 11 digits.
    (re.compile(r"(?<![\w\-.,+])\d{3}\.\d{3}\.\d{3}[\-.]\d{2}(?![\w\-]|[.,]\d)"), std_cpf.is_valid,
     False),
    (re.compile(r"(?<![\w\-.,+])\d{11}(?![\w\-]|[.,]\d)"), std_cpf.is_valid, True),
    # Italian codice fiscale: RSSMRA85T10A562S (letters may replace digits, "omocodia").
    (re.compile(r"(?i)(?<!\w)[A-Z]{6}[\dLMNPQRSTUV]{2}[ABCDEHLMPRST][\dLMNPQRSTUV]{2}[A-Z]"
                r"[\dLMNPQRSTUV]{3}[A-Z](?!\w)"), lambda v: std_cf.is_valid(v.upper()), False),
]
_ID_WORDS = re.compile(
    r"(?i)\b(?:steuer\w*|tax|idnr|identifikations\w*|ssn|cpf|nir|insee|sécurité\s+sociale|"
    r"sécu|dni|nie|nif|codice\s+fiscale|fiscal\w*|personal\w*|persoonlijk|social|"
    r"identit\w*|identidad|identidade|documento)\b")
_BARE_NINE = re.compile(r"(?<![\w\-.,+])\d{9}(?![\w\-]|[.,]\d)")


def _compact(value: str) -> str:
    return re.sub(r"[\s.\-/]", "", value).upper()


def _national_ids(text: str) -> Iterator[Finding]:
    for pattern, valid, needs_context in _NATIONAL_IDS:
        for match in pattern.finditer(text):
            compact = _compact(match.group())
            try:
                ok = valid(compact)
            except Exception:  # noqa: BLE001 (a validator that trips on odd input says no)
                ok = False
            if not ok:
                continue
            if needs_context and compact == match.group():  # bare digits, as order numbers are
                said_id = _ID_WORDS.search(text[max(0, match.start() - 40):match.start()])
                if not said_id and _context(text, match.start(), match.end()) == "order":
                    continue
            yield Finding("national_id", match.start(), match.end(), compact)
    for match in _BARE_NINE.finditer(text):
        window = text[max(0, match.start() - 40):match.start()]
        if _SSN_WORDS.search(window) and std_ssn.is_valid(match.group()):
            yield Finding("national_id", match.start(), match.end(), match.group())


# ---------------------------------------------------------------------------------------------
# secrets

_B = r"(?<![\w\-])"  # a token starts at a boundary
SECRET_PATTERNS = [
    re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
               r"-----END (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    re.compile(_B + r"sk-ant-[A-Za-z0-9_\-]{16,}"),
    re.compile(_B + r"sk-[A-Za-z0-9][A-Za-z0-9_\-]{19,}"),  # OpenAI sk-, sk-proj-, sk-svcacct-...
    re.compile(_B + r"(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}"),
    re.compile(_B + r"github_pat_[A-Za-z0-9_]{40,}"),
    re.compile(_B + r"glpat-[A-Za-z0-9_\-]{20,}"),
    re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|APKA)"
               r"[A-Z0-9]{16}(?![A-Za-z0-9])"),
    re.compile(_B + r"xox[abposre]-[A-Za-z0-9\-]{10,}"),
    re.compile(_B + r"xapp-\d-[A-Za-z0-9\-]{10,}"),
    re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/_\-]+"),
    re.compile(_B + r"AIza[0-9A-Za-z_\-]{35,}"),
    re.compile(_B + r"ya29\.[0-9A-Za-z_\-]{20,}"),
    re.compile(_B + r"(?:sk|rk|pk|whsec)_(?:live|test)_[A-Za-z0-9]{16,}"),
    re.compile(_B + r"hf_[A-Za-z0-9]{30,}"),
    re.compile(_B + r"npm_[A-Za-z0-9]{36}"),
    re.compile(_B + r"pypi-[A-Za-z0-9_\-]{50,}"),
    re.compile(_B + r"SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}"),
    re.compile(_B + r"eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
]
# Patterns whose first group is the secret (the words around it stay).
SECRET_VALUE_PATTERNS = [
    re.compile(r"(?i)\bbearer\s+([A-Za-z0-9._~+/\-]{16,}=*)"),
    re.compile(r"(?i)\b[a-z][a-z0-9+.\-]{1,15}://[^\s:/@]+:([^\s@/]{3,})@"),  # URL password
]
_SECRET_NAMES = (r"api[_\- ]?key|apikey|secret(?:[_\- ]?key)?|client[_\- ]?secret|"
                 r"access[_\- ]?(?:key|token)|auth[_\- ]?token|token|password|passwd|pwd|"
                 r"passwort|kennwort|mot\s+de\s+passe|mdp|contraseña|senha|"
                 r"private[_\- ]?key")
NAMED_SECRET = re.compile(
    rf"(?i)\b(?:{_SECRET_NAMES})\b[\"']?\s{{0,3}}(?:[:=]|:=|=>|\bis\b|\bist\b|\best\b|\bes\b|"
    rf"\bé\b|\bè\b|\bwar\b)\s{{0,3}}[\"']?([^\s\"',;]{{6,}})")
_TOKEN = re.compile(r"(?<![A-Za-z0-9_\-+/=])[A-Za-z0-9_\-+/=]{20,256}(?![A-Za-z0-9_\-+/=])")
_HEX_OR_UUID = re.compile(r"(?i)[0-9a-f\-]+")


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value``'s own character distribution."""
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


_WORDLIKE = re.compile(r"[A-Z][a-z]{2,}|[a-z]{3,}")


def _wordlike_share(token: str) -> float:
    """Share of the characters in runs that read as words (``User``, ``campaign``): 0.7 to 0.9 in
    identifiers, paths and query strings, 0.3 on average in random base-62 tokens (0.7 or more
    for about 1 in 100 of 24 characters, fewer of longer ones)."""
    return sum(len(m.group()) for m in _WORDLIKE.finditer(token)) / len(token)


def _path_like(token: str) -> bool:
    """A path or URL path (``/api/v1/Users/36854/Orders``, ``com/orders/ORD-2026-112497``):
    segments between slashes that are short, read as words or mix no cases."""
    if "/" not in token:
        return False
    return all(len(part) <= 10 or _wordlike_share(part) >= 0.7
               or not (any(c.islower() for c in part) and any(c.isupper() for c in part))
               for part in token.split("/"))


def looks_random(token: str) -> bool:
    """The entropy rule: upper case, lower case and digits mixed, not hexadecimal, and at least
    4 bits per character (3.8 from 24 characters on; a random 20-character base-62 token has
    about 4.1, an English word under 3.5)."""
    if not 20 <= len(token) <= 256 or _HEX_OR_UUID.fullmatch(token):
        return False
    if not (any(c.isupper() for c in token) and any(c.islower() for c in token)
            and any(c.isdigit() for c in token)):
        return False
    if _wordlike_share(token) >= 0.7 or _path_like(token):
        return False
    return shannon_entropy(token) >= (3.8 if len(token) >= 24 else 4.0)


def _secrets(text: str) -> Iterator[Finding]:
    for pattern in SECRET_PATTERNS:
        for match in pattern.finditer(text):
            yield Finding("secret", match.start(), match.end(), match.group())
    for pattern in SECRET_VALUE_PATTERNS:
        for match in pattern.finditer(text):
            yield Finding("secret", match.start(1), match.end(1), match.group(1))
    for match in NAMED_SECRET.finditer(text):
        value = match.group(1).rstrip(".)")
        if len(value) >= 6 and not _PLACEHOLDER.fullmatch(value) and (
                any(not c.isalpha() for c in value)):
            yield Finding("secret", match.start(1), match.start(1) + len(value), value)


def _random_tokens(text: str) -> Iterator[Finding]:
    for match in _TOKEN.finditer(text):
        if looks_random(match.group()):
            yield Finding("secret", match.start(), match.end(), match.group())


# ---------------------------------------------------------------------------------------------
# the redactor

_PLACEHOLDER = re.compile(r"\[[A-Z][A-Z0-9_]*_\d+\]")


def find(text: str, kinds: Iterable[str] = KINDS, extra: dict[str, str] | None = None,
         phone_regions: Iterable[str] = PHONE_REGIONS) -> list[Finding]:
    """Every value of ``kinds`` (and of the ``extra`` patterns) in ``text``, without overlaps,
    in order. Where two detectors claim overlapping text, the earlier in this order wins:
    prefixed secrets, e-mail, IBAN, card, national id, phone, random-looking tokens, extra
    patterns; and within one detector the longer match."""
    key = (text, _checked(kinds), tuple(sorted((extra or {}).items())),
           tuple(dict.fromkeys(r.upper() for r in phone_regions)))
    # Traffic repeats itself (one system prompt per region, templated prompts): short texts
    # are looked up in a cache.
    return list(_find_cached(*key) if len(text) <= 4096 else _find(*key))


def _find(text: str, kinds: frozenset[str], extra: tuple[tuple[str, str], ...],
          regions: tuple[str, ...]) -> tuple[Finding, ...]:
    detectors: list[Callable[[], Iterable[Finding]]] = []
    if "secret" in kinds:
        detectors.append(lambda: _secrets(text))
    if "email" in kinds:
        detectors.append(lambda: _emails(text))
    if "iban" in kinds:
        detectors.append(lambda: _ibans(text))
    if "card" in kinds:
        detectors.append(lambda: _cards(text))
    if "national_id" in kinds:
        detectors.append(lambda: _national_ids(text))
    if "phone" in kinds:
        detectors.append(lambda: _phones(text, regions))
    if "secret" in kinds:
        detectors.append(lambda: _random_tokens(text))
    for name, pattern in extra:
        detectors.append(lambda name=name, pattern=pattern: (
            Finding(name.lower(), m.start(), m.end(), m.group())
            for m in re.finditer(pattern, text) if m.end() > m.start()))
    taken: list[Finding] = []
    for detector in detectors:
        for finding in sorted(detector(), key=lambda f: (f.start - f.end, f.start)):
            if not any(finding.start < t.end and t.start < finding.end for t in taken):
                taken.append(finding)
    return tuple(sorted(taken, key=lambda f: f.start))


_find_cached = lru_cache(maxsize=8192)(_find)


def phone_regions_for(region: str | None) -> tuple[str, ...]:
    """The phone regions to read a request of traffic region ``region`` with: the six, plus the
    region itself when it is a country code ``phonenumbers`` knows (``gb``, ``pt``, ``mx``);
    free-form names (``eu-west``) add nothing."""
    code = region.strip().upper() if isinstance(region, str) else ""
    if code in phonenumbers.SUPPORTED_REGIONS and code not in PHONE_REGIONS:
        return (*PHONE_REGIONS, code)
    return PHONE_REGIONS


def _checked(kinds: Iterable[str]) -> frozenset[str]:
    if isinstance(kinds, str):
        kinds = [kinds]
    kinds = frozenset(kinds)
    unknown = kinds - set(KINDS)
    if unknown:
        raise ValueError(f"redact: unknown kind(s) {sorted(unknown)}; known: {list(KINDS)}")
    return kinds


class Redactor:
    """Redacts the texts of one request (or any group of texts that should share placeholders):
    the same value gets the same ``[KIND_n]`` in each of them. ``counts`` says how many values
    of each kind it replaced (distinct values: ``len(placeholders)``)."""

    def __init__(self, kinds: Iterable[str] = KINDS, extra: dict[str, str] | None = None,
                 phone_regions: Iterable[str] = PHONE_REGIONS):
        self.kinds = _checked(kinds)
        self.extra = dict(extra or {})
        for name, pattern in self.extra.items():
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
                raise ValueError(f"redact: pattern name {name!r} must be letters, digits and _")
            re.compile(pattern)  # a bad expression fails here, with re's message
        self.phone_regions = tuple(phone_regions)
        self.placeholders: dict[tuple[str, str], str] = {}
        self.counts: Counter[str] = Counter()

    def __call__(self, text: str | None) -> str | None:
        if not isinstance(text, str):  # None or NaN: nothing to redact
            return text
        findings = find(text, self.kinds, self.extra, self.phone_regions)
        if not findings:
            return text
        pieces, position = [], 0
        for finding in findings:
            pieces += [text[position:finding.start], self._placeholder(finding, text)]
            position = finding.end
            self.counts[finding.kind] += 1
        return "".join(pieces) + text[position:]

    def _placeholder(self, finding: Finding, text: str) -> str:
        label = (finding.kind, finding.key)
        if label not in self.placeholders:
            name = finding.kind.upper()
            used = set(self.placeholders.values())
            number = 1
            # An already redacted text keeps its numbers: a new value takes the next free one.
            while f"[{name}_{number}]" in used or f"[{name}_{number}]" in text:
                number += 1
            self.placeholders[label] = f"[{name}_{number}]"
        return self.placeholders[label]


def redact(text: str | None, kinds: Iterable[str] = KINDS,
           extra: dict[str, str] | None = None) -> str | None:
    """``text`` with each value of ``kinds`` replaced by a placeholder such as ``[EMAIL_1]``
    (the same value, the same placeholder); None and NaN pass through.

    ``extra`` maps placeholder names to further regular expressions (e.g. customer ids:
    ``{"customer": r"C-\\d{5}"}`` gives ``[CUSTOMER_1]``)."""
    return Redactor(kinds, extra)(text)


def redact_request(fields: dict[str, str | None], kinds: Iterable[str] = KINDS,
                   extra: dict[str, str] | None = None,
                   phone_regions: Iterable[str] = PHONE_REGIONS) -> dict[str, str | None]:
    """The fields of one request (system, prompt, reference, ...) redacted with shared
    placeholders."""
    redactor = Redactor(kinds, extra, phone_regions)
    return {name: redactor(value) for name, value in fields.items()}
