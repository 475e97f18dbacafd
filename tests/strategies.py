"""Hypothesis strategies for small random worlds and definitions, and how to load a world.

A *world* is a plain dict ``{table: [row dict, …]}`` (so a shrunk example prints as code), loaded
into a fresh database by `insert_world`. Ids are small so that ties, shared links, repeat clicks
and equal timestamps are frequent. `worlds_and_definitions` draws a world and a definitions
mapping (for `linksim.parse_definitions`) that only names what the world holds.

The scripts a definitions file may name are in `SCRIPTS`; pass them as ``scripts=SCRIPTS``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pandas as pd
from hypothesis import strategies as st

from linksim.store.connect import connect

__all__ = [
    "EXTRA_FIELDS",
    "SCRIPTS",
    "World",
    "insert_world",
    "new_database",
    "worlds_and_definitions",
]

World = dict[str, list[dict[str, Any]]]

TIME_ZONES = ("UTC", "Europe/Oslo", "America/New_York", "Asia/Tokyo")
# Fridays near the ends of daylight saving time, and a Wednesday: weekends and zone shifts.
BASE_TIMES = (
    dt.datetime(2026, 3, 27, 22, 0),
    dt.datetime(2026, 10, 30, 23, 30),
    dt.datetime(2026, 3, 4, 7, 30),
)
EXTRA_FIELDS: dict[str, tuple[str, list[str] | None, tuple[Any, ...]]] = {
    # name: (type, options, values a set_field may write)
    "note": ("text", None, ("hot", "a & b", "<i>it's</i>", None)),
    "score": ("integer", None, (1, 42, "7", None)),
    "amount": ("decimal", None, (2.5, "12.50", 3)),
    "birthday": ("date", None, ("2026-01-02", "1990-12-31")),
    "vip": ("boolean", None, (True, False)),
    "tier": ("list", ["gold", "silver"], ("gold", "silver")),
}
STORED_VALUES = {
    "note": ("cold", "x"),
    "score": ("1", "5"),
    "amount": ("2.5",),
    "birthday": ("2000-01-01",),
    "vip": ("true", "false"),
    "tier": ("gold",),
}
NAMES = {
    "interest": ("News", "Events"),
    "selection": ("Hot", "Cold"),
    "project": ("Launch", "Webinar"),
}
TEMPLATES = (
    "Clicked {link_name} in {mailing_name}",
    "{person_name} <{first_name}> & {contact_name}",
    "Hits: {link_hits} at {clicked_at} on {link_url}",
    "plain {{braces}}",
    'It\'s "{first_name}"',
)
URLS = ("https://ex.com/a", "https://ex.com/b?x=1&y=2", "https://ex.com/c")
FIRST_NAMES = ("Ann", "Bo & <Co>", 'Eve "E"', None)
LAST_NAMES = ("Lee", "O'Neil", None)
CONTACT_NAMES = ("Acme", "O'Neil & Sons", "<b>Bold</b>")
MAILING_NAMES = ("March news", "Offers & <deals>", "Launch")
PERSON_COLUMNS = ("person_id", "contact_id", "first_name", "last_name", "email", "owner_id")


# --- scripts --------------------------------------------------------------------------------------


def tag_script(frame: pd.DataFrame) -> pd.DataFrame:
    """Writes `score` and `note` from every column it is given, so they are all checked."""
    out = []
    for r in frame.itertuples(index=False):
        click_id = int(r.click_id)
        out.append((click_id, "score", str(int(r.link_hits) * 100 + int(r.shipment_id))))
        url = r.return_url if isinstance(r.return_url, str) else r.link_url
        when = pd.Timestamp(r.clicked_at).strftime("%Y-%m-%d %H:%M:%S.%f")
        out.append((click_id, "note", f"{url} p{int(r.cust_id)} l{int(r.link_id)} {when}"))
    return pd.DataFrame(out, columns=["click_id", "field", "value"])


def bad_script(frame: pd.DataFrame) -> pd.DataFrame:
    """Returns a value that does not fit its field: the whole call changes nothing."""
    good = [(int(c), "tier", "gold") for c in frame["click_id"]]
    return pd.DataFrame(
        [*good, (int(frame["click_id"].iloc[0]), "score", "many")] if good else [],
        columns=["click_id", "field", "value"],
    )


def boom_script(frame: pd.DataFrame) -> pd.DataFrame:
    """Always fails."""
    raise RuntimeError("boom")


SCRIPTS = {"tag": tag_script, "bad": bad_script, "boom": boom_script}


# --- loading a world ------------------------------------------------------------------------------


def insert_world(con: duckdb.DuckDBPyConnection, world: World) -> None:
    """Insert the rows of ``world`` with parameterised INSERTs, table by table."""
    for table, table_rows in world.items():
        for row in table_rows:
            columns = ", ".join(row)
            marks = ", ".join("?" for _ in row)
            con.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row.values()))


def new_database(world: World) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory linksim database holding ``world``."""
    con = connect(":memory:")
    insert_world(con, world)
    return con


def fixed_tables() -> World:
    """The tables every world has: extra fields, interests, selections, projects."""
    world: World = {
        "crm.extra_field": [
            {"name": name, "type": kind, "options": options}
            for name, (kind, options, _) in EXTRA_FIELDS.items()
        ]
    }
    for kind, names in NAMES.items():
        world[f"crm.{kind}"] = [
            {f"{kind}_id": i, "name": name} for i, name in enumerate(names, start=1)
        ]
    return world


# --- worlds ---------------------------------------------------------------------------------------


# A browser, scanners caught by the default list and by the file's own, and nothing.
USER_AGENTS = (
    None,
    None,
    "Mozilla/5.0 (X11) Firefox/131.0",
    "Mozilla/5.0 (Mimecast-URL-Protect)",
    "curl/8.5.0",
    "AcmeLinkCheck/2.0",
)
# A person's address; Microsoft's gateway (default list, IPv4 and IPv6); a range the file adds
# (also IPv4-mapped); not an address.
ADDRESSES = (
    None,
    None,
    "198.51.100.7",
    "40.107.3.4",
    "2a01:111:f400::9",
    "203.0.113.9",
    "::ffff:203.0.113.10",
    "not-an-ip",
)


def moments(draw: st.DrawFn, base: dt.datetime) -> dt.datetime:
    """A time near ``base``: few distinct values, so equal timestamps are frequent."""
    day = draw(st.integers(0, 3))
    second = draw(st.sampled_from((0, 0, 1, 2, 9, 5 * 3600, 13 * 3600)))
    micro = draw(st.sampled_from((0, 0, 0, 400_000)))
    return base + dt.timedelta(days=day, seconds=second, microseconds=micro)


@st.composite
def worlds(draw: st.DrawFn) -> World:
    """A small world: associates, contacts, persons, stored state, mailings, links and clicks."""
    base = draw(st.sampled_from(BASE_TIMES))
    world = fixed_tables()

    n_associates = draw(st.integers(1, 4))
    world["crm.associate"] = [
        {
            "associate_id": i,
            "name": f"A{i}",
            "team": draw(st.sampled_from(("Sales", "Sales", "Support", None))),
            "daily_capacity": draw(st.sampled_from((None, 0, 1, 1, 2))),
            "timezone": draw(st.sampled_from(TIME_ZONES)),
        }
        for i in range(1, n_associates + 1)
    ]
    associates = list(range(1, n_associates + 1))
    maybe_associate = st.sampled_from((*associates, None))

    n_contacts = draw(st.integers(0, 3))
    world["crm.contact"] = [
        {
            "contact_id": i,
            "name": draw(st.sampled_from(CONTACT_NAMES)),
            "owner_id": draw(maybe_associate),
        }
        for i in range(1, n_contacts + 1)
    ]
    maybe_contact = st.sampled_from((*range(1, n_contacts + 1), None))

    n_persons = draw(st.integers(1, 4))
    persons = list(range(1, n_persons + 1))
    world["crm.person"] = [
        {
            "person_id": i,
            "contact_id": draw(maybe_contact),
            "first_name": draw(st.sampled_from(FIRST_NAMES)),
            "last_name": draw(st.sampled_from(LAST_NAMES)),
            "email": draw(st.sampled_from((f"p{i}@ex.com", None))),
            "owner_id": draw(maybe_associate),
        }
        for i in persons
    ]

    n_mailings = draw(st.integers(1, 3))
    mailings = list(range(1, n_mailings + 1))
    world["mail.mailing"] = [
        {"mailing_id": m, "name": MAILING_NAMES[m - 1], "sent_at": base - dt.timedelta(hours=1)}
        for m in mailings
    ]
    n_links = draw(st.integers(1, 3))
    links = list(range(1, n_links + 1))
    world["mail.link"] = [
        {
            "link_id": i,
            "url": draw(st.sampled_from(URLS[: i + 1])),  # links may share a URL
            "name": draw(st.sampled_from((f"Link {i}", "Buy & <save>", None))),
        }
        for i in links
    ]
    # Link 1 is in every mailing: one link shared by several mailings.
    uses = {m: {1} | set(draw(st.lists(st.sampled_from(links), max_size=2))) for m in mailings}
    world["mail.mailing_link"] = [
        {"mailing_id": m, "link_id": i} for m in mailings for i in sorted(uses[m])
    ]
    world["mail.recipient"] = [
        {
            "mailing_id": m,
            "person_id": p,
            "delivered_at": draw(
                st.sampled_from(  # some clicks come too soon after delivery
                    (None, base - dt.timedelta(hours=1), base, base, base + dt.timedelta(seconds=3))
                )
            ),
        }
        for m in mailings
        for p in persons
        if draw(st.booleans())
    ]

    click_ids = draw(st.lists(st.integers(1, 20), unique=True, max_size=10))
    clicks = []
    for click_id in click_ids:
        if clicks and draw(st.integers(0, 3)) == 0:  # a repeat click of the same person and link
            previous = draw(st.sampled_from(clicks))
            mailing, link, person = (
                previous["mailing_id"],
                previous["link_id"],
                previous["person_id"],
            )
        else:
            mailing = draw(st.sampled_from(mailings))
            link = draw(st.sampled_from(sorted(uses[mailing])))
            # Person 99 does not exist (deleted since): the run counts the click as quarantined.
            person = draw(st.sampled_from((*persons, *persons, *persons, 99)))
        clicks.append(
            {
                "click_id": click_id,
                "mailing_id": mailing,
                "link_id": link,
                "person_id": person,
                "clicked_at": moments(draw, base),
                "user_agent": draw(st.sampled_from(USER_AGENTS)),
                "ip": draw(st.sampled_from(ADDRESSES)),
            }
        )
    world["mail.click"] = clicks

    # Stored state: some rows older than the clicks, some newer (manual edits win), some written
    # by a click (a source_click_id), some at the same time as a click.
    def clock() -> tuple[dt.datetime, int | None]:
        how = draw(st.sampled_from(("old", "near", "as a click")))
        if how == "old":
            when = base - dt.timedelta(days=30)
        elif how == "near" or not clicks:
            when = moments(draw, base)
        else:
            when = draw(st.sampled_from([c["clicked_at"] for c in clicks]))
        source = draw(st.sampled_from((None, *click_ids[:3], 7)))
        return when, source

    world["crm.person_field"] = []
    for p in persons:
        for name in draw(st.lists(st.sampled_from(sorted(STORED_VALUES)), unique=True, max_size=2)):
            when, source = clock()
            world["crm.person_field"].append(
                {
                    "person_id": p,
                    "field": name,
                    "value": draw(st.sampled_from((*STORED_VALUES[name], None))),
                    "set_at": when,
                    "source_click_id": source,
                }
            )
    memberships: dict[str, tuple[str, str, list[int]]] = {
        "crm.person_interest": ("person_id", "interest_id", persons),
        "crm.contact_interest": ("contact_id", "interest_id", list(range(1, n_contacts + 1))),
        "crm.selection_member": ("person_id", "selection_id", persons),
        "crm.project_member": ("person_id", "project_id", persons),
    }
    world["linksim.removal"] = []
    for table, (owner_column, thing_column, owners) in memberships.items():
        world[table] = []
        kind = thing_column.removesuffix("_id")
        for owner in owners:
            for thing in (1, 2):
                state = draw(st.sampled_from(("none", "none", "member", "removed")))
                if state == "none":
                    continue
                when, source = clock()
                if state == "member":
                    world[table].append(
                        {
                            owner_column: owner,
                            thing_column: thing,
                            "since": when,
                            "source_click_id": source,
                        }
                    )
                else:
                    world["linksim.removal"].append(
                        {
                            "target_kind": kind,
                            "scope": "contact" if owner_column == "contact_id" else "person",
                            "owner_id": owner,
                            "target_id": thing,
                            "removed_at": when,
                            "source_click_id": source,
                        }
                    )

    # Manual appointments and tickets: they count against capacity and team load.
    world["crm.appointment"] = [
        {
            "appointment_id": f"manual-{n}",
            "kind": "meeting",
            "person_id": draw(st.sampled_from(persons)),
            "owner_id": draw(st.sampled_from(associates)),
            "starts_at": base.replace(hour=0, minute=0)
            + dt.timedelta(
                days=draw(st.integers(0, 6)), hours=draw(st.sampled_from((8, 9, 15, 23)))
            ),
            "duration_minutes": 30,
        }
        for n in range(draw(st.integers(0, 4)))
    ]
    world["crm.ticket"] = [
        {
            "ticket_id": f"manual-{n}",
            "title": "Manual",
            "priority": "low",
            "owner_id": draw(st.sampled_from(associates)),
            "status": "open",
            "created_at": moments(draw, base),
        }
        for n in range(draw(st.integers(0, 2)))
    ]
    return world


# --- definitions ----------------------------------------------------------------------------------


@st.composite
def definitions_for(draw: st.DrawFn, world: World) -> dict[str, Any]:
    """A definitions mapping using every action type, owner form and firing policy, naming only
    what ``world`` holds."""
    associates = [a["associate_id"] for a in world["crm.associate"]]
    teams = sorted({a["team"] for a in world["crm.associate"] if a["team"] is not None})
    used = sorted({(r["link_id"], r["mailing_id"]) for r in world["mail.mailing_link"]})
    used_links = sorted({link for link, _ in used})
    url_of = {link["link_id"]: link["url"] for link in world["mail.link"]}
    counter = iter(range(1000))

    def fire(action: dict[str, Any]) -> dict[str, Any]:
        policy = draw(st.sampled_from((None, "once_per_mailing", "once", "every_click")))
        return action if policy is None else {**action, "fire": policy}

    def membership(kind: str) -> dict[str, Any]:
        names = NAMES[kind]
        add = draw(st.lists(st.sampled_from(names), unique=True, max_size=2))
        remove = draw(
            st.lists(
                st.sampled_from([n for n in names if n not in add] or ["-"]),
                unique=True,
                max_size=1,
            )
        )
        remove = [n for n in remove if n != "-"]
        if not add and not remove:
            add = [names[0]]
        action = {"type": kind, "add": add, "remove": remove}
        if kind == "interest" and draw(st.booleans()):
            action["scope"] = "contact"
        return action

    def owner(*keywords: str) -> dict[str, Any]:
        forms = ["id", *keywords] + (["team"] if teams else [])
        form = draw(st.sampled_from(forms))
        if form == "id":
            return {"owner": draw(st.sampled_from(associates))}
        if form == "team":
            return {"owner": {"team": draw(st.sampled_from(teams))}}
        if form == "contact_owner":
            fallback = draw(st.sampled_from(associates))
            if "unassigned" in keywords and draw(st.booleans()):
                return {"owner": "contact_owner"}  # a request may have no fallback
            return {"owner": "contact_owner", "fallback": fallback}
        return {"owner": form}

    def action() -> dict[str, Any]:
        kind = draw(
            st.sampled_from(
                (
                    "interest",
                    "set_field",
                    "selection",
                    "project",
                    "follow_up",
                    "request",
                    "response",
                    "script",
                )
            )
        )
        if kind in NAMES:
            body = membership(kind)
        elif kind == "set_field":
            name = draw(st.sampled_from(sorted(EXTRA_FIELDS)))
            body = {
                "type": kind,
                "field": name,
                "value": draw(st.sampled_from(EXTRA_FIELDS[name][2])),
            }
        elif kind == "follow_up":
            body = {
                "type": kind,
                "kind": draw(st.sampled_from(("task", "meeting"))),
                "task_type": draw(st.sampled_from(("Phone call", None))),
                "description": draw(st.sampled_from((*TEMPLATES, None))),
                "project": draw(st.sampled_from(("Launch", None))),
                "created_by": draw(st.sampled_from((*associates, None))),
                **owner("contact_owner"),
                "due": {
                    "business_days": draw(st.integers(0, 3)),
                    "at": draw(st.sampled_from(("00:00", "08:30", "09:00", "13:15", "23:45"))),
                    "next_free_slot": draw(st.booleans()),
                },
                "duration_minutes": draw(st.sampled_from((15, 30))),
                "assignment": draw(st.booleans()),
            }
        elif kind == "request":
            body = {
                "type": kind,
                "title": draw(st.sampled_from(TEMPLATES)),
                "priority": draw(st.sampled_from(("low", "medium", "high", "critical"))),
                "category": draw(st.sampled_from(("Sales", None))),
                **owner("unassigned", "contact_owner"),
            }
        elif kind == "response":
            shape = draw(st.sampled_from(("redirect", "feedback_text", "form")))
            if shape == "redirect":
                body = {
                    "type": kind,
                    "redirect": draw(
                        st.sampled_from(("https://ex.com/thanks?a=1&b=2", "http://ex.com/x"))
                    ),
                }
            elif shape == "feedback_text":
                body = {"type": kind, "feedback_text": draw(st.sampled_from(TEMPLATES))}
            else:
                names = draw(
                    st.lists(
                        st.sampled_from((*PERSON_COLUMNS, *EXTRA_FIELDS)), unique=True, max_size=4
                    )
                )
                body = {"type": kind, "form": {"form_id": "signup", "prefill": names}}
        else:
            body = {"type": kind, "script": draw(st.sampled_from(("tag", "tag", "bad", "boom")))}
        require = draw(st.sampled_from((None, None, "eligible", "confirmed")))
        extra = {} if require is None else {"require": require}
        return {"id": f"a{next(counter)}", **fire(body), **extra}

    entries = []
    for _ in range(draw(st.integers(1, 3))):
        link = draw(st.sampled_from(used_links))
        entry: dict[str, Any] = (
            {"url": url_of[link]} if draw(st.integers(0, 3)) == 0 else {"link": link}
        )
        if draw(st.booleans()):
            # Only mailings that use the link (a definitions check refuses others); by URL,
            # any link with that URL.
            options = sorted(
                {
                    m
                    for li, m in used
                    if li == link or ("url" in entry and url_of[li] == entry["url"])
                }
            )
            # a mailing may be listed twice: the same as once
            entry["mailings"] = draw(st.lists(st.sampled_from(options), min_size=1, max_size=4))
        entry["actions"] = [action() for _ in range(draw(st.integers(1, 4)))]
        entries.append(entry)

    bot_filter: dict[str, Any] = {"enabled": draw(st.booleans())}
    if draw(st.booleans()):
        bot_filter["min_seconds_after_delivery"] = draw(st.sampled_from((0, 10)))
        bot_filter["max_links_per_second"] = draw(st.sampled_from((1, 2, 3)))
    if draw(st.booleans()):
        bot_filter["user_agents"] = ["acmelinkcheck"]
        bot_filter["ip_ranges"] = ["203.0.113.0/24"]
    if draw(st.integers(0, 3)) == 0:
        bot_filter["default_lists"] = False
    if draw(st.booleans()):
        bot_filter["confirm_after_seconds"] = draw(st.sampled_from((1, 3600)))
    return {"version": 1, "bot_filter": bot_filter, "links": entries}


@st.composite
def tied_definitions_for(draw: st.DrawFn, world: World) -> dict[str, Any]:
    """Definitions whose actions one click fires together write the same targets differently
    (docs/SEMANTICS.md §3, tied targets): entries on one link, some actions waiting for a
    confirmation, so that a click's actions fire in different batches."""
    link = 1  # in every mailing
    choices = (
        {"type": "project", "add": ["Launch"]},
        {"type": "project", "remove": ["Launch"]},
        {"type": "interest", "scope": "contact", "add": ["News"]},
        {"type": "interest", "scope": "contact", "remove": ["News"]},
        {"type": "set_field", "field": "tier", "value": "gold"},
        {"type": "set_field", "field": "tier", "value": "silver"},
        {"type": "script", "script": "tag"},
        {"type": "set_field", "field": "note", "value": "hot"},
    )
    # two that conflict (choices 2k and 2k+1), in either order, and up to three more
    k = draw(st.integers(0, 3))
    bodies = draw(st.permutations([choices[2 * k], choices[2 * k + 1]]))
    bodies += draw(st.lists(st.sampled_from(choices), max_size=3))
    split = draw(st.integers(1, len(bodies)))  # one entry, or two on the same link
    counter = iter(range(100))
    entries = []
    for part in (bodies[:split], bodies[split:]):
        actions = []
        for body in part:
            fire = draw(st.sampled_from(("once", "once_per_mailing", "every_click")))
            require = draw(st.sampled_from(("eligible", "confirmed", "confirmed")))
            actions.append({"id": f"t{next(counter)}", **body, "fire": fire, "require": require})
        if actions:
            entries.append({"link": link, "actions": actions})
    return {
        "version": 1,
        "bot_filter": {"enabled": False, "confirm_after_seconds": draw(st.sampled_from((1, 60)))},
        "links": entries,
    }


@st.composite
def worlds_and_tied_definitions(draw: st.DrawFn) -> tuple[World, dict[str, Any]]:
    """A world and definitions that tie targets (see `tied_definitions_for`), with more clicks
    on link 1 (in every mailing): a person clicks it again, which confirms earlier clicks."""
    world = draw(worlds())
    base = world["mail.mailing"][0]["sent_at"] + dt.timedelta(hours=1)
    persons = [p["person_id"] for p in world["crm.person"]]
    mailings = [m["mailing_id"] for m in world["mail.mailing"]]
    for click_id in range(21, 21 + draw(st.integers(2, 8))):
        world["mail.click"].append(
            {
                "click_id": click_id,
                "mailing_id": draw(st.sampled_from(mailings[:2])),
                "link_id": 1,
                "person_id": draw(st.sampled_from(persons[:2])),
                "clicked_at": moments(draw, base),
                "user_agent": None,
                "ip": None,
            }
        )
    return world, draw(tied_definitions_for(world))


@st.composite
def worlds_and_definitions(draw: st.DrawFn) -> tuple[World, dict[str, Any]]:
    """A world and a definitions mapping that fits it."""
    world = draw(worlds())
    return world, draw(definitions_for(world))
