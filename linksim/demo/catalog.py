"""The fixed catalogue of the demo company: who works there, what it sends, what it knows.

Everything a definitions file names — associates, teams, interests, selections, projects, extra
fields, links and mailings — is fixed here and does not depend on the seed or the scale, so that
``data/demo-definitions.yaml`` fits every generated database. The seed only varies the population
(contacts, persons, their fields and memberships, recipients, opens and clicks).

The demo company sells a B2B software product from Stockholm, Berlin and New York. The data is an
extract taken on ``EXTRACT_AT`` and covers the twelve months before it.
"""

from __future__ import annotations

import calendar
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta

__all__ = [
    "ASSOCIATES",
    "EXTRACT_AT",
    "EXTRA_FIELDS",
    "INTERESTS",
    "LINKS",
    "PROJECTS",
    "REGIONS",
    "SELECTIONS",
    "Link",
    "Mailing",
    "Region",
    "ascii_name",
    "mailings",
]

EXTRACT_AT = datetime(2026, 11, 1)
"""The end of the data: no click, open or delivery is at or after it."""
FIRST_MONTH = date(2025, 11, 1)
MONTHS = 12


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split())


@dataclass(frozen=True)
class Region:
    """A sales region: its team, time zone, share of contacts and naming conventions."""

    team: str
    timezone: str
    share: float
    countries: tuple[tuple[str, str, str], ...]  # (country, top-level domain, legal form)
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    company_prefixes: tuple[str, ...]
    languages: tuple[str, ...]  # preferred_language values, the local one first
    ip_prefixes: tuple[int, ...]  # first octets of plausible consumer and business ranges


REGIONS: tuple[Region, ...] = (
    Region(
        team="Nordics",
        timezone="Europe/Stockholm",
        share=0.40,
        countries=(
            ("Sweden", "se", "AB"),
            ("Norway", "no", "AS"),
            ("Denmark", "dk", "A/S"),
            ("Finland", "fi", "Oy"),
        ),
        first_names=_names(
            "Anna Erik Lars Karin Johan Maria Nils Sofia Mikael Emma Oskar Ida Henrik Sara Magnus"
            " Linnea Anders Elin Kristian Maja Ole Ingrid Jukka Aino Mette Søren Björn Åsa Freja"
            " Mads"
        ),
        last_names=_names(
            "Andersson Johansson Karlsson Nilsson Eriksson Larsson Olsen Hansen Jensen Nielsen"
            " Pedersen Virtanen Korhonen Berg Lindberg Holm Dahl Lund Sørensen Håkansson"
            " Lindqvist Mäkinen Solberg Bakke"
        ),
        company_prefixes=_names(
            "Nordvik Fjord Polar Norrsken Aurora Granit Skog Havbris Isbjörn Tundra Saga Midnatt"
        ),
        languages=("Swedish", "Norwegian", "Danish", "Finnish", "English"),
        ip_prefixes=(78, 81, 83, 85, 90, 193, 194, 213),
    ),
    Region(
        team="DACH",
        timezone="Europe/Berlin",
        share=0.35,
        countries=(
            ("Germany", "de", "GmbH"),
            ("Germany", "de", "AG"),
            ("Austria", "at", "GmbH"),
            ("Switzerland", "ch", "AG"),
        ),
        first_names=_names(
            "Thomas Andreas Michael Stefan Julia Katharina Sabine Markus Christian Lukas Lea Anna"
            " Jonas Laura Felix Sophie Daniel Sandra Florian Martina Jürgen Ursula Matthias Birgit"
        ),
        last_names=_names(
            "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Koch"
            " Richter Huber Gruber Bauer Wolf Keller Steiner Moser Brunner Zimmermann Schäfer Frei"
            " Graf"
        ),
        company_prefixes=_names(
            "Alpen Rhein Berg Edelweiss Donau Falken Sonnen Brenner Eichen Tannen Isar Bodensee"
        ),
        languages=("German", "English"),
        ip_prefixes=(77, 79, 84, 87, 91, 93, 217),
    ),
    Region(
        team="Americas",
        timezone="America/New_York",
        share=0.25,
        countries=(
            ("United States", "com", "Inc."),
            ("United States", "com", "LLC"),
            ("Canada", "ca", "Ltd."),
            ("Brazil", "com.br", "Ltda."),
        ),
        first_names=_names(
            "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara"
            " Richard Susan Joseph Jessica Carlos Ana Lucas Mariana Ethan Olivia Noah Emma Liam"
            " Ava Sophia Mason"
        ),
        last_names=_names(
            "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Wilson"
            " Anderson Taylor Thomas Moore Martin Lee Thompson White Silva Santos Oliveira"
            " Tremblay Roy Gagnon Clark Lewis"
        ),
        company_prefixes=_names(
            "Summit Pioneer Liberty Redwood Keystone Lakeshore Frontier Harbor Evergreen Granite"
            " Prairie Cascade"
        ),
        languages=("English", "Portuguese", "French"),
        ip_prefixes=(24, 50, 68, 71, 73, 98, 108, 174),
    ),
)

COMPANY_CORES = (
    "Logistics", "Analytics", "Systems", "Energy", "Foods", "Medical", "Robotics", "Consulting",
    "Finance", "Retail", "Software", "Engineering", "Media", "Bio", "Solar", "Freight",
)  # fmt: skip
BUSINESSES = (
    "Software", "Manufacturing", "Retail", "Financial services", "Healthcare", "Logistics",
    "Energy", "Public sector", "Consulting", "Education",
)  # fmt: skip
# (category, share of contacts, click propensity multiplier before normalisation)
CATEGORIES = (
    ("Customer", 0.30, 1.4),
    ("Prospect", 0.50, 1.0),
    ("Partner", 0.08, 1.2),
    ("Former customer", 0.07, 0.4),
    ("Supplier", 0.05, 0.5),
)
# (job role, share of persons, click propensity multiplier before normalisation)
ROLES = (
    ("CEO", 0.08, 0.6),
    ("CTO", 0.07, 1.1),
    ("Marketing", 0.18, 1.5),
    ("Sales", 0.17, 1.0),
    ("IT", 0.15, 1.3),
    ("Finance", 0.12, 0.6),
    ("Operations", 0.15, 0.8),
    ("Other", 0.08, 0.7),
)
STAGES = ("Subscriber", "Lead", "MQL", "SQL", "Opportunity", "Customer")
LAST_CTAS = ("webinar", "whitepaper", "trade-show", "product-news", "pricing", "referral")
MAILBOXES = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "gmx.de", "hotmail.com")

# (associate_id, name, team, daily_capacity, timezone); team leads have no capacity limit.
ASSOCIATES: tuple[tuple[int, str, str | None, int | None, str], ...] = (
    (1, "Maja Lindqvist", None, None, "Europe/Stockholm"),  # marketing: creates follow-ups
    (2, "Jonas Weber", None, 8, "Europe/Berlin"),  # support desk lead
    (3, "Erik Johansson", "Nordics", None, "Europe/Stockholm"),
    (4, "Sara Nilsson", "Nordics", 6, "Europe/Stockholm"),
    (5, "Mikkel Hansen", "Nordics", 5, "Europe/Stockholm"),
    (6, "Ingrid Solberg", "Nordics", 6, "Europe/Stockholm"),
    (7, "Aino Virtanen", "Nordics", 4, "Europe/Stockholm"),
    (8, "Lars Andersson", "Nordics", 6, "Europe/Stockholm"),
    (9, "Freja Christensen", "Nordics", 5, "Europe/Stockholm"),
    (10, "Katrin Müller", "DACH", None, "Europe/Berlin"),
    (11, "Stefan Huber", "DACH", 6, "Europe/Berlin"),
    (12, "Lena Fischer", "DACH", 5, "Europe/Berlin"),
    (13, "Tobias Keller", "DACH", 6, "Europe/Berlin"),
    (14, "Anna Gruber", "DACH", 4, "Europe/Berlin"),
    (15, "Matthias Schneider", "DACH", 5, "Europe/Berlin"),
    (16, "Emily Carter", "Americas", None, "America/New_York"),
    (17, "Michael Brooks", "Americas", 6, "America/New_York"),
    (18, "Jessica Ramirez", "Americas", 5, "America/New_York"),
    (19, "Daniel Kim", "Americas", 6, "America/New_York"),
    (20, "Olivia Bennett", "Americas", 4, "America/New_York"),
)

# (name, share of persons holding it, share of contacts holding it)
INTERESTS = (
    ("Product news", 0.35, 0.10),
    ("Webinars", 0.20, 0.05),
    ("Events", 0.15, 0.08),
    ("Pricing", 0.08, 0.04),
    ("Integrations", 0.12, 0.06),
    ("Security & compliance", 0.10, 0.07),
    ("AI assistant", 0.09, 0.05),
    ("Customer stories", 0.07, 0.03),
    ("Mobile app", 0.06, 0.02),
    ("Partner program", 0.03, 0.04),
)
# (name, share of persons who are members)
SELECTIONS = (
    ("Newsletter subscribers", 0.60),
    ("Hot leads", 0.03),
    ("Cold leads", 0.12),
    ("Demo requested", 0.02),
    ("Webinar attendees 2026", 0.04),
    ("Unsubscribed", 0.02),
    ("Event invitees", 0.08),
    ("Key accounts", 0.05),
)
PROJECTS = (
    ("Launch 2026", 0.03),
    ("Nordic roadshow 2026", 0.015),
    ("DACH partner summit 2026", 0.01),
    ("Americas expansion", 0.015),
    ("Customer advisory board", 0.005),
)
# (name, type, options, share of persons with a value)
EXTRA_FIELDS: tuple[tuple[str, str, tuple[str, ...] | None, float], ...] = (
    ("newsletter_opt_in", "boolean", None, 0.70),
    ("lead_score", "integer", None, 0.60),
    ("budget_eur", "decimal", None, 0.15),
    ("last_cta", "text", None, 0.20),
    ("last_webinar", "date", None, 0.10),
    ("customer_since", "date", None, 0.12),
    ("preferred_language", "list",
     ("English", "Swedish", "Norwegian", "Danish", "Finnish", "German", "Portuguese", "French"),
     0.80),
    ("job_role", "list", tuple(r[0] for r in ROLES), 0.55),
    ("lifecycle_stage", "list", STAGES, 0.75),
)  # fmt: skip


@dataclass(frozen=True)
class Link:
    """A tracked link."""

    link_id: int
    url: str
    name: str


UNSUBSCRIBE = Link(1, "https://www.example.com/unsubscribe", "Unsubscribe")
BOOK_A_DEMO = Link(2, "https://www.example.com/demo", "Book a demo")
PRICING = Link(3, "https://www.example.com/pricing", "Pricing")
SUPPORT = Link(4, "https://support.example.com/contact", "Contact support")
SURVEY = Link(5, "https://survey.example.com/customers-2026", "Customer survey 2026")
LINKS = (UNSUBSCRIBE, BOOK_A_DEMO, PRICING, SUPPORT, SURVEY)
"""The links shared by several mailings; every other link belongs to one mailing."""

FEATURES = (
    "AI assistant", "Mobile app", "Integrations hub", "Security center", "Dashboards",
    "Workflow builder", "Data import", "Calendar sync", "Reporting", "Single sign-on",
    "Offline mode", "API v3", "Smart segments",
)  # fmt: skip


@dataclass(frozen=True)
class Mailing:
    """A mailing: id, name, when it was sent (None = planned), who gets it, its links and CTRs."""

    mailing_id: int
    name: str
    sent_at: datetime | None
    audience: float  # share of eligible persons who receive it
    region: int | None  # index into REGIONS; None = every region
    links: tuple[tuple[Link, float], ...]  # (link, click-through rate at propensity 1)


def ascii_name(name: str) -> str:
    """A name as it appears in an e-mail address.

    >>> ascii_name("Søren Håkansson-Müller")
    'sorenhakanssonmuller'
    """
    text = name.lower().replace("ø", "o").replace("æ", "ae").replace("ß", "ss")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in text if ch.isalnum())


def _weekday_on_or_after(day: date, weekday: int, hour: int, minute: int = 0) -> datetime:
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute)


def _month(index: int) -> date:
    year, month = divmod(FIRST_MONTH.month - 1 + index, 12)
    return date(FIRST_MONTH.year + year, month + 1, 1)


def _mailing(month_index: int, slot: int, planned: bool) -> Mailing:
    first = _month(month_index)
    label = f"{calendar.month_name[first.month]} {first.year}"
    mailing_id = (first.year * 100 + first.month) * 10 + slot
    stamp = f"{first.year}-{first.month:02d}"

    def own(j: int, url: str, name: str) -> Link:
        return Link(mailing_id * 10 + j, url, name)

    region = None
    if slot == 1:  # first Tuesday
        sent = _weekday_on_or_after(first, 1, 7, 30)
        feature = FEATURES[month_index % len(FEATURES)]
        name, audience = f"Product news {label}", 0.85
        links = [
            (own(1, f"https://www.example.com/news/{stamp}", f"Release notes {label}"), 0.085),
            (own(2, f"https://www.example.com/features/{ascii_name(feature)}",
                 f"Feature spotlight: {feature}"), 0.05),
            (BOOK_A_DEMO, 0.025),
        ]  # fmt: skip
        if month_index % 2 == 0:
            links.append((PRICING, 0.02))
    elif slot == 2 and month_index % 2 == 0:  # third Thursday
        sent = _weekday_on_or_after(first + timedelta(days=14), 3, 9)
        name, audience = f"Webinar invitation {label}", 0.60
        links = [
            (own(1, f"https://www.example.com/webinars/{stamp}", "Register for the webinar"), 0.07),
            (own(2, f"https://www.example.com/webinars/{stamp}/agenda", "Webinar agenda"), 0.03),
            (BOOK_A_DEMO, 0.015),
        ]
    elif slot == 2:
        sent = _weekday_on_or_after(first + timedelta(days=14), 3, 9)
        name, audience = f"Customer newsletter {label}", 0.65
        links = [
            (own(1, f"https://www.example.com/stories/{stamp}", "Customer story"), 0.05),
            (SUPPORT, 0.02),
        ]
        if first.month in (6, 10):
            links.append((SURVEY, 0.06))
    elif slot == 3:  # second Wednesday, one region at a time
        sent = _weekday_on_or_after(first + timedelta(days=7), 2, 8)
        region = month_index % len(REGIONS)
        team = REGIONS[region].team
        name, audience = f"Events & meetups {team} {label}", 0.90
        links = [
            (own(1, f"https://www.example.com/events/{ascii_name(team)}/{stamp}",
                 "Event calendar"), 0.06),
            (BOOK_A_DEMO, 0.02),
        ]  # fmt: skip
    elif slot == 4:  # fourth Tuesday
        sent = _weekday_on_or_after(first + timedelta(days=21), 1, 8)
        name, audience = f"Partner newsletter {label}", 0.40
        links = [
            (own(1, "https://partners.example.com/portal", "Partner portal"), 0.04),
            (PRICING, 0.015),
        ]
    else:  # second Friday
        sent = _weekday_on_or_after(first + timedelta(days=7), 4, 10)
        name, audience = f"Tips & tricks {label}", 0.70
        links = [
            (own(1, f"https://www.example.com/tips/{stamp}", "Tip of the month"), 0.06),
            (SUPPORT, 0.015),
        ]
    links.append((UNSUBSCRIBE, 0.004))
    return Mailing(mailing_id, name, None if planned else sent, audience, region, tuple(links))


def mailings(extra_slots: int = 0) -> tuple[Mailing, ...]:
    """The mailing plan: two a month for twelve months (plus ``extra_slots`` more at larger
    scales), then two planned ones for the month after the extract, in order of sending.

    >>> [m.name for m in mailings()][:2], len(mailings()), len(mailings(2))
    (['Product news November 2025', 'Webinar invitation November 2025'], 26, 50)
    """
    slots = range(1, 3 + extra_slots)
    sent = [_mailing(month, slot, planned=False) for month in range(MONTHS) for slot in slots]
    sent.sort(key=lambda m: (m.sent_at, m.mailing_id))
    planned = [_mailing(MONTHS, slot, planned=True) for slot in (1, 2)]
    return tuple(sent + planned)
