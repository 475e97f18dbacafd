"""Tests of linksim/store/load.py (with its readers and per-row rules)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from linksim.errors import InputError, UsageError
from linksim.store import load as load_module
from linksim.store.load import LoadReport, load, load_relation
from linksim.store.query import fetch_value, run
from linksim.store.schema import INPUT_TABLES, TABLES

CLICK_HEADER = "click_id,mailing_id,link_id,person_id,clicked_at,user_agent,ip"
GOOD_CLICK = "1,7,101,1,2026-03-01T10:00:00Z,Mozilla,10.0.0.1"


@pytest.fixture
def crm(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A small CRM: persons 1-3, mailing 7 sent (recipients 1, 2), 8 sent (no recipients), 9
    planned; links 101 (mailings 7, 8, 9) and 102 (mailing 8 only); a few fields and lists."""
    for sql in (
        "INSERT INTO crm.associate VALUES (1, 'Ada', 'Sales', 5, 'Europe/Oslo')",
        "INSERT INTO crm.contact VALUES (1, 'Acme', 'Customer', 'Retail', 'NO', 1)",
        "INSERT INTO crm.person VALUES (1, 1, 'Per', 'Hansen', 'per@acme.no', 1),"
        " (2, 1, 'Kari', 'Nordmann', 'kari@acme.no', NULL), (3, NULL, 'Ola', NULL, NULL, NULL)",
        "INSERT INTO crm.extra_field VALUES ('last_cta', 'text', NULL), ('score', 'integer', NULL),"
        " ('budget', 'decimal', NULL), ('renewal', 'date', NULL), ('vip', 'boolean', NULL),"
        " ('tier', 'list', ['gold', 'silver'])",
        "INSERT INTO crm.interest VALUES (1, 'Product news')",
        "INSERT INTO crm.selection VALUES (1, 'Hot leads')",
        "INSERT INTO crm.project VALUES (1, 'Launch 2026')",
        "INSERT INTO mail.mailing VALUES (7, 'March news', '2026-03-01 08:00:00'),"
        " (8, 'April news', '2026-03-01 08:00:00'), (9, 'Planned', NULL)",
        "INSERT INTO mail.link VALUES (101, 'https://example.com/a', 'A'),"
        " (102, 'https://example.com/b', 'B')",
        "INSERT INTO mail.mailing_link VALUES (7, 101), (8, 101), (8, 102), (9, 101)",
        "INSERT INTO mail.recipient VALUES (7, 1, NULL), (7, 2, NULL)",
    ):
        run(con, sql)
    return con


def snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted, to compare before and after."""
    return {
        t.name: sorted(con.execute(f"SELECT * FROM {t.name}").fetchall(), key=repr) for t in TABLES
    }


def accounted(con: duckdb.DuckDBPyConnection, report: LoadReport) -> LoadReport:
    """Check the accounting of a report, against itself and against its rows in linksim."""
    assert report.seen == report.loaded + report.updated + report.duplicate + report.quarantined
    assert sum(report.reasons.values()) == report.quarantined
    row = con.execute(
        "SELECT table_name, source, rows_seen, rows_loaded, rows_updated, rows_duplicate, "
        "rows_quarantined FROM linksim.load WHERE load_id = ?",
        [report.load_id],
    ).fetchall()
    assert row == [
        (
            report.table,
            report.source,
            report.seen,
            report.loaded,
            report.updated,
            report.duplicate,
            report.quarantined,
        )
    ]
    quarantined = con.execute(
        "SELECT reason, count(*) FROM linksim.quarantine WHERE load_id = ? GROUP BY reason",
        [report.load_id],
    ).fetchall()
    assert dict(quarantined) == report.reasons
    return report


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# --- whole-input errors --------------------------------------------------------------------------

LONG = "x" * 2_100_000

BAD_FILES = [
    # (id, table, file name, content or None for "do not create", expected fragments)
    ("not-found", "mail.click", "nope.csv", None, ["file not found", "nope.csv"]),
    ("extension", "mail.click", "clicks.txt", "a", ["unknown file type '.txt'", ".csv, .parquet"]),
    ("empty", "mail.click", "e.csv", "", ["the file is empty", "header line"]),
    ("header-only", "mail.click", "h.csv", CLICK_HEADER + "\n", ["header but no rows"]),
    (
        "missing-column",
        "mail.click",
        "m.csv",
        "click_id,mailing_id,link_id,clicked_at\n1,7,101,2026-03-01\n",
        ["missing required column person_id", "mail.click needs columns click_id"],
    ),
    (
        "misspelt-column",
        "mail.click",
        "u.csv",
        "click_id,mailing_id,link_id,person_id,clickd_at\n1,7,101,1,2026-03-01\n",
        [
            "unknown column 'clickd_at' (did you mean 'clicked_at'?)",
            "missing required column clicked_at",
        ],
    ),
    (
        "repeated-column",
        "crm.interest",
        "r.csv",
        "interest_id,name,Name\n1,a,b\n",
        ["column 'name' appears twice"],
    ),
    (
        "not-utf8",
        "crm.interest",
        "l.csv",
        "interest_id,name\n1,News\n2,Caf\xe9\n".encode("latin-1"),
        ["line 3: the file is not UTF-8 text", "CSV UTF-8"],
    ),
    (
        "not-utf8-header",
        "crm.interest",
        "lh.csv",
        "interest_id,n\xe4me\n1,News\n".encode("latin-1"),
        ["line 1: the file is not UTF-8 text"],
    ),
    (
        "utf16",
        "crm.interest",
        "w.csv",
        "interest_id,name\n1,News\n".encode("utf-16"),
        ["line 1: the file is not UTF-8 text"],
    ),
    (
        "too-few-fields",
        "mail.click",
        "f.csv",
        f"{CLICK_HEADER}\n{GOOD_CLICK}\n2,7,101,1,2026-03-01T10:00:00Z,Mozilla\n",
        ["line 3: expected 7 fields like the header, found 6"],
    ),
    (
        "too-many-fields",
        "crm.interest",
        "g.csv",
        "interest_id,name\n1,News\n2,Sales, Marketing\n",
        ["line 3: expected 2 fields like the header, found 3", "quote values that contain ','"],
    ),
    (
        "unclosed-quote",
        "crm.interest",
        "q.csv",
        'interest_id,name\n1,"News\n',
        ["line 2: a quoted value is never closed"],
    ),
    (
        "line-too-long",
        "crm.interest",
        "big.csv",
        f"interest_id,name\n1,{LONG}\n",
        ["line 2: the line is longer than 2,000,000 bytes"],
    ),
    (
        "json-empty",
        "crm.interest",
        "e.jsonl",
        "",
        ["the file is empty", "one JSON object per line"],
    ),
    (
        "json-malformed",
        "crm.interest",
        "b.jsonl",
        '{"interest_id": 1, "name": "a"}\n{"interest_id": 2,, "name": "b"}\n',
        ["line 2 is not valid JSON", "one JSON object per line"],
    ),
    (
        "json-array-file",
        "crm.interest",
        "a.json",
        '[\n  {"interest_id": 1, "name": "a"}\n]\n',
        ["line 1 is not valid JSON"],
    ),
    (
        "json-not-object",
        "crm.interest",
        "n.jsonl",
        '{"interest_id": 1, "name": "a"}\n[2, "b"]\n',
        ["record 2 is not a JSON object"],
    ),
    (
        "json-not-utf8",
        "crm.interest",
        "l.jsonl",
        '{"interest_id": 1, "name": "a"}\n{"interest_id": 2, "name": "Caf\xe9"}\n'.encode(
            "latin-1"
        ),
        ["line 2: the file is not UTF-8 text"],
    ),
    (
        "json-unknown-key",
        "crm.interest",
        "k.jsonl",
        '{"interest_id": 1, "name": "a"}\n{"interest_id": 2, "nmae": "b"}\n',
        ["unknown column 'nmae' (did you mean 'name'?)"],
    ),
    (
        "not-parquet",
        "crm.interest",
        "x.parquet",
        "interest_id,name\n1,a\n",
        ["cannot read the file as Parquet"],
    ),
    (
        "unknown-table",
        "mail.clicks",
        "c.csv",
        "a\n1\n",
        ["unknown table 'mail.clicks' (did you mean 'mail.click'?)"],
    ),
    ("unqualified-table", "person", "c.csv", "a\n1\n", ["did you mean 'crm.person'?"]),
    ("output-table", "crm.ticket", "c.csv", "a\n1\n", ["crm.ticket is written by linksim"]),
]


@pytest.mark.parametrize(
    ("table", "name", "content", "fragments"),
    [case[1:] for case in BAD_FILES],
    ids=[case[0] for case in BAD_FILES],
)
def test_whole_input_errors(
    crm: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    table: str,
    name: str,
    content: str | bytes | None,
    fragments: list[str],
) -> None:
    path = tmp_path / name if content is None else write(tmp_path, name, content)
    before = snapshot(crm)
    with pytest.raises(InputError) as caught:
        load(crm, table, path)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message
    assert "\n" not in message and "Error:" not in message and len(message) < 600
    assert snapshot(crm) == before


def test_input_error_is_value_error_naming_source(
    crm: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = write(tmp_path, "c.csv", "click_id\n1\n")
    with pytest.raises(ValueError, match=r"^.*c\.csv, table mail\.click: missing required columns"):
        load(crm, "mail.click", path)


def test_folder_is_not_a_file(crm: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    (tmp_path / "clicks.csv").mkdir()
    with pytest.raises(InputError, match=r"clicks\.csv is a folder, not a file"):
        load(crm, "mail.click", tmp_path / "clicks.csv")


def test_parquet_column_of_impossible_type(crm: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    frame = pd.DataFrame({"mailing_id": [1], "name": ["x"], "sent_at": [True]})
    frame.to_parquet(tmp_path / "m.parquet")
    with pytest.raises(InputError, match="column 'sent_at' holds BOOLEAN values"):
        load(crm, "mail.mailing", tmp_path / "m.parquet")


def test_frame_with_unnamed_columns(crm: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(InputError, match="column 2 has no name"):
        load(crm, "crm.interest", pd.DataFrame([[1, "a"]], columns=["interest_id", 0]))


def test_unknown_relation(crm: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(InputError, match="no table or view named 'nowhere'"):
        load_relation(crm, "mail.click", "nowhere", source="test")


def test_not_a_path(crm: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(UsageError, match="must be a file path or a DataFrame"):
        load(crm, "mail.click", 42)  # type: ignore[arg-type]


def test_open_transaction_is_refused(crm: duckdb.DuckDBPyConnection) -> None:
    run(crm, "BEGIN")
    with pytest.raises(UsageError, match="transaction is open"):
        load(crm, "crm.interest", pd.DataFrame({"interest_id": [5], "name": ["x"]}))
    run(crm, "ROLLBACK")


# --- per-row outcomes ----------------------------------------------------------------------------

ROW_CASES = [
    # (id, table, header, bad row, reason)
    (
        "missing",
        "mail.click",
        CLICK_HEADER,
        "2,7,101,,2026-03-01T10:00:00Z,,",
        "person_id is missing",
    ),
    (
        "not-whole",
        "mail.click",
        CLICK_HEADER,
        "2.5,7,101,1,2026-03-01T10:00:00Z,,",
        "click_id is not a whole number",
    ),
    (
        "not-number",
        "mail.click",
        CLICK_HEADER,
        "x2,7,101,1,2026-03-01T10:00:00Z,,",
        "click_id is not a whole number",
    ),
    (
        "negative",
        "mail.click",
        CLICK_HEADER,
        "-2,7,101,1,2026-03-01T10:00:00Z,,",
        "click_id is negative",
    ),
    (
        "bad-time",
        "mail.click",
        CLICK_HEADER,
        "2,7,101,1,2026-02-30 10:00,,",
        "clicked_at is not a timestamp",
    ),
    ("future", "mail.click", CLICK_HEADER, "2,7,101,1,2999-01-01,,", "clicked_at is in the future"),
    (
        "infinite",
        "mail.click",
        CLICK_HEADER,
        "2,7,101,1,-infinity,,",
        "clicked_at is not a timestamp",
    ),
    (
        "unknown-person",
        "mail.click",
        CLICK_HEADER,
        "2,7,101,99,2026-03-01T10:00:00Z,,",
        "unknown person",
    ),
    (
        "unknown-link",
        "mail.click",
        CLICK_HEADER,
        "2,7,199,1,2026-03-01T10:00:00Z,,",
        "unknown link",
    ),
    (
        "unknown-mailing",
        "mail.click",
        CLICK_HEADER,
        "2,79,101,1,2026-03-01T10:00:00Z,,",
        "unknown mailing",
    ),
    (
        "link-not-in-mailing",
        "mail.click",
        CLICK_HEADER,
        "2,7,102,1,2026-03-01T10:00:00Z,,",
        "link is not used by this mailing",
    ),
    (
        "not-sent",
        "mail.click",
        CLICK_HEADER,
        "2,9,101,1,2026-03-01T10:00:00Z,,",
        "mailing was not sent",
    ),
    (
        "before-sent",
        "mail.click",
        CLICK_HEADER,
        "2,7,101,1,2026-03-01T07:59:59Z,,",
        "clicked before the mailing was sent",
    ),
    (
        "before-sent-offset",
        "mail.click",
        CLICK_HEADER,
        "2,7,101,1,2026-03-01T09:30:00+02:00,,",
        "clicked before the mailing was sent",
    ),
    (
        "not-recipient",
        "mail.click",
        CLICK_HEADER,
        "2,7,101,3,2026-03-01T10:00:00Z,,",
        "person is not a recipient of this mailing",
    ),
    (
        "too-long",
        "mail.click",
        CLICK_HEADER,
        f"2,7,101,1,2026-03-01T10:00:00Z,{'a' * 10_001},",
        "user_agent is longer than 10,000 characters",
    ),
    (
        "open-before-sent",
        "mail.open",
        "open_id,mailing_id,person_id,opened_at",
        "2,7,1,2026-02-01",
        "opened before the mailing was sent",
    ),
    (
        "event-kind",
        "mail.link_event",
        "event_id,kind,mailing_id,link_id,person_id,occurred_at,user_agent",
        "2,bounce,7,101,1,2026-03-02T11:00:00,",
        "kind is not one of: unsubscribe, consent",
    ),
    (
        "event-before-sent",
        "mail.link_event",
        "event_id,kind,mailing_id,link_id,person_id,occurred_at,user_agent",
        "2,consent,7,101,1,2026-02-01,",
        "occurred before the mailing was sent",
    ),
    (
        "open-not-sent",
        "mail.open",
        "open_id,mailing_id,person_id,opened_at",
        "2,9,1,2026-03-02",
        "mailing was not sent",
    ),
    (
        "recipient-unknown-person",
        "mail.recipient",
        "mailing_id,person_id,delivered_at",
        "7,99,",
        "unknown person",
    ),
    ("mailing-link-unknown", "mail.mailing_link", "mailing_id,link_id", "7,999", "unknown link"),
    (
        "mailing-future",
        "mail.mailing",
        "mailing_id,name,sent_at",
        "10,Later,2999-01-01",
        "sent_at is in the future",
    ),
    ("link-missing-url", "mail.link", "link_id,url,name", "103,,C", "url is missing"),
    ("owner-unknown", "crm.person", "person_id,owner_id", "4,77", "unknown associate in owner_id"),
    ("contact-unknown", "crm.person", "person_id,contact_id", "4,77", "unknown contact"),
    (
        "contact-owner-unknown",
        "crm.contact",
        "contact_id,name,owner_id",
        "2,Beta,77",
        "unknown associate in owner_id",
    ),
    (
        "capacity-negative",
        "crm.associate",
        "associate_id,name,daily_capacity",
        "2,Bo,-1",
        "daily_capacity is negative",
    ),
    (
        "capacity-fraction",
        "crm.associate",
        "associate_id,name,daily_capacity",
        "2,Bo,1.5",
        "daily_capacity is not a whole number",
    ),
    (
        "timezone",
        "crm.associate",
        "associate_id,name,timezone",
        "2,Bo,Mars/Olympus",
        "timezone is not a known IANA time zone",
    ),
    (
        "field-type",
        "crm.extra_field",
        "name,type,options",
        "shoe,float,",
        "type is not one of: text, integer, decimal, date, boolean, list",
    ),
    (
        "list-no-options",
        "crm.extra_field",
        "name,type,options",
        "size,list,",
        "a list field needs options",
    ),
    (
        "options-not-json",
        "crm.extra_field",
        "name,type,options",
        "size,list,S|M|L",
        "options is not a JSON array of texts",
    ),
    (
        "field-unknown",
        "crm.person_field",
        "person_id,field,value,set_at",
        "1,shoe,42,2026-03-01",
        "unknown extra field",
    ),
    (
        "field-integer",
        "crm.person_field",
        "person_id,field,value,set_at",
        "1,score,high,2026-03-01",
        "value is not a whole number (field type integer)",
    ),
    (
        "field-decimal",
        "crm.person_field",
        "person_id,field,value,set_at",
        "1,budget,lots,2026-03-01",
        "value is not a number (field type decimal)",
    ),
    (
        "field-date",
        "crm.person_field",
        "person_id,field,value,set_at",
        "1,renewal,2026-13-01,2026-03-01",
        "value is not a date (field type date)",
    ),
    (
        "field-boolean",
        "crm.person_field",
        "person_id,field,value,set_at",
        "1,vip,maybe,2026-03-01",
        "value is not true or false (field type boolean)",
    ),
    (
        "field-list",
        "crm.person_field",
        "person_id,field,value,set_at",
        "1,tier,bronze,2026-03-01",
        "value is not one of the field's options (field type list)",
    ),
    (
        "field-set-missing",
        "crm.person_field",
        "person_id,field,value,set_at",
        "1,score,3,",
        "set_at is missing",
    ),
    (
        "interest-unknown",
        "crm.person_interest",
        "person_id,interest_id,since",
        "1,9,2026-03-01",
        "unknown interest",
    ),
    (
        "contact-interest-unknown",
        "crm.contact_interest",
        "contact_id,interest_id,since",
        "9,1,2026-03-01",
        "unknown contact",
    ),
    (
        "selection-unknown",
        "crm.selection_member",
        "selection_id,person_id,since",
        "9,1,2026-03-01",
        "unknown selection",
    ),
    (
        "project-unknown",
        "crm.project_member",
        "project_id,person_id,since",
        "9,1,2026-03-01",
        "unknown project",
    ),
    (
        "appointment-kind",
        "crm.appointment",
        "appointment_id,kind",
        "a1,call",
        "kind is not one of: task, meeting",
    ),
    (
        "name-taken",
        "crm.interest",
        "interest_id,name",
        "2,Product news",
        "name is already used by another interest",
    ),
]

GOOD_ROWS = {
    "mail.click": GOOD_CLICK,
    "mail.open": "1,7,1,2026-03-02T10:00:00",
    "mail.link_event": "1,unsubscribe,7,101,1,2026-03-02T10:00:00,",
    "mail.recipient": "8,3,2026-03-01 08:01",
    "mail.mailing_link": "9,102",
    "mail.mailing": "11,May news,",
    "mail.link": "104,https://example.com/d,D",
    "crm.person": "5,",
    "crm.contact": "3,Gamma,1",
    "crm.associate": "3,Cy,",
    "crm.extra_field": 'size,list,"[""S"",""M""]"',
    "crm.person_field": "2,score,17,2026-03-01T12:00:00+01:00",
    "crm.person_interest": "2,1,2026-03-01",
    "crm.contact_interest": "1,1,2026-03-01",
    "crm.selection_member": "1,2,2026-03-01",
    "crm.project_member": "1,2,2026-03-01",
    "crm.appointment": "a2,task",
    "crm.interest": "3,Events",
}


@pytest.mark.parametrize(
    ("table", "header", "row", "reason"),
    [case[1:] for case in ROW_CASES],
    ids=[case[0] for case in ROW_CASES],
)
def test_row_is_quarantined(
    crm: duckdb.DuckDBPyConnection, tmp_path: Path, table: str, header: str, row: str, reason: str
) -> None:
    path = write(tmp_path, "in.csv", f"{header}\n{GOOD_ROWS[table]}\n{row}\n")
    report = accounted(crm, load(crm, table, path))
    assert (report.seen, report.loaded, report.quarantined) == (2, 1, 1)
    assert report.reasons == {reason: 1}
    stored = crm.execute(
        "SELECT source, table_name, row_number, raw, reason FROM linksim.quarantine"
    ).fetchall()
    raw = json.loads(stored[0][3])
    assert stored[0][:3] == (str(path), table, 2)
    assert list(raw) == header.split(",")
    expected = [v or None for v in row.split(",")]  # an empty cell is NULL
    if "[" not in row:  # the raw row holds every value as given
        assert list(raw.values()) == expected


def test_every_input_table_has_a_good_row_case() -> None:
    assert set(GOOD_ROWS) | {"crm.selection", "crm.project"} == set(INPUT_TABLES)


def test_reasons_group_and_report_reads_well(
    crm: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rows = [GOOD_CLICK] + [f"{i},7,101,99,2026-03-01T10:00:00Z,," for i in range(2, 5)]
    rows += ["5,7,101,1,soon,,"]
    path = write(tmp_path, "clicks.csv", "\n".join([CLICK_HEADER, *rows]) + "\n")
    report = accounted(crm, load(crm, "mail.click", path, source="clicks.csv"))
    assert list(report.reasons.items()) == [
        ("unknown person", 3),
        ("clicked_at is not a timestamp", 1),
    ]
    assert str(report) == (
        "mail.click from clicks.csv: 5 rows seen (load_id 1)\n"
        "  1  loaded\n"
        "  0  updated\n"
        "  0  duplicate\n"
        "  4  quarantined\n"
        "  3    unknown person\n"
        "  1    clicked_at is not a timestamp\n"
        "quarantined rows: SELECT * FROM linksim.quarantine WHERE load_id = 1"
    )
    assert report.to_dict() == {
        "table": "mail.click",
        "source": "clicks.csv",
        "load_id": 1,
        "seen": 5,
        "loaded": 1,
        "updated": 0,
        "duplicate": 0,
        "quarantined": 4,
        "reasons": {"unknown person": 3, "clicked_at is not a timestamp": 1},
    }
    assert json.dumps(report.to_dict())


def test_report_html_is_escaped() -> None:
    report = LoadReport("crm.interest", "<script>x</script>", 3, 1, 0, 0, 0, 1, {"a <b>": 1})
    shown = report._repr_html_()
    assert "<script>" not in shown and "&lt;script&gt;" in shown and "a &lt;b&gt;" in shown


def test_thousands_are_separated() -> None:
    report = LoadReport("mail.click", "c.csv", 1, 12345, 12000, 0, 345, 0)
    assert str(report).splitlines()[:2] == [
        "mail.click from c.csv: 12,345 rows seen (load_id 1)",
        "  12,000  loaded",
    ]


# --- repeats, re-loads, updates ------------------------------------------------------------------


def test_repeated_key_in_one_input(crm: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    rows = [
        "17,7,101,1,2026-03-01T10:00:00Z,A,",
        "17,7,101,1,2026-03-01T10:00:00Z,B,",
        "18,7,101,1,2026-03-01T11:00:00Z,A,",
        "18,7,101,1,2026-03-01T12:00:00+01:00,A,",  # the same instant: identical content
        "18,7,101,1,2026-03-01T11:00:00Z,A,",
        "19,7,101,1,not a time,A,",  # a bad copy does not make the good one a conflict
        "19,7,101,1,2026-03-01T11:00:00Z,A,",
    ]
    path = write(tmp_path, "c.csv", "\n".join([CLICK_HEADER, *rows]) + "\n")
    report = accounted(crm, load(crm, "mail.click", path))
    assert (report.loaded, report.duplicate, report.quarantined) == (2, 2, 3)
    assert report.reasons == {
        "click_id appears more than once in this input with different content": 2,
        "clicked_at is not a timestamp": 1,
    }
    assert crm.execute("SELECT click_id FROM mail.click ORDER BY 1").fetchall() == [(18,), (19,)]
    numbers = crm.execute("SELECT row_number FROM linksim.quarantine ORDER BY 1").fetchall()
    assert numbers == [(1,), (2,), (6,)]


def test_repeated_composite_key(crm: duckdb.DuckDBPyConnection) -> None:
    frame = pd.DataFrame(
        {"mailing_id": [8, 8], "person_id": [1, 1], "delivered_at": ["2026-03-01 09:00", None]}
    )
    report = accounted(crm, load(crm, "mail.recipient", frame))
    assert report.reasons == {
        "(mailing_id, person_id) appears more than once in this input with different content": 2
    }


def test_reloading_a_file_is_all_duplicates(crm: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    rows = [f"{i},7,101,{1 + i % 2},2026-03-01T10:00:{i:02d}Z,UA,10.0.0.{i}" for i in range(1, 40)]
    path = write(tmp_path, "c.csv", "\n".join([CLICK_HEADER, *rows]) + "\n")
    first = accounted(crm, load(crm, "mail.click", path))
    assert (first.seen, first.loaded) == (39, 39)
    before = snapshot(crm)["mail.click"]
    again = accounted(crm, load(crm, "mail.click", path))
    assert (again.seen, again.duplicate, again.loaded, again.quarantined) == (39, 39, 0, 0)
    assert snapshot(crm)["mail.click"] == before
    assert again.load_id == first.load_id + 1


def test_changed_crm_row_is_updated(crm: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.csv",
        "person_id,first_name,email\n1,Per,per@acme.no\n2,Kari,kari@new.no\n6,Nils,nils@x.no\n",
    )
    report = accounted(crm, load(crm, "crm.person", path))
    assert (report.duplicate, report.updated, report.loaded) == (1, 1, 1)
    rows = crm.execute("SELECT * FROM crm.person WHERE person_id IN (2, 6) ORDER BY 1").fetchall()
    # columns the input does not have keep their stored value
    assert rows == [
        (2, 1, "Kari", "Nordmann", "kari@new.no", None),
        (6, None, "Nils", None, "nils@x.no", None),
    ]


def test_changed_click_is_quarantined(crm: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    load(crm, "mail.click", write(tmp_path, "a.csv", f"{CLICK_HEADER}\n{GOOD_CLICK}\n"))
    changed = GOOD_CLICK.replace("Mozilla", "curl")
    report = accounted(
        crm, load(crm, "mail.click", write(tmp_path, "b.csv", f"{CLICK_HEADER}\n{changed}\n"))
    )
    assert report.reasons == {"click_id is already stored with different content": 1}
    assert fetch_value(crm, "SELECT user_agent FROM mail.click") == "Mozilla"


def test_changed_recipient_is_quarantined(crm: duckdb.DuckDBPyConnection) -> None:
    frame = pd.DataFrame(
        {"mailing_id": [7], "person_id": [1], "delivered_at": ["2026-03-01 09:00"]}
    )
    report = accounted(crm, load(crm, "mail.recipient", frame))
    assert report.reasons == {"(mailing_id, person_id) is already stored with different content": 1}


def test_unique_name_within_one_input(crm: duckdb.DuckDBPyConnection) -> None:
    frame = pd.DataFrame({"selection_id": [2, 3, 4], "name": ["Cold", "Cold", "Warm"]})
    report = accounted(crm, load(crm, "crm.selection", frame))
    assert report.reasons == {"name is given to more than one selection in this input": 2}
    assert report.loaded == 1


def test_renaming_keeps_unique_names(crm: duckdb.DuckDBPyConnection) -> None:
    report = accounted(
        crm, load(crm, "crm.project", pd.DataFrame({"project_id": [1], "name": ["Launch 2027"]}))
    )
    assert report.updated == 1
    assert fetch_value(crm, "SELECT name FROM crm.project") == "Launch 2027"


def test_default_and_empty_cells(crm: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(
        tmp_path, "a.csv", "associate_id,name,team,timezone\n2,Bo,,\n3,Cy,  ,Europe/Paris\n"
    )
    accounted(crm, load(crm, "crm.associate", path))
    rows = crm.execute(
        "SELECT associate_id, team, timezone FROM crm.associate WHERE associate_id > 1 ORDER BY 1"
    )
    assert rows.fetchall() == [(2, None, "UTC"), (3, None, "Europe/Paris")]


def test_values_are_never_sql(crm: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(tmp_path, "i.csv", 'interest_id,name\n5,"x\'); DROP TABLE crm.person; --"\n')
    accounted(crm, load(crm, "crm.interest", path))
    assert fetch_value(crm, "SELECT name FROM crm.interest WHERE interest_id = 5").startswith(
        "x');"
    )
    assert fetch_value(crm, "SELECT count(*) FROM crm.person") == 3
    with pytest.raises(InputError, match="unknown column"):
        load(crm, "crm.interest", pd.DataFrame({"interest_id": [6], 'name" FROM x; --': ["y"]}))


# --- formats and time zones ----------------------------------------------------------------------

CLICKS = pd.DataFrame(
    {
        "click_id": [1, 2, 3],
        "mailing_id": [7, 7, 8],
        "link_id": [101, 101, 102],
        "person_id": [1, 2, 3],
        "clicked_at": ["2026-03-01T10:00:00+02:00", "2026-03-01T10:00:00Z", "2026-03-01 10:00:00"],
        "user_agent": ["Mozilla", None, "curl"],
        "ip": [None, None, "10.0.0.1"],
    }
)
UTC_TIMES = [datetime(2026, 3, 1, 8), datetime(2026, 3, 1, 10), datetime(2026, 3, 1, 10)]


def stored_clicks(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    return con.execute("SELECT * FROM mail.click ORDER BY click_id").fetchall()


EXPECTED_CLICKS = [
    (1, 7, 101, 1, UTC_TIMES[0], "Mozilla", None),
    (2, 7, 101, 2, UTC_TIMES[1], None, None),
    (3, 8, 102, 3, UTC_TIMES[2], "curl", "10.0.0.1"),
]


def test_csv_offsets_are_converted_to_utc(crm: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    CLICKS.to_csv(path, index=False)
    assert accounted(crm, load(crm, "mail.click", path)).loaded == 3
    assert stored_clicks(crm) == EXPECTED_CLICKS


def test_semicolon_csv_with_bom_and_crlf(crm: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    CLICKS.to_csv(path, index=False, sep=";", lineterminator="\r\n", encoding="utf-8-sig")
    assert accounted(crm, load(crm, "mail.click", path)).loaded == 3
    assert stored_clicks(crm) == EXPECTED_CLICKS


def test_json_lines(crm: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    CLICKS.to_json(path, orient="records", lines=True)
    with path.open("a") as f:
        bad = {"click_id": 4, "mailing_id": 7, "link_id": 101, "person_id": "x", "clicked_at": 1}
        f.write("\n" + json.dumps(bad) + "\n")
    report = accounted(crm, load(crm, "mail.click", path))
    assert (report.loaded, report.quarantined) == (3, 1)
    assert stored_clicks(crm) == EXPECTED_CLICKS
    raw, number = crm.execute("SELECT raw, row_number FROM linksim.quarantine").fetchall()[0]
    assert json.loads(raw) == bad
    assert number == 4


def test_parquet_with_time_zones(crm: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    typed = CLICKS.assign(
        clicked_at=pd.to_datetime(CLICKS["clicked_at"], utc=True, format="ISO8601")
    )
    typed["clicked_at"] = typed["clicked_at"].dt.tz_convert("Europe/Oslo")
    typed.to_parquet(tmp_path / "c.parquet")
    assert accounted(crm, load(crm, "mail.click", tmp_path / "c.parquet")).loaded == 3
    assert stored_clicks(crm) == EXPECTED_CLICKS


def test_dataframe_naive_times_are_utc(crm: duckdb.DuckDBPyConnection) -> None:
    typed = CLICKS.assign(clicked_at=pd.Series(UTC_TIMES, dtype="datetime64[us]"))
    assert accounted(crm, load(crm, "mail.click", typed)).loaded == 3
    assert stored_clicks(crm) == EXPECTED_CLICKS


def test_dataframe_fractional_id_and_bad_row(crm: duckdb.DuckDBPyConnection) -> None:
    frame = CLICKS.assign(click_id=[1.0, 2.5, 3.0])
    report = accounted(crm, load(crm, "mail.click", frame))
    assert report.reasons == {"click_id is not a whole number": 1}
    raw = json.loads(fetch_value(crm, "SELECT raw FROM linksim.quarantine"))
    assert raw["click_id"] == 2.5 and raw["clicked_at"] == "2026-03-01T10:00:00Z"


def test_session_time_zone_does_not_matter(crm: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    run(crm, "SET TimeZone = 'America/New_York'")
    path = tmp_path / "c.csv"
    CLICKS.to_csv(path, index=False)
    accounted(crm, load(crm, "mail.click", path))
    assert fetch_value(crm, "SELECT current_setting('TimeZone')") == "America/New_York"
    run(crm, "SET TimeZone = 'UTC'")
    assert stored_clicks(crm) == EXPECTED_CLICKS


def test_list_options_from_each_format(crm: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    csv_path = write(tmp_path, "f.csv", 'name,type,options\nsize,list,"[""S"",""M""]"\n')
    accounted(crm, load(crm, "crm.extra_field", csv_path))
    frame = pd.DataFrame({"name": ["color"], "type": ["list"], "options": [["red", "blue"]]})
    frame.to_parquet(tmp_path / "f.parquet")
    accounted(crm, load(crm, "crm.extra_field", tmp_path / "f.parquet"))
    accounted(crm, load(crm, "crm.extra_field", frame.assign(name="hue")))
    rows = crm.execute(
        "SELECT name, options FROM crm.extra_field WHERE name IN ('size', 'color', 'hue') "
        "ORDER BY 1"
    ).fetchall()
    assert rows == [("color", ["red", "blue"]), ("hue", ["red", "blue"]), ("size", ["S", "M"])]


def test_person_field_values_fit_their_type(crm: duckdb.DuckDBPyConnection) -> None:
    frame = pd.DataFrame(
        {
            "person_id": [1, 1, 1, 1, 1, 1, 2],
            "field": ["last_cta", "score", "budget", "renewal", "vip", "tier", "tier"],
            "value": ["anything", " 42 ", "12.50", "2026-12-31", "yes", "gold", None],
            "set_at": ["2026-03-01"] * 7,
        }
    )
    report = accounted(crm, load(crm, "crm.person_field", frame))
    assert report.loaded == 7


# --- one transaction -----------------------------------------------------------------------------


def test_failure_midway_leaves_every_table_unchanged(
    crm: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [GOOD_CLICK, "2,7,101,99,2026-03-01T10:00:00Z,,"]
    path = write(tmp_path, "c.csv", "\n".join([CLICK_HEADER, *rows]) + "\n")
    before = snapshot(crm)

    def fail(*args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(load_module, "_record", fail)  # after the inserts and the quarantine
    with pytest.raises(RuntimeError, match="disk full"):
        load(crm, "mail.click", path)
    assert snapshot(crm) == before
    monkeypatch.undo()
    assert accounted(crm, load(crm, "mail.click", path)).loaded == 1  # the connection still works


def test_parse_error_late_in_a_file_writes_nothing(
    crm: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rows = [f"{i},7,101,1,2026-03-01T10:00:00Z,UA," for i in range(1, 5001)] + ["5001,7,101"]
    path = write(tmp_path, "c.csv", "\n".join([CLICK_HEADER, *rows]) + "\n")
    before = snapshot(crm)
    with pytest.raises(InputError, match="line 5002: expected 7 fields"):
        load(crm, "mail.click", path)
    assert snapshot(crm) == before
    assert not crm.execute("SELECT * FROM duckdb_tables() WHERE temporary").fetchall()


# --- a large typed relation ----------------------------------------------------------------------


def test_large_typed_relation_loads_set_based(crm: duckdb.DuckDBPyConnection) -> None:
    n = 200_000
    run(
        crm,
        "CREATE TEMP TABLE staged_clicks AS SELECT range + 1000 AS click_id, 8 AS mailing_id, "
        "101 + range % 2 AS link_id, 1 + range % 3 AS person_id, "
        "TIMESTAMPTZ '2026-03-01 12:00:00+01' + INTERVAL (range) SECOND AS clicked_at, "
        "'agent ' || range % 7 AS user_agent, NULL::VARCHAR AS ip "
        f"FROM range({n}) "
        "UNION ALL SELECT 5, 8, 101, 1, TIMESTAMPTZ '2026-01-01 00:00+00', NULL, NULL",
    )
    report = accounted(crm, load_relation(crm, "mail.click", "staged_clicks", source="generator"))
    assert (report.seen, report.loaded, report.quarantined) == (n + 1, n, 1)
    assert report.reasons == {"clicked before the mailing was sent": 1}
    first = fetch_value(crm, "SELECT min(clicked_at) FROM mail.click")
    assert first == datetime(2026, 3, 1, 11)
    assert fetch_value(crm, "SELECT row_number FROM linksim.quarantine") == n + 1
    again = accounted(crm, load_relation(crm, "mail.click", "staged_clicks", source="generator"))
    assert (again.duplicate, again.quarantined) == (n, 1)
