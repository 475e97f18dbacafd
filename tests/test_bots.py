"""Bot clicks: each rule with its reason and evidence, the default lists, `require: confirmed`."""

from __future__ import annotations

import datetime as dt
import ipaddress
import random
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

import linksim
from linksim.bots import SCANNER_IP_RANGES, SCANNER_USER_AGENTS, ip_bounds
from linksim.demo.agents import BROWSER_USER_AGENTS, MAIL_CLIENT_USER_AGENTS
from linksim.engine.clicks import IP_MACROS

T0 = dt.datetime(2026, 3, 2, 9, 0)  # a Monday; every mail is delivered then
BROWSER = BROWSER_USER_AGENTS[0]
HOME = "198.51.100.7"


def _load(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    report = linksim.load(con, table, pd.DataFrame(rows))
    assert report.quarantined == 0, report


@pytest.fixture
def world(db_path: Path) -> Path:
    """One rep, persons 1-6, one mailing with three links, delivered at T0; no clicks yet."""
    con = linksim.connect(db_path)
    _load(con, "crm.associate", [{"associate_id": 1, "name": "Ann", "timezone": "UTC"}])
    _load(
        con,
        "crm.person",
        [{"person_id": p, "first_name": f"P{p}", "owner_id": 1} for p in range(1, 7)],
    )
    _load(con, "crm.selection", [{"selection_id": 1, "name": "Hot leads"}])
    _load(con, "mail.mailing", [{"mailing_id": 7, "name": "March news", "sent_at": T0}])
    _load(
        con,
        "mail.link",
        [{"link_id": i, "url": f"https://ex.com/{i}", "name": f"L{i}"} for i in (1, 2, 3)],
    )
    _load(con, "mail.mailing_link", [{"mailing_id": 7, "link_id": i} for i in (1, 2, 3)])
    _load(
        con,
        "mail.recipient",
        [{"mailing_id": 7, "person_id": p, "delivered_at": T0} for p in range(1, 7)],
    )
    con.close()
    return db_path


def _clicks(path: Path, rows: list[tuple[int, int, int, float, str | None, str | None]]) -> None:
    """(click_id, person, link, seconds after T0, user agent, ip) rows into mail.click."""
    con = linksim.connect(path)
    _load(
        con,
        "mail.click",
        [
            {
                "click_id": c,
                "mailing_id": 7,
                "link_id": link,
                "person_id": p,
                "clicked_at": T0 + dt.timedelta(seconds=s),
                "user_agent": ua,
                "ip": ip,
            }
            for c, p, link, s, ua, ip in rows
        ],
    )
    con.close()


def _defs(**bot_filter: Any) -> linksim.Definitions:
    return linksim.parse_definitions(
        {
            "version": 1,
            "bot_filter": bot_filter,
            "links": [
                {
                    "link": 1,
                    "actions": [
                        {"id": "call", "type": "follow_up", "owner": 1, "due": {}},
                        {"id": "ticket", "type": "request", "title": "Q", "owner": 1},
                    ],
                },
                {"link": 2, "actions": [{"id": "hot", "type": "selection", "add": ["Hot leads"]}]},
            ],
        }
    )


def test_each_rule_gives_its_reason_and_evidence(world: Path) -> None:
    _clicks(
        world,
        [
            (1, 1, 1, 3600, "Mozilla/5.0 (compatible; Mimecast-URL-Protect/2.1)", HOME),
            (2, 2, 1, 3600, BROWSER, "40.107.3.4"),  # Microsoft's gateway range (default list)
            (3, 3, 1, 3600, BROWSER, "2a01:111:f400::9"),  # the same vendor over IPv6
            (4, 4, 1, 2.5, BROWSER, HOME),  # 2.5 s after delivery
            (5, 5, 1, 7200.0, BROWSER, HOME),  # three links within one second
            (6, 5, 2, 7200.3, BROWSER, HOME),
            (7, 5, 3, 7200.6, BROWSER, HOME),
            (8, 6, 1, 3600, "AcmeLinkCheck/2.0", "::ffff:203.0.113.10"),  # the file's own lists
            (9, 6, 2, 3700, BROWSER, "203.0.113.200"),
            (10, 6, 3, 3800, BROWSER, HOME),  # a person
        ],
    )
    con = linksim.connect(world)
    defs = _defs(max_links_per_second=2, user_agents=["ACMELINK"], ip_ranges=["203.0.113.0/24"])
    result = linksim.apply(con, defs)
    stored = con.execute(
        "SELECT click_id, reason, detail FROM linksim.bot_click ORDER BY click_id"
    ).fetchall()
    assert stored == [
        (1, "user_agent", 'user agent contains "mimecast"'),
        (2, "ip_range", "address in 40.107.0.0/16 (Microsoft Exchange Online Protection)"),
        (3, "ip_range", "address in 2a01:111:f400::/48 (Microsoft Exchange Online Protection)"),
        (4, "too_soon", "2.5 s after delivery"),
        (5, "burst", "3 links within a second"),
        (6, "burst", "3 links within a second"),
        (7, "burst", "3 links within a second"),
        (8, "user_agent", 'user agent contains "acmelink"'),
        (9, "ip_range", "address in 203.0.113.0/24 (your definitions)"),
    ]
    assert result.counts["bot"] == 9 and result.counts["eligible"] == 1
    assert list(result.bots["click_id"]) == [4, 1, 2, 3, 8, 9, 5, 6, 7]  # by time
    rules = result.bots_by_rule().set_index("reason")
    assert list(rules.index) == ["user_agent", "ip_range", "too_soon", "burst"]
    assert rules.loc["burst", "clicks"] == 3 and rules.loc["burst", "people"] == 1
    # clicks 1-4 and 5 were on link 1 (a follow-up and a request), 6 on link 2 (a selection)
    assert rules.loc["burst", "actions_not_triggered"] == "follow_up 1, request 1, selection 1"
    # the one human click is on link 3, which has no actions: nothing was created
    assert con.execute("SELECT count(*) FROM crm.appointment").fetchall() == [(0,)]
    assert con.execute("SELECT count(*) FROM crm.ticket").fetchall() == [(0,)]
    con.close()


def test_an_apply_in_batches_counts_each_rule_as_one_pass_does(world: Path) -> None:
    # the apply counts its bot rules batch by batch: a person caught on three days is one
    # person, and link 1's one bot click on each of two days is two clicks
    scanner = "Mozilla/5.0 (compatible; Mimecast-URL-Protect/2.1)"
    day = 86_400
    _clicks(
        world,
        [
            (1, 1, 1, 3600, scanner, HOME),
            (2, 1, 1, 3600 + day, scanner, HOME),
            (3, 1, 2, 3600 + 2 * day, scanner, HOME),
            (4, 2, 2, 3600 + 2 * day, scanner, HOME),
            (5, 3, 2, 2.5, BROWSER, HOME),
            (6, 4, 3, 3600 + day, BROWSER, "40.107.3.4"),
            (7, 5, 1, 3600 + 2 * day, BROWSER, HOME),
        ],
    )
    con = linksim.connect(world)
    defs = _defs()
    previewed = linksim.preview(con, defs).bots_by_rule()
    applied = linksim.apply(con, defs, batch="1d")
    assert applied.batches["committed"] == 3
    rules = applied.bots_by_rule()
    pd.testing.assert_frame_equal(rules, previewed)
    by_rule = rules.set_index("reason")
    assert by_rule.loc["user_agent", "clicks"] == 4 and by_rule.loc["user_agent", "people"] == 2
    assert by_rule.loc["user_agent", "actions_not_triggered"] == (
        "follow_up 2, request 2, selection 2"
    )
    assert list(by_rule.index) == ["user_agent", "ip_range", "too_soon"]
    con.close()


def test_a_range_over_several_first_numbers_catches_each_and_spares_the_rest(
    world: Path,
) -> None:
    # the engine parses an IPv4 address only when its first number starts a range: a /7 covers
    # two first numbers, and padded or mapped spellings of an address are the same address
    _clicks(
        world,
        [
            (1, 1, 1, 3600, BROWSER, "10.9.8.7"),
            (2, 2, 1, 3600, BROWSER, " 11.255.0.1 "),
            (3, 3, 1, 3600, BROWSER, "::ffff:11.0.0.1"),
            (4, 4, 1, 3600, BROWSER, "12.0.0.1"),  # just past the range
            (5, 5, 1, 3600, BROWSER, "9.255.255.255"),  # just before it
        ],
    )
    con = linksim.connect(world)
    linksim.apply(con, _defs(ip_ranges=["10.0.0.0/7"], default_lists=False))
    stored = con.execute("SELECT click_id, detail FROM linksim.bot_click ORDER BY 1").fetchall()
    assert stored == [(c, "address in 10.0.0.0/7 (your definitions)") for c in (1, 2, 3)]
    con.close()


def test_a_scanner_burst_creates_no_follow_up_or_request_but_the_person_does(
    world: Path,
) -> None:
    """A gateway opens every link within a second of delivery; the person clicks an hour later."""
    scanner = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0 Safari/537.36"
    _clicks(
        world,
        [
            (1, 1, 1, 0.4, scanner, "52.101.1.1"),
            (2, 1, 2, 0.6, scanner, "52.101.1.1"),
            (3, 1, 3, 0.9, scanner, "52.101.1.1"),
            (4, 2, 1, 1.1, scanner, "9.9.9.9"),  # too soon, from an unlisted address
            (5, 2, 2, 1.3, scanner, "9.9.9.9"),
            (6, 1, 1, 3600, BROWSER, HOME),
        ],
    )
    con = linksim.connect(world)
    linksim.apply(con, _defs())
    assert con.execute("SELECT person_id, source_click_id FROM crm.appointment").fetchall() == [
        (1, 6)
    ]
    assert con.execute("SELECT person_id, source_click_id FROM crm.ticket").fetchall() == [(1, 6)]
    assert con.execute("SELECT count(*) FROM crm.selection_member").fetchall() == [(0,)]
    con.close()


def test_switching_the_filter_off_rewrites_the_verdicts(world: Path) -> None:
    _clicks(world, [(1, 1, 2, 1.0, BROWSER, HOME), (2, 2, 2, 3600, "curl/8.5.0", HOME)])
    con = linksim.connect(world)
    linksim.apply(con, _defs())
    assert con.execute("SELECT click_id FROM linksim.bot_click ORDER BY 1").fetchall() == [
        (1,),
        (2,),
    ]
    linksim.apply(
        con, _defs(min_seconds_after_delivery=0, user_agents=["CURL/"], default_lists=False)
    )
    assert con.execute("SELECT click_id, reason FROM linksim.bot_click").fetchall() == [
        (2, "user_agent")
    ]
    linksim.apply(con, _defs(enabled=False))
    assert con.execute("SELECT count(*) FROM linksim.bot_click").fetchall() == [(0,)]
    con.close()


def _confirmed_defs(confirm_after_seconds: int = 60) -> linksim.Definitions:
    return linksim.parse_definitions(
        {
            "version": 1,
            "bot_filter": {"confirm_after_seconds": confirm_after_seconds},
            "links": [
                {
                    "link": 1,
                    "actions": [
                        {
                            "id": "call",
                            "type": "follow_up",
                            "owner": 1,
                            "due": {},
                            "require": "confirmed",
                        },
                        {"id": "hot", "type": "selection", "add": ["Hot leads"]},
                    ],
                }
            ],
        }
    )


def test_a_confirmed_action_waits_for_the_person_to_click_again(world: Path) -> None:
    _clicks(
        world,
        [
            (1, 1, 1, 3600, BROWSER, HOME),  # person 1 clicks once
            (2, 2, 1, 3600, BROWSER, HOME),  # person 2 clicks, and again 30 s later: too soon
            (3, 2, 3, 3630, BROWSER, HOME),
            (4, 3, 1, 3600, BROWSER, HOME),  # person 3 comes back a day later, on another link
            (5, 3, 3, 3600 + 86400, BROWSER, HOME),
        ],
    )
    con = linksim.connect(world)
    linksim.apply(con, _confirmed_defs())
    # the selection needs no confirmation; the follow-up only for person 3, from the first click
    assert con.execute(
        "SELECT person_id FROM crm.selection_member ORDER BY person_id"
    ).fetchall() == [(1,), (2,), (3,)]
    assert con.execute("SELECT person_id, source_click_id FROM crm.appointment").fetchall() == [
        (3, 4)
    ]
    con.close()


def test_a_confirmation_in_a_later_batch_fires_then_and_ends_as_one_pass(
    world: Path, tmp_path: Path
) -> None:
    _clicks(
        world,
        [(1, 3, 1, 3600, BROWSER, HOME), (2, 3, 3, 3600 + 86400, BROWSER, HOME)],
    )
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(world.read_bytes())
    con = linksim.connect(world)
    first = linksim.apply(con, _confirmed_defs(), until=T0 + dt.timedelta(hours=2))
    assert first.size("appointments") == 0  # not confirmed yet
    later = linksim.apply(con, _confirmed_defs(), since=T0 + dt.timedelta(hours=2))
    assert list(later.appointments["source_click_id"]) == [1]
    batched = con.execute("SELECT * EXCLUDE (due_at) FROM crm.appointment").fetchall()
    con.close()
    con = linksim.connect(copy)
    linksim.apply(con, _confirmed_defs(), batch="1h")
    assert con.execute("SELECT * EXCLUDE (due_at) FROM crm.appointment").fetchall() == batched
    con.close()


# --- the lists and the address parser ---------------------------------------------------------


def test_the_default_lists_are_well_formed_and_spare_real_browsers() -> None:
    assert all(a == a.lower() and a.strip() == a for a in SCANNER_USER_AGENTS)
    for cidr, vendor in SCANNER_IP_RANGES:
        assert str(ipaddress.ip_network(cidr)) == cidr and vendor
    people = BROWSER_USER_AGENTS + MAIL_CLIENT_USER_AGENTS
    assert not [(a, ua) for a in SCANNER_USER_AGENTS for ua in people if a in ua.lower()]


def _number(text: str) -> int | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return int(address) + (0xFFFF_0000_0000 if address.version == 4 else 0)


def test_the_sql_address_parser_agrees_with_python() -> None:
    rng = random.Random(7)
    texts = [
        "1.2.3.4",
        "255.255.255.255",
        "0.0.0.0",
        "::",
        "::1",
        "1::",
        "fe80::1:2",
        "2001:DB8:0:0:0:0:0:1",
        "::ffff:192.0.2.1",
        "1:2:3:4:5:6:7:8",
        "256.1.1.1",
        "1.2.3",
        "01.2.3.4",
        "1:2:3:4:5:6:7:8:9",
        "1::2::3",
        "x",
        "",
    ]
    for _ in range(200):
        texts.append(str(ipaddress.IPv4Address(rng.getrandbits(32))))
        v6 = ipaddress.IPv6Address(rng.getrandbits(128) >> rng.choice((0, 64, 100)))
        texts += [v6.compressed, v6.exploded]
    con = duckdb.connect()
    for macro in IP_MACROS:
        con.execute(macro)
    got = con.execute(
        "SELECT list_transform(?, lambda t: ls_ip_number(t)::VARCHAR)", [texts]
    ).fetchall()[0][0]
    want = [None if (n := _number(t)) is None else f"{n:032x}" for t in texts]
    assert got == want
    lo, hi = ip_bounds("203.0.113.0/24")
    assert (lo, hi) == (_number("203.0.113.0"), _number("203.0.113.255"))
