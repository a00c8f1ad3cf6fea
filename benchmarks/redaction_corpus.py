"""A labelled corpus for the redactor (`pipeline.replay.redaction`), generated, never stored.

    from redaction_corpus import ordinary_prompts, planted_prompts
    ordinary = ordinary_prompts(per_language=100, seed=0)   # list[Ordinary]
    planted = planted_prompts(per_kind=200, seed=1)         # list[Planted]

Ordinary prompts: customer-support requests in English, German, French, Spanish, Portuguese and
Italian, full of what must survive redaction: dates and times in each country's formats, order,
invoice, ticket and tracking numbers, versions and builds, prices, quantities, postcodes, IP
addresses, commit ids, UUIDs, URLs, product codes, barcodes. None holds personal data.

Planted prompts: one value of a category (email, phone, card, iban, national_id, secret) in a
sentence of one of the six languages, typed as people type it (``Planted.fmt`` names the
format); the sentence usually carries ordinary values too, which must survive. Every planted
value is valid: phone numbers exist in their country's numbering plan (`phonenumbers`),
cards pass Luhn with a network's prefix, IBANs and national ids carry correct check digits
(computed here, then confirmed by `python-stdnum`).

Deterministic: the same seed gives the same corpus.
"""

from __future__ import annotations

import base64
import json
import random
import string
from dataclasses import dataclass

import phonenumbers
from stdnum import iban as std_iban
from stdnum.br import cpf as std_cpf
from stdnum.de import idnr as std_idnr
from stdnum.es import dni as std_dni
from stdnum.es import nie as std_nie
from stdnum.fr import nir as std_nir
from stdnum.iso7064 import mod_11_10
from stdnum.it import codicefiscale as std_cf
from stdnum.us import ssn as std_ssn

LANGUAGES = ("en", "de", "fr", "es", "pt", "it")
KINDS = ("email", "phone", "card", "iban", "national_id", "secret")
B62 = string.ascii_letters + string.digits
B64URL = B62 + "-_"


@dataclass(frozen=True)
class Ordinary:
    language: str
    text: str


@dataclass(frozen=True)
class Planted:
    kind: str
    fmt: str  # how the value is written, e.g. "phone/DE/national" or "email/obfuscated-at-dot"
    language: str
    text: str
    start: int  # text[start:end] is the planted value
    end: int

    @property
    def value(self) -> str:
        return self.text[self.start:self.end]


# ---------------------------------------------------------------------------------------------
# ordinary values, per language (what must survive)

def _date(r: random.Random, lang: str) -> str:
    y, m, d = r.choice([2024, 2025, 2026]), r.randint(1, 12), r.randint(1, 28)
    months = {
        "en": ["January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December"],
        "de": ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
               "September", "Oktober", "November", "Dezember"],
        "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
               "septembre", "octobre", "novembre", "décembre"],
        "es": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
               "septiembre", "octubre", "noviembre", "diciembre"],
        "pt": ["janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto",
               "setembro", "outubro", "novembro", "dezembro"],
        "it": ["gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto",
               "settembre", "ottobre", "novembre", "dicembre"],
    }[lang]
    forms = [f"{y}-{m:02d}-{d:02d}", f"{d:02d}.{m:02d}.{y}", f"{d:02d}/{m:02d}/{y}",
             f"{d}/{m}/{y % 100:02d}", f"{d:02d}-{m:02d}-{y}", f"{d}.{m}.", f"{d:02d}/{m:02d}"]
    forms.append(f"{months[m - 1]} {d}, {y}" if lang == "en" else
                 f"{d}. {months[m - 1]} {y}" if lang == "de" else
                 f"{d} de {months[m - 1]} de {y}" if lang in ("es", "pt") else
                 f"{d} {months[m - 1]} {y}")
    if lang == "en":
        forms.append(f"{m:02d}/{d:02d}/{y}")
    return r.choice(forms)


def _time(r: random.Random, lang: str) -> str:
    h, mi = r.randint(7, 21), r.choice([0, 5, 15, 30, 45])
    forms = [f"{h}:{mi:02d}", f"{h:02d}:{mi:02d}", f"{h}:{mi:02d}-{h + 2}:{mi:02d}"]
    forms += {"en": [f"{(h - 1) % 12 + 1}:{mi:02d} {'am' if h < 12 else 'pm'}"],
              "de": [f"{h}.{mi:02d} Uhr", f"{h}:{mi:02d} Uhr"],
              "fr": [f"{h}h{mi:02d}", f"{h} h {mi:02d}"],
              "es": [f"{h}:{mi:02d} h"], "pt": [f"{h}h{mi:02d}"],
              "it": [f"{h}.{mi:02d}"]}[lang]
    return r.choice(forms)


def _order(r: random.Random) -> str:
    d = r.randint
    return r.choice([
        f"#{d(100000, 999999999)}", f"ORD-{r.choice([2025, 2026])}-{d(1, 999999):06d}",
        f"A-{d(1000000, 9999999)}", f"{d(100, 999)}-{d(1000000, 9999999)}-{d(1000000, 9999999)}",
        f"{d(1000, 9999)}-{d(1000, 9999)}", f"{d(10000000, 99999999)}", str(d(10 ** 8, 10 ** 9)),
        str(d(10 ** 9, 10 ** 10)), str(d(10 ** 10, 10 ** 11)), f"W{d(100000000, 999999999)}",
        f"DE-{d(2024, 2026)}-{d(10000, 99999)}", f"{d(2024, 2026)}{d(0, 999999):06d}",
        f"BR{d(10 ** 9, 10 ** 10)}", f"{d(100, 999)} {d(100, 999)} {d(100, 999)}",
    ])


def _invoice(r: random.Random) -> str:
    d = r.randint
    return r.choice([f"RE-{d(2024, 2026)}-{d(1, 99999):05d}", f"INV-{d(1, 999999):06d}",
                     f"FA{d(2024, 2026)}/{d(1, 9999):04d}", f"F-{d(100000, 999999)}",
                     f"NF {d(100, 999)}.{d(100, 999)}", f"{d(2024, 2026)}/{d(1, 99999)}"])


def _ticket(r: random.Random) -> str:
    d = r.randint
    return r.choice([f"#{d(1000, 999999)}", f"TCK-{d(10000, 99999)}",
                     f"{d(1, 9)}-{d(0, 999999):06d}", f"CS{d(1000000, 9999999)}",
                     f"INC{d(1000000, 9999999):07d}", f"{d(10 ** 6, 10 ** 7)}"])


def _version(r: random.Random) -> str:
    d = r.randint
    return r.choice([f"{d(1, 9)}.{d(0, 20)}.{d(0, 9)}", f"v{d(1, 5)}.{d(0, 12)}.{d(0, 20)}-beta",
                     f"iOS {d(15, 18)}.{d(0, 6)}.{d(0, 3)}", f"Android {d(10, 15)}",
                     f"build {d(20, 26)}{r.choice('ABCDEFG')}{d(10, 999)}",
                     f"{d(1, 4)}.{d(0, 9)}.{d(0, 9)}-rc.{d(1, 5)}",
                     f"firmware {d(1, 9)}.{d(0, 9)}.{d(0, 9)}.{d(1000, 9999)}",
                     f"{d(2019, 2026)}.{d(1, 12)}", f"Windows 11 {d(22, 24)}H{d(1, 2)}",
                     f"Chrome {d(100, 140)}.0.{d(1000, 7000)}.{d(10, 200)}"])


def _price(r: random.Random, lang: str) -> str:
    whole, cents = r.choice([r.randint(1, 99), r.randint(100, 9999)]), r.randint(0, 99)
    eu = f"{whole:,}".replace(",", ".") + f",{cents:02d}"
    us = f"{whole:,}.{cents:02d}"
    return {"en": r.choice([f"${us}", f"£{us}", f"USD {us}", f"{us} USD"]),
            "de": r.choice([f"{eu} €", f"€{eu}", f"{eu} EUR", f"CHF {whole}.–", f"{whole},– €"]),
            "fr": r.choice([f"{eu} €", f"{whole} € {cents:02d}",
                            f"{whole:,}".replace(",", " ") + f",{cents:02d} €"]),
            "es": r.choice([f"{eu} €", f"{eu}€", f"€ {eu}", f"MXN {us}"]),
            "pt": r.choice([f"R$ {eu}", f"R${eu}", f"{eu} €"]),
            "it": r.choice([f"€ {eu}", f"{eu} €", f"{eu} euro"])}[lang]


def _quantity(r: random.Random, lang: str) -> str:
    d = r.randint
    unit = {"en": "pcs", "de": "Stück", "fr": "pièces", "es": "unidades", "pt": "unidades",
            "it": "pezzi"}[lang]
    return r.choice([f"{d(2, 12)} x {r.choice([100, 250, 500])} g", f"{d(1, 20)} kg",
                     f"{d(2, 500)} {unit}", f"{d(1, 3)},{d(1, 9)} l", f"{d(100, 999)} ml",
                     f"{d(5, 60)} %", f"{d(1, 9)}x{d(10, 99)} cm", f"{d(1, 40)} m²",
                     f"{d(1000, 4000)}x{d(600, 2200)}"])


def _tracking(r: random.Random) -> str:
    d = r.randint
    upper = string.ascii_uppercase
    return r.choice([
        f"1Z{''.join(r.choices(upper + string.digits, k=6))}{d(10 ** 9, 10 ** 10 - 1)}",
        f"JJD{d(10 ** 14, 10 ** 15 - 1):015d}", f"00{d(10 ** 17, 10 ** 18 - 1)}",
        f"{r.choice(['LX', 'RR', 'CP', 'LB', 'RX'])}{d(10 ** 8, 10 ** 9 - 1)}"
        f"{r.choice(['DE', 'BR', 'IT', 'FR', 'ES', 'PT'])}",
        f"9400 {d(1000, 9999)} {d(1000, 9999)} {d(1000, 9999)} {d(1000, 9999)} {d(10, 99)}",
        f"{d(10 ** 11, 10 ** 12 - 1)}", f"GLS {d(10 ** 10, 10 ** 11 - 1)}",
        f"6A{d(10 ** 10, 10 ** 11 - 1)}", f"{d(10 ** 13, 10 ** 14 - 1)}",
    ])


def _postcode(r: random.Random, lang: str) -> str:
    d = r.randint
    return {"en": r.choice([f"{d(10000, 99999)}", f"{d(10000, 99999)}-{d(1000, 9999)}",
                            r.choice(["SW1A 1AA", "EC1A 1BB", "M1 1AE", "B33 8TH"])]),
            "de": r.choice([f"{d(1000, 99999):05d} Berlin", f"D-{d(10000, 99999)}",
                            f"{d(1000, 9999)} Wien", f"CH-{d(1000, 9999)}"]),
            "fr": r.choice([f"{d(1000, 95999):05d} Paris", f"{d(1000, 95999):05d}"]),
            "es": r.choice([f"{d(1000, 52999):05d} Madrid", f"CP {d(1000, 52999):05d}"]),
            "pt": r.choice([f"{d(10000, 99999)}-{d(0, 999):03d}", f"CEP {d(10000, 99999)}-"
                            f"{d(0, 999):03d}", f"{d(1000, 9999)}-{d(0, 999):03d} Lisboa"]),
            "it": r.choice([f"{d(10, 98199):05d} Roma", f"CAP {d(10, 98199):05d}"])}[lang]


def _technical(r: random.Random) -> str:
    d = r.randint
    hexdigits = "0123456789abcdef"
    return r.choice([
        f"{d(10, 192)}.{d(0, 255)}.{d(0, 255)}.{d(1, 254)}",
        "".join(r.choices(hexdigits, k=7)), "".join(r.choices(hexdigits, k=40)),
        "".join(r.choices(hexdigits, k=64)),
        "-".join("".join(r.choices(hexdigits, k=k)) for k in (8, 4, 4, 4, 12)),
        f"https://shop.example.com/orders/ORD-{d(2025, 2026)}-{d(1, 999999):06d}"
        f"?utm_source=newsletter&utm_campaign=Winter{d(2024, 2026)}",
        f"www.example.de/hilfe/artikel-{d(100, 9999)}", f"0x{d(0x80000000, 0xFFFFFFFF):08X}",
        f"E-{d(100, 9999)}", f"HTTP {r.choice([400, 403, 404, 429, 500, 502, 503])}",
        "ERR_CONNECTION_RESET",
        f"SN {''.join(r.choices(string.ascii_uppercase + string.digits, k=12))}",
        f"EAN {d(4000000000000, 4999999999999)}",
        f"ISBN 978-{d(0, 9)}-{d(10, 99)}-{d(100000, 999999)}-{d(0, 9)}",
        f"SM-G{d(900, 999)}B/DS", f"MX-{d(1000, 9999)}-BLK",
        f"C:\\Users\\Public\\report_{d(2024, 2026)}.xlsx",
        f"src/components/UserProfile{d(2, 9)}View.tsx", f"max_tokens={r.choice([256, 512, 1024])}",
        f"@acme_support{r.choice(['', '_de', '_fr'])}", f"{d(1280, 3840)}x{d(720, 2160)}",
        f"/api/v{d(1, 3)}/Users/{d(10000, 99999)}/Orders", f"getUserById{d(2, 9)}",
        f"#{''.join(r.choices('0123456789ABCDEF', k=6))}", f"{d(2, 12)} GB RAM",
        "IMEI-Sperre", f"{d(1, 9)}.{d(1, 9)} GHz", f"port {d(1024, 65535)}",
    ])


FILLERS = {"date": _date, "time": _time, "price": _price, "qty": _quantity, "postcode": _postcode}
def _site(r: random.Random) -> str:
    return r.choice(["amazon.de", "zalando.fr", "example.com", "shop.example.co.uk",
                     "mercadolivre.com.br", "elcorteingles.es", "booking.com", "ebay.it",
                     "help.example.com/returns", "www.fnac.com", "status.example.io"])


PLAIN_FILLERS = {"order": _order, "invoice": _invoice, "ticket": _ticket, "version": _version,
                 "tracking": _tracking, "tech": _technical, "site": _site}

ORDINARY_TEMPLATES = {
    "en": [
        "I bought it at {site} on {date} for {price}. Can I return it here?",
        "Log in at {site} and look at order {order}: it says {price}.",
        "It's cheaper at {site}, {price} against {price}. Do you match prices?",
        "Hi, my order {order} placed on {date} still hasn't arrived. Tracking says {tracking}.",
        "I was charged {price} twice for invoice {invoice}. Can you refund one of them?",
        "After updating to {version} the app crashes at startup. Ticket {ticket}.",
        "Can you deliver {qty} to {postcode} before {time} on {date}?",
        "The parcel {tracking} was marked delivered at {time} but nothing is here.",
        "Is {version} compatible with my setup? I see {tech} in the logs.",
        "Please change the delivery date of order {order} to {date}, after {time}.",
        "Your website shows {price} but checkout says {price}. Which one is right?",
        "I need {qty} of the same item as in order {order}. Is there a bulk discount?",
        "Ticket {ticket} was closed on {date} without an answer. The error is {tech}.",
        "What does error {tech} mean? It started on {date} at {time}.",
        "My invoice {invoice} lists {qty} but I only received half. Order {order}.",
        "Do you ship to {postcode}? Shipping was {price} last time.",
        "How do I downgrade from {version} to the previous release?",
        "The refund of {price} for order {order} was promised by {date}. Where is it?",
        "Can I return an item bought on {date}? Receipt {invoice}, total {price}.",
        "Reference {ticket}: the technician will come between {time}, right?",
        "Our office moved to {postcode}. Please update the account, orders from {date} on.",
    ],
    "de": [
        "Ich habe es bei {site} am {date} gekauft, at {site} steht {price}.",
        "Hallo, meine Bestellung {order} vom {date} ist immer noch nicht da. Sendung {tracking}.",
        "Mir wurden {price} doppelt abgebucht, Rechnung {invoice}. Bitte erstatten.",
        "Seit dem Update auf {version} stürzt die App beim Start ab. Ticket {ticket}.",
        "Können Sie {qty} bis {time} am {date} nach {postcode} liefern?",
        "Das Paket {tracking} wurde um {time} als zugestellt markiert, ist aber nicht hier.",
        "Ist {version} kompatibel? Im Log steht {tech}.",
        "Bitte verschieben Sie die Lieferung von Auftrag {order} auf den {date}, ab {time}.",
        "Auf der Website steht {price}, an der Kasse {price}. Was stimmt?",
        "Ich brauche {qty} wie in Bestellung {order}. Gibt es Mengenrabatt?",
        "Vorgang {ticket} wurde am {date} ohne Antwort geschlossen. Fehler: {tech}.",
        "Was bedeutet der Fehler {tech}? Er tritt seit {date} um {time} auf.",
        "Auf Rechnung {invoice} stehen {qty}, geliefert wurde die Hälfte. Bestellung {order}.",
        "Liefern Sie nach {postcode}? Der Versand kostete letztes Mal {price}.",
        "Wie gehe ich von {version} auf die vorherige Version zurück?",
        "Die Erstattung von {price} für Bestellung {order} war bis {date} zugesagt.",
        "Kann ich einen Artikel vom {date} zurückgeben? Beleg {invoice}, Summe {price}.",
        "Zu Vorgang {ticket}: der Techniker kommt zwischen {time}, richtig?",
        "Unser Büro ist nach {postcode} umgezogen, bitte ab {date} dorthin liefern.",
    ],
    "fr": [
        "Je l'ai acheté sur {site} le {date}, le prix at {site} était {price}.",
        "Bonjour, ma commande {order} du {date} n'est toujours pas arrivée. Suivi {tracking}.",
        "On m'a débité {price} deux fois pour la facture {invoice}. Merci de rembourser.",
        "Depuis la mise à jour {version}, l'application plante au démarrage. Ticket {ticket}.",
        "Pouvez-vous livrer {qty} au {postcode} avant {time} le {date} ?",
        "Le colis {tracking} est indiqué livré à {time} mais je n'ai rien reçu.",
        "La version {version} est-elle compatible ? Je vois {tech} dans les journaux.",
        "Merci de décaler la livraison de la commande {order} au {date}, après {time}.",
        "Le site affiche {price} mais le panier indique {price}. Lequel est juste ?",
        "Il me faut {qty} comme dans la commande {order}. Y a-t-il une remise ?",
        "Le dossier {ticket} a été clos le {date} sans réponse. Erreur : {tech}.",
        "Que signifie l'erreur {tech} ? Elle apparaît depuis le {date} à {time}.",
        "La facture {invoice} indique {qty} mais j'en ai reçu la moitié. Commande {order}.",
        "Livrez-vous au {postcode} ? La livraison coûtait {price} la dernière fois.",
        "Comment revenir de la version {version} à la précédente ?",
        "Le remboursement de {price} pour la commande {order} était promis pour le {date}.",
        "Puis-je retourner un article acheté le {date} ? Reçu {invoice}, total {price}.",
    ],
    "es": [
        "Lo compré en {site} el {date}; at {site} cuesta {price}.",
        "Hola, mi pedido {order} del {date} todavía no ha llegado. Seguimiento {tracking}.",
        "Me cobraron {price} dos veces por la factura {invoice}. ¿Pueden devolver uno?",
        "Desde la actualización a {version} la app se cierra al abrirla. Ticket {ticket}.",
        "¿Pueden entregar {qty} en {postcode} antes de las {time} del {date}?",
        "El paquete {tracking} figura como entregado a las {time} pero no está aquí.",
        "¿Es compatible la versión {version}? En el registro aparece {tech}.",
        "Cambien la entrega del pedido {order} al {date}, a partir de las {time}.",
        "La web muestra {price} pero al pagar sale {price}. ¿Cuál es el correcto?",
        "Necesito {qty} como en el pedido {order}. ¿Hay descuento por volumen?",
        "La incidencia {ticket} se cerró el {date} sin respuesta. Error: {tech}.",
        "¿Qué significa el error {tech}? Empezó el {date} a las {time}.",
        "La factura {invoice} indica {qty} pero recibí la mitad. Pedido {order}.",
        "¿Envían a {postcode}? El envío costó {price} la última vez.",
        "¿Cómo vuelvo de la versión {version} a la anterior?",
        "El reembolso de {price} del pedido {order} estaba prometido para el {date}.",
        "¿Puedo devolver un artículo comprado el {date}? Ticket {invoice}, total {price}.",
    ],
    "pt": [
        "Comprei no {site} em {date}, at {site} está {price}.",
        "Olá, minha encomenda {order} de {date} ainda não chegou. Rastreio {tracking}.",
        "Fui cobrado {price} duas vezes na fatura {invoice}. Podem estornar uma?",
        "Depois de atualizar para {version} o app fecha ao abrir. Chamado {ticket}.",
        "Vocês entregam {qty} no {postcode} antes das {time} do dia {date}?",
        "O pacote {tracking} aparece como entregue às {time} mas não chegou nada.",
        "A versão {version} é compatível? No log aparece {tech}.",
        "Por favor mudem a entrega do pedido {order} para {date}, depois das {time}.",
        "O site mostra {price} mas no carrinho aparece {price}. Qual está certo?",
        "Preciso de {qty} iguais ao pedido {order}. Tem desconto por quantidade?",
        "O protocolo {ticket} foi encerrado em {date} sem resposta. Erro: {tech}.",
        "O que significa o erro {tech}? Começou em {date} às {time}.",
        "A nota {invoice} diz {qty} mas recebi metade. Pedido {order}.",
        "Vocês entregam no CEP {postcode}? O frete foi {price} da última vez.",
        "Como volto da versão {version} para a anterior?",
        "O reembolso de {price} do pedido {order} estava prometido para {date}.",
        "Posso devolver um produto comprado em {date}? Nota {invoice}, total {price}.",
    ],
    "it": [
        "L'ho comprato su {site} il {date}, at {site} costa {price}.",
        "Salve, il mio ordine {order} del {date} non è ancora arrivato. Spedizione {tracking}.",
        "Mi avete addebitato {price} due volte per la fattura {invoice}. Potete rimborsare?",
        "Dopo l'aggiornamento a {version} l'app si chiude all'avvio. Ticket {ticket}.",
        "Potete consegnare {qty} a {postcode} entro le {time} del {date}?",
        "Il pacco {tracking} risulta consegnato alle {time} ma non è arrivato niente.",
        "La versione {version} è compatibile? Nel log vedo {tech}.",
        "Spostate la consegna dell'ordine {order} al {date}, dopo le {time}.",
        "Il sito mostra {price} ma alla cassa risulta {price}. Qual è giusto?",
        "Mi servono {qty} come nell'ordine {order}. C'è uno sconto quantità?",
        "La pratica {ticket} è stata chiusa il {date} senza risposta. Errore: {tech}.",
        "Cosa significa l'errore {tech}? È iniziato il {date} alle {time}.",
        "La fattura {invoice} riporta {qty} ma ne ho ricevuti la metà. Ordine {order}.",
        "Spedite a {postcode}? La spedizione costava {price} l'ultima volta.",
        "Come torno dalla versione {version} a quella precedente?",
        "Il rimborso di {price} per l'ordine {order} era promesso entro il {date}.",
        "Posso restituire un articolo comprato il {date}? Scontrino {invoice}, totale {price}.",
    ],
}


def _fill(template: str, r: random.Random, lang: str, **planted: str) -> tuple[str, dict]:
    """The template with its slots filled; ``planted`` values go in their own slot names. The
    second value maps each planted slot name to its (start, end) in the text."""
    out, spans, rest = [], {}, template
    length = 0
    while "{" in rest:
        head, _, tail = rest.partition("{")
        slot, _, rest = tail.partition("}")
        out.append(head)
        length += len(head)
        if slot in planted:
            value = planted[slot]
            spans[slot] = (length, length + len(value))
        elif slot in FILLERS:
            value = FILLERS[slot](r, lang)
        else:
            value = PLAIN_FILLERS[slot](r)
        out.append(value)
        length += len(value)
    out.append(rest)
    return "".join(out), spans


def ordinary_prompts(per_language: int = 100, seed: int = 0) -> list[Ordinary]:
    r = random.Random(seed)
    prompts = []
    for lang in LANGUAGES:
        templates = ORDINARY_TEMPLATES[lang]
        for i in range(per_language):
            text, _ = _fill(templates[i % len(templates)], r, lang)
            prompts.append(Ordinary(lang, text))
    return prompts


# ---------------------------------------------------------------------------------------------
# planted values

_FIRST = ["jane", "john", "maria", "lukas", "sophie", "pierre", "josé", "joão", "giulia",
          "jürgen", "françois", "zoë", "ana", "marco", "léa", "müller", "renée", "íñigo",
          "conceição", "niccolò", "ole", "björn", "ángel", "ines"]
_LAST = ["doe", "smith", "schmidt", "müller", "dupont", "garcía", "silva", "rossi", "weiß",
         "lefèvre", "núñez", "gonçalves", "ferrari", "o'brien", "nguyen", "kowalski"]
_DOMAINS = ["example.com", "gmail.com", "web.de", "gmx.de", "orange.fr", "libero.it",
            "uol.com.br", "telefonica.es", "mail.example.co.uk", "firma-müller.de",
            "société-générale.fr", "correo.españa.es", "bücher.de", "empresa.com.br",
            "outlook.it", "proton.me", "icloud.com", "t-online.de", "sapo.pt", "exemplo.com.br",
            "пример.рф", "xn--mller-kva.de"]


def _email(r: random.Random) -> tuple[str, str]:
    first, last = r.choice(_FIRST), r.choice(_LAST)
    local = r.choice([f"{first}.{last}", f"{first}{r.randint(1, 99)}", f"{first[0]}.{last}",
                      f"{first}_{last}", f"{first}-{last}", f"{first}+orders", f"{last}{first}",
                      f"{first}.{last}{r.randint(70, 99)}"]).replace("'", "")
    domain = r.choice(_DOMAINS)
    user, host = local, domain
    name, dot_tld = domain.rsplit(".", 1)
    form = r.choice(["plain", "plain", "plain", "upper", "angle", "mailto", "paren-at-dot",
                     "bracket-at", "bracket-at-dot", "words", "word-at", "brace-at", "spaced-at",
                     "arroba", "chiocciola", "fullwidth"])
    if form == "plain":
        value = f"{user}@{host}"
    elif form == "upper":
        value = f"{user}@{host}".upper() if r.random() < 0.5 else f"{user.title()}@{host}"
    elif form in ("angle", "mailto"):  # the sentence puts the brackets or mailto: around it
        value = f"{user}@{host}"
    elif form == "paren-at-dot":
        value = f"{user} (at) {name.replace('.', ' (dot) ')} (dot) {dot_tld}"
    elif form == "bracket-at":
        value = f"{user}[at]{host}" if r.random() < 0.5 else f"{user} [at] {host}"
    elif form == "bracket-at-dot":
        value = f"{user} [at] {name.replace('.', ' [dot] ')} [dot] {dot_tld}"
    elif form == "words":
        user = user.replace(".", " dot ")
        value = f"{user} at {name.replace('.', ' dot ')} dot {dot_tld}"
    elif form == "word-at":  # "jane.doe at gmail.com": only the @ written out
        value = f"{user} at {host}"
    elif form == "brace-at":
        value = f"{user}{{at}}{host}"
    elif form == "spaced-at":
        value = f"{user} @ {host}"
    elif form == "arroba":
        value = f"{user} arroba {name.replace('.', ' punto ')} punto {dot_tld}"
    elif form == "chiocciola":
        value = f"{user} chiocciola {name.replace('.', ' punto ')} punto {dot_tld}"
    else:
        value = f"{user}＠{host}"
    return value, form


PHONE_COUNTRIES = ("US", "DE", "FR", "ES", "BR", "IT")
FOREIGN_COUNTRIES = ("GB", "PT", "CH", "AT", "NL", "MX", "BE", "AR")


def _valid_number(r: random.Random, region: str) -> phonenumbers.PhoneNumber:
    kind = r.choice([phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE])
    example = phonenumbers.example_number_for_type(region, kind)
    national = phonenumbers.national_significant_number(example)  # Italy's leading 0 kept
    while True:
        keep = r.randint(max(2, len(national) - 7), len(national) - 4)
        candidate = national[:keep] + "".join(r.choices(string.digits, k=len(national) - keep))
        number = phonenumbers.parse(f"+{example.country_code}{candidate}")
        if phonenumbers.is_valid_number(number):
            return number


def _phone(r: random.Random) -> tuple[str, str, str]:
    """(number, format, what follows it in the sentence: an extension or nothing)."""
    fmt = phonenumbers.PhoneNumberFormat
    if r.random() < 0.15:
        region = r.choice(FOREIGN_COUNTRIES)
        number = _valid_number(r, region)
        value = phonenumbers.format_number(number, fmt.INTERNATIONAL)
        if r.random() < 0.3:
            value = "00" + value[1:]
        return value, f"{region}/international", ""
    region = r.choice(PHONE_COUNTRIES)
    number = _valid_number(r, region)
    national = phonenumbers.format_number(number, fmt.NATIONAL)
    international = phonenumbers.format_number(number, fmt.INTERNATIONAL)
    e164 = phonenumbers.format_number(number, fmt.E164)
    digits = "".join(c for c in national if c.isdigit())
    nsn = phonenumbers.national_significant_number(number)
    form = r.choice(["national", "national", "international", "international", "e164",
                     "national-dots", "national-dashes", "national-bare", "00-international",
                     "trunk-in-parens", "area-slash", "extension"])
    if form == "area-slash" and region not in ("DE", "IT"):
        form = "national"
    if form == "trunk-in-parens" and region not in ("DE", "FR", "BR", "IT"):
        form = "international"
    if form == "national":
        value = national
    elif form == "international":
        value = international
    elif form == "e164":
        value = e164
    elif form == "national-dots":
        value = ".".join(national.replace("(", "").replace(")", "").replace("-", " ").split())
    elif form == "national-dashes":
        value = "-".join(national.replace("(", "").replace(")", "").split()).replace("--", "-")
    elif form == "national-bare":
        value = digits
    elif form == "00-international":
        value = "00" + international[1:]
    elif form == "area-slash":  # 030 / 1234567, 0151/23456789: the German area code slash
        area, _, rest = national.partition(" ")
        value = f"{area} / {rest.replace(' ', '')}" if r.random() < 0.5 else f"{area}/{rest}"
    elif form == "extension":  # the planted value is the number; its extension follows
        value = international
        tail = r.choice([" ext. ", " x", " Durchwahl ", " poste ", " interno "]) + str(
            r.randint(10, 999))
        return value, f"{region}/{form}", tail
    else:  # +49 (0)30 1234567: the trunk prefix in brackets, as Germans and Italians write it
        value = f"+{number.country_code} (0){nsn.lstrip('0')[:3]} {nsn.lstrip('0')[3:]}"
    if region == "US" and form == "national" and r.random() < 0.5:
        value = r.choice([f"{nsn[:3]}-{nsn[3:6]}-{nsn[6:]}", f"1-{nsn[:3]}-{nsn[3:6]}-{nsn[6:]}",
                          f"{nsn[:3]}.{nsn[3:6]}.{nsn[6:]}",
                          f"+1 ({nsn[:3]}) {nsn[3:6]}-{nsn[6:]}"])
    return value, f"{region}/{form}", ""


def _luhn_complete(r: random.Random, prefix: str, length: int) -> str:
    body = prefix + "".join(r.choices(string.digits, k=length - len(prefix) - 1))
    for check in string.digits:
        candidate = body + check
        total = 0
        for i, digit in enumerate(reversed(candidate)):
            value = int(digit) * (2 if i % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return candidate
    raise AssertionError("no Luhn digit")


def _card(r: random.Random) -> tuple[str, str]:
    brand, prefix, length, groups = r.choice([
        ("visa", "4", 16, (4, 4, 4, 4)), ("visa", "4", 16, (4, 4, 4, 4)),
        ("mastercard", str(r.randint(51, 55)), 16, (4, 4, 4, 4)),
        ("mastercard", str(r.randint(2221, 2720)), 16, (4, 4, 4, 4)),
        ("amex", r.choice(["34", "37"]), 15, (4, 6, 5)),
        ("discover", "6011", 16, (4, 4, 4, 4)), ("diners", "36", 14, (4, 6, 4)),
        ("jcb", "35" + str(r.randint(28, 89)), 16, (4, 4, 4, 4)),
        ("maestro", r.choice(["6759", "5018", "6304"]), 19, (4, 4, 4, 4, 3)),
        ("elo", "6362", 16, (4, 4, 4, 4)), ("visa19", "4", 19, (4, 4, 4, 4, 3)),
    ])
    digits = _luhn_complete(r, prefix, length)
    parts, position = [], 0
    for size in groups:
        parts.append(digits[position:position + size])
        position += size
    sep, name = r.choice([(" ", "space"), (" ", "space"), ("  ", "double-space"), (".", "dot"),
                          ("-", "dash"), ("", "none"), (" - ", "spaced-dash")])
    return sep.join(parts), f"{brand}/{name}"


# BBAN structure per country: n digits, a upper-case letters, c alphanumerics (the IBAN
# registry's notation).
_BBAN = {"DE": "18n", "FR": "10n11c2n", "ES": "20n", "IT": "1a10n12c", "BR": "23n1a1c",
         "PT": "21n", "NL": "4a10n", "GB": "4a14n", "BE": "12n", "AT": "16n", "CH": "5n12c",
         "LU": "3n13c", "IE": "4a14n"}


def _bban(r: random.Random, structure: str) -> str:
    out, number = [], ""
    for ch in structure:
        if ch.isdigit():
            number += ch
            continue
        # Alphanumeric fields ("c") hold digits, as most banks' account numbers do.
        pool = string.ascii_uppercase if ch == "a" else string.digits
        out.append("".join(r.choices(pool, k=int(number))))
        number = ""
    return "".join(out)


def _iban(r: random.Random) -> tuple[str, str]:
    country = r.choice(list(_BBAN))
    while True:  # countries with national check digits (ES, FR, IT, BE, PT...) need retries
        bban = _bban(r, _BBAN[country])
        check = std_iban.calc_check_digits(country + "00" + bban)
        value = country + check + bban
        if std_iban.is_valid(value):
            break
    form = r.choice(["grouped", "grouped", "compact", "lower-grouped", "dashes", "cc-space"])
    grouped = " ".join(value[i:i + 4] for i in range(0, len(value), 4))
    value = {"grouped": grouped, "compact": value, "lower-grouped": grouped.lower(),
             "dashes": grouped.replace(" ", "-"),
             "cc-space": f"{value[:2]} {value[2:4]} " + " ".join(
                 value[i:i + 4] for i in range(4, len(value), 4))}[form]
    return value, f"{country}/{form}"


def _ssn(r: random.Random) -> str:
    while True:
        area = r.randint(1, 899)
        if area == 666:
            continue
        value = f"{area:03d}{r.randint(1, 99):02d}{r.randint(1, 9999):04d}"
        if std_ssn.is_valid(value):
            return value


def _idnr(r: random.Random) -> str:
    while True:
        body = str(r.randint(1, 9)) + "".join(r.choices(string.digits, k=9))
        counts = sorted(body.count(d) for d in set(body))
        if counts[-1] in (2, 3) and counts.count(counts[-1]) == 1 and len(set(body)) <= 9:
            value = body + mod_11_10.calc_check_digit(body)
            if std_idnr.is_valid(value):
                return value


def _nir(r: random.Random) -> str:
    while True:
        department = r.choice([f"{r.randint(1, 95):02d}", "2A", "2B"])
        body = (f"{r.randint(1, 2)}{r.randint(40, 99):02d}{r.randint(1, 12):02d}{department}"
                f"{r.randint(1, 990):03d}{r.randint(1, 999):03d}")
        value = body + std_nir.calc_check_digits(body)
        if std_nir.is_valid(value):
            return value


def _cpf(r: random.Random) -> str:
    digits = [r.randint(0, 9) for _ in range(9)]
    for length in (9, 10):
        total = sum(d * (length + 1 - i) for i, d in enumerate(digits))
        digits.append((total * 10) % 11 % 10)
    value = "".join(map(str, digits))
    assert std_cpf.is_valid(value)
    return value


def _codice_fiscale(r: random.Random) -> str:
    upper = string.ascii_uppercase
    day = r.randint(1, 28) + (40 if r.random() < 0.5 else 0)
    body = ("".join(r.choices(upper, k=6)) + f"{r.randint(40, 99):02d}"
            + r.choice("ABCDEHLMPRST") + f"{day:02d}" + r.choice("ABCDEFGHILM")
            + f"{r.randint(1, 999):03d}")
    value = body + std_cf.calc_check_digit(body)
    assert std_cf.is_valid(value)
    return value


def _national_id(r: random.Random) -> tuple[str, str, str]:
    """(value, format, country language) for one national id."""
    which = r.choice(["ssn", "ssn", "idnr", "nir", "dni", "nie", "cpf", "cf"])
    if which == "ssn":
        v = _ssn(r)
        form = r.choice(["dash", "dash", "space", "bare"])
        value = {"dash": f"{v[:3]}-{v[3:5]}-{v[5:]}", "space": f"{v[:3]} {v[3:5]} {v[5:]}",
                 "bare": v}[form]
        return value, f"ssn/{form}", "en"
    if which == "idnr":
        v = _idnr(r)
        form = r.choice(["spaced", "bare"])
        value = f"{v[:2]} {v[2:5]} {v[5:8]} {v[8:]}" if form == "spaced" else v
        return value, f"de-idnr/{form}", "de"
    if which == "nir":
        v = _nir(r)
        form = r.choice(["spaced", "bare"])
        value = (f"{v[0]} {v[1:3]} {v[3:5]} {v[5:7]} {v[7:10]} {v[10:13]} {v[13:]}"
                 if form == "spaced" else v)
        return value, f"fr-nir/{form}", "fr"
    if which == "dni":
        digits = f"{r.randint(1, 99999999):08d}"
        v = digits + std_dni.calc_check_digit(digits)
        form = r.choice(["plain", "dash", "dots"])
        value = {"plain": v, "dash": f"{v[:8]}-{v[8]}",
                 "dots": f"{v[:2]}.{v[2:5]}.{v[5:8]}-{v[8]}"}[form]
        assert std_dni.is_valid(v)
        return value, f"es-dni/{form}", "es"
    if which == "nie":
        body = r.choice("XYZ") + f"{r.randint(0, 9999999):07d}"
        v = body + std_nie.calc_check_digit(body)
        assert std_nie.is_valid(v)
        form = r.choice(["plain", "dash"])
        value = v if form == "plain" else f"{v[0]}-{v[1:8]}-{v[8]}"
        return value, f"es-nie/{form}", "es"
    if which == "cpf":
        v = _cpf(r)
        form = r.choice(["formatted", "formatted", "bare"])
        value = f"{v[:3]}.{v[3:6]}.{v[6:9]}-{v[9:]}" if form == "formatted" else v
        return value, f"br-cpf/{form}", "pt"
    v = _codice_fiscale(r)
    form = r.choice(["upper", "upper", "lower"])
    return (v if form == "upper" else v.lower()), f"it-cf/{form}", "it"


def _b64url_json(payload: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def _secret(r: random.Random) -> tuple[str, str]:
    def rnd(n, pool=B62):
        return "".join(r.choices(pool, k=n))

    which = r.choice(["openai", "openai-proj", "anthropic", "github", "github-pat", "aws-id",
                      "aws-secret", "slack", "google", "jwt", "stripe", "hf", "random-token",
                      "bearer", "url-password", "password", "gitlab"])
    value = {
        "openai": lambda: "sk-" + rnd(48),
        "openai-proj": lambda: "sk-proj-" + rnd(r.randint(100, 156), B64URL),
        "anthropic": lambda: "sk-ant-api03-" + rnd(93, B64URL) + "AA",
        "github": lambda: r.choice(["ghp_", "gho_", "ghs_"]) + rnd(36),
        "github-pat": lambda: "github_pat_" + rnd(22) + "_" + rnd(59),
        "aws-id": lambda: r.choice(["AKIA", "ASIA"]) + rnd(16, string.ascii_uppercase + "234567"),
        "aws-secret": lambda: rnd(40, B62 + "+/"),
        "slack": lambda: (f"xox{r.choice('bpa')}-{r.randint(10 ** 10, 10 ** 12)}-"
                          f"{r.randint(10 ** 10, 10 ** 12)}-{rnd(24)}"),
        "google": lambda: "AIza" + rnd(35, B64URL),
        "jwt": lambda: (_b64url_json({"alg": "HS256", "typ": "JWT"}) + "."
                        + _b64url_json({"sub": str(r.randint(1, 10 ** 9)),
                                        "name": r.choice(_FIRST),
                                        "iat": r.randint(16 * 10 ** 8, 18 * 10 ** 8)})
                        + "." + rnd(43, B64URL)),
        "stripe": lambda: r.choice(["sk_live_", "rk_live_", "sk_test_"]) + rnd(r.choice([24, 99])),
        "hf": lambda: "hf_" + rnd(34, string.ascii_letters),
        "random-token": lambda: rnd(r.choice([24, 32, 40, 64])),
        "bearer": lambda: rnd(r.choice([32, 40]), B64URL),
        "url-password": lambda: r.choice(["S3cr3t!", "hunter2x", "Pa55word", "xK9#mQ2z"]) + rnd(4),
        "password": lambda: r.choice(["Sommer", "Summer", "Verano", "Estate", "Bonjour", "Senha"])
        + str(r.randint(2000, 2026)) + r.choice(["!", "#", "?", "", "$"]),
        "gitlab": lambda: "glpat-" + rnd(20, B64URL),
    }[which]()
    return value, which


# Sentences per kind and language; {v} is the planted value. Most carry ordinary values too.
PLANTED_TEMPLATES = {
    "email": {
        "en": ["Please send the invoice {invoice} to {v}, thanks.", "My email is {v}",
               "You can reach me at {v} about order {order}.", "contact: {v}",
               "I changed my address to {v} on {date}, please update it."],
        "de": ["Bitte schicken Sie die Rechnung {invoice} an {v}.", "Meine E-Mail: {v}",
               "Erreichbar unter {v} wegen Bestellung {order}.", "Neue Adresse ab {date}: {v}"],
        "fr": ["Envoyez la facture {invoice} à {v}, merci.", "Mon adresse e-mail est {v}",
               "Écrivez-moi à {v} pour la commande {order}.", "courriel : {v}"],
        "es": ["Envíen la factura {invoice} a {v}, gracias.", "Mi correo es {v}",
               "Pueden escribirme a {v} por el pedido {order}.", "email: {v} (desde el {date})"],
        "pt": ["Mandem a nota {invoice} para {v}, obrigado.", "Meu e-mail é {v}",
               "Podem me escrever em {v} sobre o pedido {order}.", "e-mail: {v}"],
        "it": ["Inviate la fattura {invoice} a {v}, grazie.", "La mia email è {v}",
               "Scrivetemi a {v} per l'ordine {order}.", "indirizzo: {v} dal {date}"],
    },
    "phone": {
        "en": ["Call me at {v} after {time}.", "My phone number is {v}.",
               "Text me on {v} when order {order} ships.", "mobile: {v}",
               "You can reach me on {v} tomorrow.", "Please ring {v} before delivery on {date}.",
               "{v} is my cell, call anytime."],
        "de": ["Rufen Sie mich unter {v} an, ab {time}.", "Meine Telefonnummer: {v}",
               "Handy {v}, wegen Bestellung {order}.", "Tel. {v}",
               "Ich bin unter {v} erreichbar.", "Bitte vor der Lieferung am {date} anrufen: {v}"],
        "fr": ["Appelez-moi au {v} après {time}.", "Mon numéro de portable : {v}",
               "Tél. {v} pour la commande {order}.", "Vous pouvez me joindre au {v}.",
               "téléphone : {v}"],
        "es": ["Llámenme al {v} después de las {time}.", "Mi teléfono es {v}.",
               "Móvil: {v}, por el pedido {order}.", "Pueden contactarme en el {v}.",
               "WhatsApp {v}"],
        "pt": ["Me liguem no {v} depois das {time}.", "Meu celular é {v}.",
               "Telefone: {v}, sobre o pedido {order}.", "WhatsApp {v}",
               "Podem me contatar pelo {v}."],
        "it": ["Chiamatemi al {v} dopo le {time}.", "Il mio cellulare è {v}.",
               "Tel. {v} per l'ordine {order}.", "Potete contattarmi al {v}.",
               "numero di telefono: {v}"],
    },
    "card": {
        "en": ["My card number is {v}, expiry 08/27.", "Charge it to {v} please.",
               "card: {v} (the order {order} failed)", "I paid with {v} on {date}."],
        "de": ["Meine Kartennummer ist {v}, gültig bis 08/27.", "Bitte belasten Sie {v}.",
               "Kreditkarte {v}, Bestellung {order} ging nicht durch."],
        "fr": ["Mon numéro de carte est {v}, expiration 08/27.", "Débitez la carte {v}.",
               "carte : {v} (commande {order} refusée)"],
        "es": ["El número de mi tarjeta es {v}, caduca 08/27.", "Cobren en la tarjeta {v}.",
               "tarjeta: {v} (el pedido {order} falló)"],
        "pt": ["O número do meu cartão é {v}, validade 08/27.", "Cobrem no cartão {v}.",
               "cartão: {v} (pedido {order} recusado)"],
        "it": ["Il numero della mia carta è {v}, scadenza 08/27.", "Addebitate sulla carta {v}.",
               "carta: {v} (l'ordine {order} non è passato)"],
    },
    "iban": {
        "en": ["Please refund {price} to IBAN {v}.", "My bank account: {v}",
               "Send the money to {v} by {date}."],
        "de": ["Bitte erstatten Sie {price} auf IBAN {v}.", "Meine Bankverbindung: {v}",
               "Überweisung an {v} bis {date}."],
        "fr": ["Merci de rembourser {price} sur l'IBAN {v}.", "Mon RIB : {v}",
               "Virement sur {v} avant le {date}."],
        "es": ["Devuelvan {price} al IBAN {v}.", "Mi cuenta: {v}",
               "Transferencia a {v} antes del {date}."],
        "pt": ["Devolvam {price} para o IBAN {v}.", "Minha conta: {v}",
               "Transferência para {v} até {date}."],
        "it": ["Rimborsate {price} sull'IBAN {v}.", "Il mio conto: {v}",
               "Bonifico su {v} entro il {date}."],
    },
    "national_id": {
        "en": ["My SSN is {v}.", "SSN: {v}, for the tax form of order {order}.",
               "social security number {v}"],
        "de": ["Meine Steuer-ID ist {v}.", "Steuerliche Identifikationsnummer: {v}",
               "Hier meine Steuer-ID {v} für Rechnung {invoice}."],
        "fr": ["Mon numéro de sécurité sociale est {v}.", "NIR : {v}",
               "numéro de sécu {v} pour le dossier {ticket}"],
        "es": ["Mi DNI es {v}.", "DNI/NIE: {v}", "Les paso mi NIE {v} para la factura {invoice}."],
        "pt": ["Meu CPF é {v}.", "CPF: {v}", "Segue o CPF {v} para a nota {invoice}."],
        "it": ["Il mio codice fiscale è {v}.", "CF: {v}",
               "codice fiscale {v} per la fattura {invoice}"],
    },
    "secret": {
        "en": ["Here is my API key: {v}", "export OPENAI_API_KEY={v}", "token {v}",
               "curl -H \"Authorization: Bearer {v}\" https://api.example.com/v1/orders",
               "The config has api_key = \"{v}\" since {date}.", "I pasted {v} by mistake"],
        "de": ["Hier mein API-Schlüssel: {v}", "Der Token lautet {v}", "Schlüssel {v} seit {date}"],
        "fr": ["Voici ma clé API : {v}", "le jeton {v} ne marche plus depuis le {date}"],
        "es": ["Esta es mi clave de API: {v}", "el token {v} dejó de funcionar el {date}"],
        "pt": ["Segue minha chave de API: {v}", "o token {v} parou em {date}"],
        "it": ["Ecco la mia chiave API: {v}", "il token {v} non funziona dal {date}"],
    },
}
# Secrets whose sentence must name them (a value alone, e.g. "Sommer2024!", is not a secret).
_SECRET_SENTENCES = {
    "url-password": ["DATABASE_URL=postgres://admin:{v}@db.example.com:5432/shop",
                     "connect with mysql://app:{v}@10.0.0.5/orders"],
    "password": ["my password is {v}", "Mein Passwort ist {v}", "mon mot de passe est {v}",
                 "mi contraseña es {v}", "minha senha é {v}", "la password è {v}",
                 "password: {v}"],
    "bearer": ["curl -H \"Authorization: Bearer {v}\" https://api.example.com/v1/orders",
               "Authorization: Bearer {v}"],
    "aws-secret": ["aws_secret_access_key = {v}", "AWS secret: {v}", "{v}",
                   "secret access key {v} for bucket orders-{date}"],
}


# Sentences that name no category: the value must speak for itself.
NEUTRAL_TEMPLATES = ["{v}", "Hi, it's me again: {v}", "Hallo, {v}, danke!", "Bonjour, {v}, merci.",
                     "Hola: {v}", "Olá, {v}", "Ciao, {v}, grazie", "ok {v}", "{v} (see above)"]


def planted_prompts(per_kind: int = 200, seed: int = 1, neutral: bool = False) -> list[Planted]:
    """``per_kind`` planted values of every category. ``neutral``: in sentences that name no
    category (no "my phone number", "IBAN", "Steuer-ID", "API key"), for the values whose
    detection leans on such words (bare runs of digits, SSNs); not part of the targets."""
    r = random.Random(seed)
    out = []
    for kind in KINDS:
        for i in range(per_kind):
            lang = LANGUAGES[i % len(LANGUAGES)]
            if kind == "email":
                value, fmt = _email(r)
            elif kind == "phone":
                value, fmt, tail = _phone(r)
            elif kind == "card":
                value, fmt = _card(r)
            elif kind == "iban":
                value, fmt = _iban(r)
            elif kind == "national_id":
                value, fmt, lang = _national_id(r)
            else:
                value, fmt = _secret(r)
            templates = PLANTED_TEMPLATES[kind][lang]
            if kind == "secret" and fmt in _SECRET_SENTENCES:
                templates = _SECRET_SENTENCES[fmt]
            template = r.choice(templates)
            if neutral and not (kind == "secret" and fmt in _SECRET_SENTENCES):
                template = r.choice(NEUTRAL_TEMPLATES)
            if kind == "email" and fmt == "angle":  # the value is inside the brackets
                template = template.replace("{v}", "<{v}>")
            elif kind == "email" and fmt == "mailto":
                template = template.replace("{v}", "mailto:{v}")
            elif kind == "phone" and tail:
                template = template.replace("{v}", "{v}" + tail)
            text, spans = _fill(template, r, lang, v=value)
            start, end = spans["v"]
            out.append(Planted(kind, f"{kind}/{fmt}", lang, text, start, end))
    return out
