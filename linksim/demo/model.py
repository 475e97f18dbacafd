"""How the demo company's people behave: the parameters of the generator and what they imply.

The generator draws, for each person, a click propensity ``a`` (lognormal, mean 1) multiplied by
their job role and their company's category. A delivered recipient reads the mail with probability
``r = min(MAX_READ, READ_RATE * sqrt(a))``; a reader loads the tracking image (an open) with
probability ``IMAGES_SHOWN`` and clicks each link of the mailing independently with probability
``min(MAX_CTR, ctr * a / r)`` — so that, unconditionally, a link is clicked with probability
``ctr * a`` (until the caps bite) — then clicks it again ``Geometric(REPEAT_Q)`` more times. Because
every probability is explicit, the expected clicks per person follow in closed form, and a
requested click count becomes a number of persons (`scale_for`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from linksim.demo.catalog import REGIONS, Mailing, mailings

__all__ = ["Scale", "expected_clicks_per_person", "scale_for"]

DEFAULT_PERSONS = 8_000
PERSONS_PER_CONTACT = 4  # persons / contacts
LOOSE_SHARE = 0.12  # persons without a contact (private addresses)
HAS_EMAIL = 0.99
DELIVERED = 0.985  # the rest bounced: delivered_at NULL
UNSUB_SHARE = 0.05  # persons who unsubscribe during the year, at a uniformly drawn mailing
PROPENSITY_SIGMA = 1.0
MAX_CTR = 0.8
REPEAT_Q = 0.25  # chance of each further click on the same link
REPEAT_CAP = 14
SCANNED_CONTACT_SHARE = 0.03  # companies behind a link-scanning mail gateway
SCAN_PROB = 0.9  # share of their deliveries the gateway scans
OWNERLESS_CONTACTS = 0.10
PERSON_OWNER_SHARE = 0.15
RECENT_SHARE = 0.08  # field values and memberships set during the span (may postdate clicks)

READ_RATE = 0.35  # chance to read a delivered mail at propensity 1, scaled by sqrt(a)
MAX_READ = 0.95
IMAGES_SHOWN = 0.85  # readers whose client loads the tracking image: an open
REOPEN_Q = 0.2

SESSION_MEDIAN_S = 5_400.0  # delivery → reading the mail: median 1.5 h
SESSION_SIGMA = 1.6
SESSION_FLOOR_S = 20.0  # nobody reads and clicks within 20 s of delivery
OFFSET_MEDIAN_S = 40.0  # reading → clicking one of its links
OFFSET_SIGMA = 1.5
REPEAT_MEDIAN_S = 900.0  # first click → a repeat click on the same link
REPEAT_SIGMA = 2.2
MAX_DELAY_S = 5_000_000.0  # ~58 days: caps the lognormal tail before timestamp arithmetic


def normalised(table: tuple[tuple[str, float, float], ...]) -> dict[str, float]:
    """Multipliers rescaled so that their share-weighted mean is 1.

    >>> from linksim.demo.catalog import ROLES
    >>> round(sum(s * normalised(ROLES)[r] for r, s, _ in ROLES), 9)
    1.0
    """
    mean = sum(share * mult for _, share, mult in table)
    return {name: mult / mean for name, _, mult in table}


def _reach(m: Mailing, ordinal: int, sent: int) -> float:
    region = 1.0 if m.region is None else REGIONS[m.region].share
    still_subscribed = 1 - UNSUB_SHARE * ordinal / sent
    return HAS_EMAIL * still_subscribed * region * m.audience * DELIVERED


def expected_clicks_per_person(plan: tuple[Mailing, ...]) -> float:
    """Expected good clicks per person over the plan's sent mailings (humans and scanners).

    >>> 3 < expected_clicks_per_person(mailings()) < 8
    True
    """
    sent = [m for m in plan if m.sent_at is not None]
    repeat_mean = 1 + REPEAT_Q / (1 - REPEAT_Q)
    scanned = (1 - LOOSE_SHARE) * SCANNED_CONTACT_SHARE * SCAN_PROB
    total = 0.0
    for ordinal, m in enumerate(sent):
        reach = _reach(m, ordinal, len(sent))
        human = sum(ctr for _, ctr in m.links) * repeat_mean
        total += reach * (human + scanned * len(m.links))
    # persons who unsubscribe click the link in the mailing they unsubscribe from, if they get it
    mean_reach = sum(_reach(m, i, len(sent)) for i, m in enumerate(sent)) / len(sent)
    return total + UNSUB_SHARE * mean_reach * repeat_mean


@dataclass(frozen=True)
class Scale:
    """How big the demo company is."""

    persons: int
    contacts: int
    extra_slots: int  # mailings per month beyond the base two

    @property
    def plan(self) -> tuple[Mailing, ...]:
        return mailings(self.extra_slots)


def scale_for(clicks: int | None) -> Scale:
    """The company size that yields about ``clicks`` good clicks (``None``: the default company).

    Larger companies also send a little more: one more mailing a month per tenfold growth above
    300k clicks (at most three more).

    >>> scale_for(None)
    Scale(persons=8000, contacts=2000, extra_slots=0)
    >>> scale_for(1_000_000).extra_slots, scale_for(10_000_000).extra_slots
    (1, 2)
    """
    if clicks is None:
        return Scale(DEFAULT_PERSONS, DEFAULT_PERSONS // PERSONS_PER_CONTACT, 0)
    extra = 0 if clicks < 300_000 else min(3, int(math.log10(clicks / 300_000)) + 1)
    persons = max(10, round(clicks / expected_clicks_per_person(mailings(extra))))
    return Scale(persons, max(1, persons // PERSONS_PER_CONTACT), extra)
