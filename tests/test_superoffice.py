"""`linksim import superoffice`: SuperOffice's tables and link settings into linksim (issue 10).

The fixture export in examples/superoffice/ is written from the columns of SuperOffice's database
reference; single-link variants of it cover each ShipmentLinkAction flag, each task flag, each
redirect kind and each link type.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

import linksim
from linksim.cli import main
from linksim.definitions import check_definitions, load_definitions, parse_definitions
from linksim.errors import InputError, UsageError
from linksim.superoffice import import_superoffice
from linksim.superoffice.links import ACTION_FLAGS
from linksim.superoffice.sources import SOURCES
from linksim.superoffice.tables import CONTACT_INTEREST_OFFSET, DERIVED

EXAMPLE = Path(__file__).parents[1] / "examples" / "superoffice"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture()
def export(tmp_path: Path) -> Path:
    folder = tmp_path / "export"
    shutil.copytree(EXAMPLE, folder)
    return folder


def _with_link(folder: Path, **values: Any) -> Path:
    """The export with one s_link row (link 101, the other columns empty) replacing all."""
    header = list(_rows(folder / "s_link.csv")[0])
    row = dict.fromkeys(header, "") | {"id": 101, "url": "https://example.com/news"} | values
    _write(folder / "s_link.csv", [row])
    return folder


def _actions(folder: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    report = import_superoffice(linksim.connect(":memory:"), folder)
    actions = {a["id"]: a for link in report.links for a in link["actions"]}
    return actions, [n.message for n in report.notes]


# --- accounting ----------------------------------------------------------------------------------


def test_every_exported_row_is_imported_or_reported(export: Path) -> None:
    con = linksim.connect(":memory:")
    report = import_superoffice(con, export)
    files = {p.stem.lower(): p for p in export.glob("*.csv")}
    for name, account in report.sources.items():
        assert account.rows == len(_rows(files[name])), name
        assert account.accounted == account.rows, name
    routed: dict[str, int] = {}
    for account in report.sources.values():
        for target, n in account.routed.items():
            routed[target] = routed.get(target, 0) + n
    for target, load in report.loads.items():
        if target not in DERIVED:
            assert load.seen == routed[target], target
        assert load.seen == load.loaded + load.updated + load.duplicate + load.quarantined
        stored = con.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
        assert stored == load.loaded, target
    quarantined = con.execute("SELECT count(*) FROM linksim.quarantine").fetchone()[0]
    assert quarantined == report.quarantined == 2  # an unknown PersInt, a click without a time
    assert report.sources["s_link_customer"].skipped == {
        "anonymous (customer_id 0): no person to act on": 1,
        "link_type 0 (Unknown): not a ShipmentLinkType linksim knows": 1,
    }


def test_a_second_import_changes_nothing(export: Path) -> None:
    con = linksim.connect(":memory:")
    import_superoffice(con, export)
    again = import_superoffice(con, export)
    assert {t: (r.loaded, r.updated) for t, r in again.loads.items() if r.loaded or r.updated} == {}
    assert again.loads["mail.click"].duplicate == 12


def test_unknown_columns_and_files_are_named_and_missing_tables_listed(export: Path) -> None:
    (export / "Task.csv").unlink()
    (export / "notes.csv").write_text("a,b\n1,2\n")
    report = import_superoffice(linksim.connect(":memory:"), export)
    assert "task" in report.missing
    assert report.other_files == ["notes.csv"]
    assert report.ignored["s_link"] == ["hits", "status", "folder_id"]
    text = str(report)
    assert "not in the export (nothing read): task" in text
    assert "s_link: hits, status, folder_id" in text


# --- tables ------------------------------------------------------------------------------------


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    return con.execute(sql).fetchall()


def test_link_types_become_clicks_opens_and_their_own_events(export: Path) -> None:
    con = linksim.connect(":memory:")
    import_superoffice(con, export)
    assert _one(con, "SELECT * FROM mail.click WHERE click_id = 2") == [
        (2, 1, 101, 200, dt.datetime(2024, 3, 5, 9, 13), "Mozilla/5.0", None)
    ]
    assert _one(con, "SELECT open_id, mailing_id, person_id FROM mail.open ORDER BY 1") == [
        (1, 1, 200),
        (3, 1, 201),
    ]
    assert _one(
        con, "SELECT event_id, kind, link_id, person_id FROM mail.link_event ORDER BY 1"
    ) == [
        (7, "unsubscribe", 111, 203),
        (8, "consent", 112, 204),
    ]
    # unsubscribe, consent and image rows never become clicks
    assert _one(con, "SELECT count(*) FROM mail.click WHERE click_id IN (1, 3, 7, 8)") == [(0,)]


def test_recipients_include_flows_and_keep_their_first_delivery(export: Path) -> None:
    con = linksim.connect(":memory:")
    import_superoffice(con, export)
    flow = "SELECT person_id, delivered_at FROM mail.recipient WHERE mailing_id = 3 ORDER BY 1"
    # Sara got the flow's email twice (two instances): the first delivery; Per's bounced
    assert _one(con, flow) == [(203, None), (204, dt.datetime(2024, 2, 1, 8, 0))]
    planned = _one(con, "SELECT sent_at FROM mail.mailing WHERE mailing_id = 4")
    assert planned == [(None,)]
    assert _one(con, "SELECT count(*) FROM mail.recipient WHERE mailing_id = 4") == [(3,)]
    # a blocked address (nomailing) was never sent
    assert _one(con, "SELECT count(*) FROM mail.recipient WHERE person_id = 102") == [(0,)]
    # a link used by a mailing and by a flow is visible as shared
    shared = "SELECT mailing_id FROM mail.mailing_link WHERE link_id = 101 ORDER BY 1"
    assert _one(con, shared) == [(1,), (3,)]


def test_crm_tables_take_names_from_the_lists(export: Path) -> None:
    con = linksim.connect(":memory:")
    import_superoffice(con, export)
    assert _one(con, "SELECT * FROM crm.contact WHERE contact_id = 2") == [
        (2, "Nordic Parts AS", "Customer", "Manufacturing", "Norway", 10)
    ]
    assert _one(con, "SELECT owner_id FROM crm.contact WHERE contact_id = 4") == [(None,)]
    assert _one(con, "SELECT contact_id, email FROM crm.person WHERE person_id = 204") == [
        (None, "sara@home.example")  # contact 0 is none; the email ranked first
    ]
    assert _one(con, "SELECT name, team FROM crm.associate WHERE associate_id = 11") == [
        ("Erik Dahl", "Sales")
    ]
    # person and contact interests of one name are one linksim interest
    assert _one(con, "SELECT interest_id, name FROM crm.interest ORDER BY 1") == [
        (1, "Product news"),
        (2, "Webinars"),
        (3, "Events"),
        (2 + CONTACT_INTEREST_OFFSET, "Partner program"),
    ]
    assert _one(con, "SELECT contact_id, interest_id FROM crm.contact_interest ORDER BY 1") == [
        (2, 2 + CONTACT_INTEREST_OFFSET),
        (3, 1),
    ]
    assert _one(con, "SELECT since FROM crm.person_interest WHERE person_id = 201") == [
        (dt.datetime(2024, 2, 1, 9, 0),)  # no startDate: registered
    ]


def test_repeated_ids_in_a_lookup_list_do_not_stop_the_import(export: Path) -> None:
    with (export / "Category.csv").open("a") as f:
        f.write("1,Client\r\n")
    with (export / "email.csv").open("a") as f:
        f.write("7,204,sara@other.example,1\r\n")  # the same rank: the earlier row wins
    con = linksim.connect(":memory:")
    import_superoffice(con, export)
    assert _one(con, "SELECT category FROM crm.contact WHERE contact_id = 2") == [("Client",)]
    assert _one(con, "SELECT email FROM crm.person WHERE person_id = 204") == [
        ("sara@home.example",)
    ]


def test_timezone_reads_datetimes_as_the_servers_local_time(export: Path) -> None:
    con = linksim.connect(":memory:")
    import_superoffice(con, export, timezone="Europe/Oslo")
    assert _one(con, "SELECT clicked_at FROM mail.click WHERE click_id = 2") == [
        (dt.datetime(2024, 3, 5, 8, 13),)
    ]


# --- definitions ---------------------------------------------------------------------------------


def test_the_definitions_round_trip_and_check_against_the_imported_database(
    export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(linksim.scripts, "_REGISTRY", {})  # the registration below stays here
    con = linksim.connect(":memory:")
    out = tmp_path / "links.yaml"
    report = import_superoffice(con, export, definitions_out=out)
    loaded = load_definitions(out)
    assert loaded == parse_definitions(report.definitions)
    assert {link.link for link in loaded.links} == {101, 102, 103, 104, 105, 106, 107, 109}
    unregistered = "enrich_from_register"

    @linksim.script(unregistered)
    def enrich(clicks: Any) -> None:
        return None

    check_definitions(loaded, con)
    assert "# todo: s_link 106: ExecuteScript" in out.read_text()


@pytest.mark.parametrize(
    ("flag", "columns", "action"),
    [
        ("SetPersonInterest", {"add_person_interest": 1},
         {"id": "so-101-interest", "type": "interest", "add": ["Product news"]}),
        ("RemovePersonInterest", {"remove_person_interest": 2},
         {"id": "so-101-interest", "type": "interest", "remove": ["Webinars"]}),
        ("SetContactInterest", {"add_contact_interest": 2},
         {"id": "so-101-contact-interest", "type": "interest", "scope": "contact",
          "add": ["Partner program"]}),
        ("RemoveContactInterest", {"remove_contact_interest": 1},
         {"id": "so-101-contact-interest", "type": "interest", "scope": "contact",
          "remove": ["Product news"]}),
        ("AddToSmSelection", {"add_contact_selection": 1},
         {"id": "so-101-selection", "type": "selection", "add": ["Hot leads"]}),
        ("RemoveFromSmSelection", {"remove_contact_selection": 2},
         {"id": "so-101-selection", "type": "selection", "remove": ["Cold"]}),
        ("AddToSmProject", {"add_project": 1},
         {"id": "so-101-project", "type": "project", "add": ["Launch 2026"]}),
        ("RemoveFromSmProject", {"remove_project": 2},
         {"id": "so-101-project", "type": "project", "remove": ["Webinar March"]}),
        ("AddTask", {"task_idx": 1, "task_associate_id": 11, "task_text": "Call {them}"},
         {"id": "so-101-task", "type": "follow_up", "kind": "task", "task_type": "Phone call",
          "description": "Call {{them}}", "owner": 11}),
        ("AddRequest", {"ticket_title": "Question", "ticket_category": 2, "ticket_priority": 4,
                        "ticket_owned_by": 11},
         {"id": "so-101-request", "type": "request", "title": "Question", "priority": "critical",
          "category": "Support", "owner": 10}),
        ("ExecuteScript", {"script_id": 7},
         {"id": "so-101-script", "type": "script", "script": "enrich_from_register"}),
    ],
)  # fmt: skip
def test_each_action_flag_becomes_its_action(
    export: Path, flag: str, columns: dict[str, Any], action: dict[str, Any]
) -> None:
    actions, _ = _actions(_with_link(export, action_flags=ACTION_FLAGS[flag], **columns))
    assert actions[action["id"]] == action
    # with an action, the link's redirect becomes a response too
    assert actions["so-101-response"]["redirect"] == "https://example.com/news"


@pytest.mark.parametrize("flag", ["AddToCsSelection", "RemoveFromCsSelection"])
def test_customer_service_selections_are_reported_as_unsupported(export: Path, flag: str) -> None:
    actions, notes = _actions(_with_link(export, action_flags=ACTION_FLAGS[flag]))
    assert actions == {}
    assert notes == [
        f"{flag}: Customer Service selections (ejselection) have no linksim counterpart; "
        "nothing was defined for it"
    ]


def test_every_action_flag_is_covered() -> None:
    assert sum(ACTION_FLAGS.values()) == 8191  # 13 bits: SuperOffice's ShipmentLinkAction


@pytest.mark.parametrize(
    ("task_flags", "expected"),
    [
        (0, {"owner": 11, "due": {"at": "10:00"}}),
        (1, {"owner": "contact_owner", "fallback": 11, "due": {"at": "10:00"}}),
        (2, {"owner": 11, "due": {"business_days": 0, "next_free_slot": True}}),
        (4, {"owner": 11, "due": {"at": "10:00"}, "assignment": True}),
        (7, {"owner": "contact_owner", "fallback": 11,
             "due": {"business_days": 0, "next_free_slot": True}, "assignment": True}),
    ],
)  # fmt: skip
def test_task_flags(export: Path, task_flags: int, expected: dict[str, Any]) -> None:
    folder = _with_link(
        export, action_flags=ACTION_FLAGS["AddTask"], task_idx=2, task_flags=task_flags,
        task_associate_id=11, task_creating_associate_id=10, task_project=2,
        task_start="2024-03-12 10:00:00", task_duration=45,
    )  # fmt: skip
    actions, notes = _actions(folder)
    task = actions["so-101-task"]
    common = {"id": "so-101-task", "type": "follow_up", "kind": "meeting", "task_type": "Meeting",
              "project": "Webinar March", "created_by": 10, "duration_minutes": 45}  # fmt: skip
    assert task == common | expected
    fixed = any("is a fixed time" in n for n in notes)
    assert fixed == (not task_flags & 2)  # the start SuperOffice would use is not kept as is


@pytest.mark.parametrize(
    ("kind", "columns", "response"),
    [
        ("0", {"template_text": "Thanks {firstname}!"}, {"feedback_text": "Thanks {{firstname}}!"}),
        ("1", {}, {"redirect": "https://example.com/news"}),
        ("2", {"form_id": 5}, {"form": {"form_id": "5"}}),
    ],
)  # fmt: skip
def test_redirect_kinds(
    export: Path, kind: str, columns: dict[str, Any], response: dict[str, Any]
) -> None:
    actions, _ = _actions(_with_link(export, action_flags=1, add_person_interest=1,
                                     redirect_kind=kind, **columns))  # fmt: skip
    assert actions["so-101-response"] == {"id": "so-101-response", "type": "response"} | response
    parse_definitions({"version": 1, "links": [{"link": 101, "actions": list(actions.values())}]})


def test_a_plain_link_needs_no_definition(export: Path) -> None:
    actions, notes = _actions(_with_link(export, action_flags=0, redirect_kind=1))
    assert (actions, notes) == ({}, [])


def test_extra_field_becomes_set_field_and_the_field_is_created(export: Path) -> None:
    con = linksim.connect(":memory:")
    folder = _with_link(export, extra_field="last_cta", value="news", redirect_kind=1)
    report = import_superoffice(con, folder)
    assert report.links[0]["actions"][0] == {
        "id": "so-101-field",
        "type": "set_field",
        "field": "last_cta",
        "value": "news",
    }
    assert _one(con, "SELECT name, type FROM crm.extra_field") == [("last_cta", "text")]


def test_an_assignment_is_recorded_on_the_appointment(export: Path) -> None:
    con = linksim.connect(":memory:")
    report = import_superoffice(con, export)
    linksim.apply(con, parse_definitions(report.definitions), progress=False)
    rows = _one(con, "SELECT source_action, kind, owner_id, assignment FROM crm.appointment "
                     "ORDER BY 1, 3")  # fmt: skip
    assert rows == [("so-104-task", "task", 10, False), ("so-104-task", "task", 11, False),
                    ("so-105-task", "meeting", 12, True)]  # fmt: skip


# --- errors ------------------------------------------------------------------------------------


def test_a_missing_required_column_is_one_error_and_nothing_is_written(export: Path) -> None:
    rows = _rows(export / "s_link_customer.csv")
    _write(export / "s_link_customer.csv", [{k: v for k, v in r.items() if k != "pressed"}
                                            for r in rows])  # fmt: skip
    con = linksim.connect(":memory:")
    with pytest.raises(
        InputError,
        match=r"s_link_customer.csv: missing column pressed: the "
        r"export of SuperOffice's s_link_customer table needs",
    ):
        import_superoffice(con, export)
    assert _one(con, "SELECT count(*) FROM crm.person") == [(0,)]


def test_a_folder_without_an_export_and_a_bad_zone_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="holds no SuperOffice export"):
        import_superoffice(linksim.connect(":memory:"), tmp_path)
    with pytest.raises(InputError, match="is not a folder"):
        import_superoffice(linksim.connect(":memory:"), tmp_path / "nowhere")
    with pytest.raises(UsageError, match="unknown time zone 'Mars/Base'"):
        import_superoffice(linksim.connect(":memory:"), EXAMPLE, timezone="Mars/Base")


def test_a_malformed_csv_names_the_file_and_line(export: Path) -> None:
    with (export / "person.csv").open("a") as f:
        f.write('300,2,"Unclosed,Quote,10,,\n')
    with pytest.raises(InputError, match=r"person.csv: line \d+: cannot be read as CSV"):
        import_superoffice(linksim.connect(":memory:"), export)


def test_every_source_names_documented_columns() -> None:
    # the key of each table as SuperOffice's reference names it, lower case
    keys = {s.name: s.required[0] for s in SOURCES}
    assert keys["s_link"] == keys["s_link_customer"] == keys["s_shipment"] == "id"
    assert keys["persint"] == "persint_id" and keys["task"] == "task_id"


# --- command line ------------------------------------------------------------------------------


def test_cli_import_lint_preview(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, defs = tmp_path / "so.duckdb", tmp_path / "links.yaml"
    code = main(["import", "superoffice", str(export), "--db", str(db),
                 "--definitions-out", str(defs)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1  # two rows quarantined
    assert re.search(r"s_link_customer +19 rows: 13 to mail.click", out)
    assert "definitions: 8 links, 21 actions, written to" in out
    assert main(["lint", str(defs), "--db", str(db)]) == 1  # the ejScript is not registered
    assert "unregistered-script" in capsys.readouterr().out
    assert main(["preview", str(defs), "--db", str(db), "--json"]) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["import", "--db", "x.duckdb"], "import needs a source"),
        (["import", "superoffice", "--db", "x.duckdb"], "needs the folder"),
        (["import", "sap", "dir"], "unknown import source 'sap'"),
        (["import", "--warehouse", "w", "--timezone", "UTC"], "belong to `import superoffice"),
        (["import", "superoffice", str(EXAMPLE), "--definitions-out", "x.txt"], "expected a .yaml"),
    ],
)
def test_cli_import_usage_errors(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


# --- importing again, and what real exports look like ------------------------------------------


def test_importing_again_after_an_apply_keeps_what_the_apply_did(export: Path) -> None:
    con = linksim.connect(":memory:")
    report = import_superoffice(con, export)
    defs = parse_definitions(report.definitions)
    linksim.apply(con, defs, progress=False)
    state = "SELECT * FROM crm.{} ORDER BY ALL"
    tables = ("selection_member", "contact_interest", "person_interest", "project_member")
    after = {t: _one(con, state.format(t)) for t in tables}
    again = import_superoffice(con, export)
    assert {t: _one(con, state.format(t)) for t in tables} == after
    # clicks after the exported times: Kari (200) left "Cold" and took "Product news" again,
    # contact 3 lost "Product news", contact 2 joined "Partner program" again
    assert again.kept == {
        "crm.contact_interest": 2,
        "crm.person_interest": 1,
        "crm.selection_member": 1,
    }
    assert linksim.preview(con, defs).size("changes") == 0


def test_a_second_import_in_another_time_zone_is_refused(export: Path) -> None:
    con = linksim.connect(":memory:")
    import_superoffice(con, export)
    with pytest.raises(UsageError, match="read in time zone UTC, and --timezone is Europe/Oslo"):
        import_superoffice(con, export, timezone="Europe/Oslo")


def test_an_existing_definitions_file_is_never_overwritten(export: Path, tmp_path: Path) -> None:
    out = tmp_path / "links.yaml"
    out.write_text("# my edits\n")
    with pytest.raises(UsageError, match="exists: give a new file name"):
        import_superoffice(linksim.connect(":memory:"), export, definitions_out=out)
    assert out.read_text() == "# my edits\n"


def test_two_files_for_one_table_are_refused(export: Path) -> None:
    shutil.copy(export / "contact.csv", export / "Contact.csv")
    with pytest.raises(InputError, match=r"Contact\.csv and contact\.csv are both"):
        import_superoffice(linksim.connect(":memory:"), export)


def test_deleted_interests_and_their_memberships_are_skipped(export: Path) -> None:
    rows = _rows(export / "PersInt.csv")
    rows[1]["deleted"] = "1"  # Webinars
    _write(export / "PersInt.csv", rows)
    con = linksim.connect(":memory:")
    report = import_superoffice(con, export)
    assert report.sources["persint"].skipped == {"deleted in SuperOffice (deleted = 1)": 1}
    assert report.sources["personinterest"].skipped == {
        "its interest (PersInt 2) is deleted in SuperOffice": 1
    }
    assert _one(con, "SELECT count(*) FROM crm.interest WHERE name = 'Webinars'") == [(0,)]


def test_day_first_dates_are_read_and_unreadable_ones_named(export: Path) -> None:
    rows = _rows(export / "s_link_customer.csv")
    rows[1]["pressed"] = "05.03.2024 09:13"  # click 2
    rows[3]["pressed"] = "03/05/2024 10:02"  # click 4: month or day first? not guessed
    _write(export / "s_link_customer.csv", rows)
    con = linksim.connect(":memory:")
    report = import_superoffice(con, export)
    assert _one(con, "SELECT clicked_at FROM mail.click WHERE click_id = 2") == [
        (dt.datetime(2024, 3, 5, 9, 13),)
    ]
    assert report.remarks == [
        "s_link_customer.pressed: 1 value that are no date and time linksim reads "
        "(e.g. '03/05/2024 10:02'); expected 2024-03-05 10:00:00 or 05.03.2024 10:00"
    ]
    assert report.loads["mail.click"].reasons["clicked_at is not a timestamp"] == 1


def test_action_flags_must_be_a_number(export: Path) -> None:
    actions, notes = _actions(_with_link(export, action_flags="abc", extra_field="x", value="y"))
    assert list(actions) == ["so-101-field", "so-101-response"]
    assert notes[0].startswith("action_flags 'abc' is not a number")


def test_text_of_several_lines_is_a_block_and_merge_fields_are_noted(
    export: Path, tmp_path: Path
) -> None:
    folder = _with_link(export, redirect_kind=0, template_text="Thanks {firstname}!\nSee you.")
    out = tmp_path / "links.yaml"
    report = import_superoffice(linksim.connect(":memory:"), folder, definitions_out=out)
    assert "feedback_text: |-\n" in out.read_text()
    assert load_definitions(out).links[0].actions[0].feedback_text == (
        "Thanks {{firstname}}!\nSee you."
    )
    assert "template_text has merge fields or braces" in report.notes[0].message


def test_a_refused_cli_import_leaves_no_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "new.duckdb"
    assert main(["import", "superoffice", str(tmp_path), "--db", str(db)]) == 2
    assert "holds no SuperOffice export" in capsys.readouterr().err
    assert not db.exists()


def test_a_link_naming_a_deleted_interest_gets_a_note(export: Path) -> None:
    rows = _rows(export / "PersInt.csv")
    rows[0]["deleted"] = "1"  # Product news
    _write(export / "PersInt.csv", rows)
    actions, notes = _actions(_with_link(export, action_flags=1, add_person_interest=1))
    assert "so-101-interest" not in actions
    assert notes == [
        "SetPersonInterest: add_person_interest 1 is not in the exported PersInt list, or is "
        "deleted there"
    ]
