"""The definitions models, loading and error messages (linksim/definitions/, no database)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import linksim.definitions as ld
from linksim.definitions import (
    PLACEHOLDERS,
    Definitions,
    FollowUpAction,
    ResponseAction,
    TeamOwner,
    definitions_schema,
    load_definitions,
    parse_definitions,
    split_template,
    value_problem,
    value_text,
)
from linksim.errors import DefinitionError, LinksimError

SPEC_YAML = """\
version: 1
bot_filter: {enabled: true, min_seconds_after_delivery: 10, max_links_per_second: 3}
links:
  - link: 101                      # link_id, or  url: "https://…"
    mailings: [7, 8]               # optional: only clicks in these mailings
    actions:
      - {id: news-yes, type: interest, add: ["Product news"], remove: []}
      - {id: cta-field, type: set_field, field: last_cta, value: "product-news"}
      - {id: hot, type: selection, add: ["Hot leads"], remove: ["Cold"]}
      - {id: launch, type: project, add: ["Launch 2026"]}
      - id: call-back
        type: follow_up
        kind: task                 # task | meeting
        task_type: Phone call
        description: "Clicked {link_name} in {mailing_name}"
        project: Launch 2026       # optional
        created_by: 3              # associate id
        owner: contact_owner       # associate id | contact_owner (+ fallback: id) | {team: Sales}
        fallback: 3
        due: {business_days: 1, at: "09:00", next_free_slot: true}
        duration_minutes: 30
        fire: once_per_mailing     # once_per_mailing (default here) | once | every_click
      - {id: ticket, type: request, title: "Pricing question from {person_name}", priority: high,
         category: Sales, owner: unassigned}
      - {id: enrich, type: script, script: crm_enrich}      # a *registered* script name
      - {id: thanks, type: response, redirect: "https://example.com/thanks"}
  - url: "https://example.com/form"
    actions:
      - {id: feedback, type: response, feedback_text: "Thank you, {first_name}!"}
      - {id: signup, type: response, form: {form_id: signup, prefill: [email, first_name]}}
      - {id: team-call, type: follow_up, owner: {team: Sales}, kind: meeting}
"""

# The smallest valid body of each action type.
MINIMAL: dict[str, dict[str, Any]] = {
    "interest": {"add": ["Product news"]},
    "set_field": {"field": "last_cta", "value": "x"},
    "selection": {"add": ["Hot leads"]},
    "project": {"add": ["Launch 2026"]},
    "follow_up": {"owner": 3},
    "request": {"title": "Question from {person_name}"},
    "script": {"script": "crm_enrich"},
    "response": {"feedback_text": "Thanks!"},
}
DROP = object()


def act(action_type: str, action_id: str = "a1", /, **changes: Any) -> dict[str, Any]:
    """A minimal action of ``action_type`` with some keys changed (or dropped with DROP)."""
    body = {"id": action_id, "type": action_type, **MINIMAL[action_type], **changes}
    return {k: v for k, v in body.items() if v is not DROP}


def defs(*actions: dict[str, Any], **link: Any) -> dict[str, Any]:
    """A definitions mapping with one link (101 unless changed) holding ``actions``."""
    entry = {"link": 101, "actions": list(actions), **link}
    return {"version": 1, "links": [{k: v for k, v in entry.items() if v is not DROP}]}


def problems_of(data: Any) -> list[dict[str, object]]:
    with pytest.raises(DefinitionError) as info:
        parse_definitions(data, source="t.yaml")
    return info.value.problems


# --- good files ----------------------------------------------------------------------------------


def test_spec_example_loads_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "defs.yaml"
    path.write_text(SPEC_YAML, encoding="utf-8")
    loaded = load_definitions(path)
    first, second = loaded.links
    assert first.link == 101 and first.mailings == (7, 8) and first.key == 101
    assert second.url == "https://example.com/form" and second.key == "https://example.com/form"
    follow_up = first.actions[4]
    assert isinstance(follow_up, FollowUpAction)
    assert follow_up.owner == "contact_owner" and follow_up.fallback == 3
    assert follow_up.due.next_free_slot is True and follow_up.due.time.hour == 9
    assert second.actions[2].owner == TeamOwner(team="Sales")
    assert [a.type for _, a in loaded.actions] == [
        "interest",
        "set_field",
        "selection",
        "project",
        "follow_up",
        "request",
        "script",
        "response",
        "response",
        "response",
        "follow_up",
    ]


def test_json_and_yaml_give_the_same_definitions(tmp_path: Path) -> None:
    yaml_path, json_path = tmp_path / "d.yml", tmp_path / "d.json"
    yaml_path.write_text(SPEC_YAML, encoding="utf-8")
    from_yaml = load_definitions(yaml_path)
    json_path.write_text(json.dumps(from_yaml.model_dump(mode="json")), encoding="utf-8")
    assert load_definitions(json_path) == from_yaml


@pytest.mark.parametrize(
    ("kind", "fire"),
    [
        ("interest", "every_click"),
        ("set_field", "every_click"),
        ("selection", "every_click"),
        ("project", "every_click"),
        ("follow_up", "once_per_mailing"),
        ("request", "once_per_mailing"),
        ("script", "once_per_mailing"),
        ("response", "every_click"),
    ],
)
def test_firing_defaults_follow_spec_4_3(kind: str, fire: str) -> None:
    parsed = parse_definitions(defs(act(kind)))
    assert parsed.links[0].actions[0].fire == fire
    explicit = parse_definitions(defs(act(kind, fire="once")))
    assert explicit.links[0].actions[0].fire == "once"


def test_defaults_when_omitted() -> None:
    parsed = parse_definitions(defs(act("follow_up"), act("request", "a2"), act("interest", "a3")))
    follow_up, request, interest = parsed.links[0].actions
    assert parsed.bot_filter.enabled is True
    assert parsed.bot_filter.min_seconds_after_delivery == 10
    assert parsed.bot_filter.max_links_per_second == 3
    assert follow_up.kind == "task" and follow_up.duration_minutes == 30
    assert (follow_up.due.business_days, follow_up.due.at) == (1, "09:00")
    assert follow_up.due.next_free_slot is False
    assert (request.priority, request.owner, request.fallback) == ("medium", "unassigned", None)
    assert interest.scope == "person" and interest.remove == ()
    assert parsed.links[0].mailings is None


def test_a_clock_time_is_normalised() -> None:
    parsed = parse_definitions(defs(act("follow_up", due={"at": "9:05"})))
    assert parsed.links[0].actions[0].due.at == "09:05"


def test_response_kind() -> None:
    kinds = [
        parse_definitions(defs(act("response", **body))).links[0].actions[0].kind
        for body in (
            {"redirect": "https://example.com/x", "feedback_text": DROP},
            {"feedback_text": "Thanks"},
            {"form": {"form_id": "signup"}, "feedback_text": DROP},
        )
    ]
    assert kinds == ["redirect", "feedback", "form"]


def test_models_are_frozen() -> None:
    parsed = parse_definitions(defs(act("interest")))
    with pytest.raises(ValueError, match="frozen"):
        parsed.links[0].actions[0].scope = "contact"  # type: ignore[misc]
    assert hash(parsed) == hash(parse_definitions(defs(act("interest"))))


def test_definitions_can_be_built_in_python() -> None:
    built = ResponseAction(id="thanks", redirect="https://example.com/thanks")
    assert built.type == "response" and built.fire == "every_click"
    parsed = parse_definitions(defs(built.model_dump()))
    assert parsed.links[0].actions[0] == built


# --- bad files: every rule, with its message -----------------------------------------------------


def _no_jargon(problems: list[dict[str, object]]) -> None:
    for p in problems:  # what the user reads carries no pydantic jargon
        text = str(p["message"])
        for jargon in ("Input should", "pydantic", "Value error", "Field required", "[type="):
            assert jargon not in text, text


def assert_problem(
    data: Any, fragment: str, field: str | None, link: object, action: object
) -> None:
    """``data`` has a problem saying ``fragment``, located at field, link and action."""
    problems = problems_of(data)
    matching = [p for p in problems if fragment in str(p["message"])]
    assert matching, f"no problem says {fragment!r}: {problems}"
    found = matching[0]
    assert (found["file"], found["field"], found["link"], found["action"]) == (
        "t.yaml",
        field,
        link,
        action,
    )
    _no_jargon(problems)


def top(**changes: Any) -> dict[str, Any]:
    """A good definitions mapping with some top-level keys changed."""
    data = {**defs(act("interest")), **changes}
    return {k: v for k, v in data.items() if v is not DROP}


FILE_CASES = [  # id, data, field, message fragment
    ("version 2", top(version=2), "version",
     "version 2 is not supported; this linksim reads version 1"),
    ("version text", top(version="1"), "version", "version '1' is not supported"),
    ("no version", top(version=DROP), "version",
     "missing required key 'version': add `version: 1`"),
    ("typo", top(bot_filtre={}), "bot_filtre",
     "unknown key 'bot_filtre'; did you mean 'bot_filter'?"),
    ("no links", top(links=DROP), "links", "missing required key 'links'"),
    ("links not a list", top(links={"link": 1}), "links", "expected a list; found a mapping"),
    ("bot filter typo", top(bot_filter={"enabeld": False}), "bot_filter.enabeld",
     "did you mean 'enabled'? Allowed keys: enabled,"),
    ("bad cidr", top(bot_filter={"ip_ranges": ["10.0.0.0/33"]}), "bot_filter.ip_ranges",
     "expected an IP range in CIDR notation"),
    ("host bits", top(bot_filter={"ip_ranges": ["10.1.2.3/8"]}), "bot_filter.ip_ranges",
     "has host bits set; did you mean '10.0.0.0/8'?"),
    ("rate", top(bot_filter={"max_links_per_second": 0}), "bot_filter.max_links_per_second",
     "expected a number >= 1; found 0"),
    ("enabled", top(bot_filter={"enabled": "yes"}), "bot_filter.enabled",
     "expected true or false; found 'yes'"),
]  # fmt: skip

LINK_CASES = [  # id, changes to link 101, field, link label, message fragment
    ("link and url", {"url": "https://x.com"}, None, 101,
     "exactly one of `link` (a link id) or `url`; found both"),
    ("neither", {"link": DROP}, None, "#1",
     "exactly one of `link` (a link id) or `url`; found neither"),
    ("link not a number", {"link": "abc"}, "link", "#1", "expected a whole number; found 'abc'"),
    ("negative link", {"link": -4}, "link", -4, "expected a number >= 0; found -4"),
    ("empty mailings", {"mailings": []}, "mailings", 101, "`mailings` is empty"),
    ("bad mailing", {"mailings": [7, True]}, "mailings", 101,
     "expected a whole number; found true"),
    ("no actions", {"actions": []}, "actions", 101, "expected at least 1 action; found none"),
    ("typo", {"mailing": [7]}, "mailing", 101, "unknown key 'mailing'; did you mean 'mailings'?"),
]  # fmt: skip

ACTION_CASES = [  # id, action type, changes to its minimal body, field, message fragment
    ("unknown type", "interest", {"type": "intrest"}, None,
     "unknown action type 'intrest'; did you mean 'interest'? The action types are: interest,"),
    ("no type", "interest", {"type": DROP}, None, "missing key 'type'"),
    ("bad id", "interest", {"id": "call back"}, "id", "expected an action id of letters, digits"),
    ("typo", "interest", {"scpoe": "x"}, "scpoe",
     "unknown key 'scpoe'; did you mean 'scope'? Allowed keys: id, type, require, add, remove, "
     "scope, fire"),
    ("scope", "interest", {"scope": "company"}, "scope",
     "expected 'person' or 'contact'; found 'company'"),
    ("nothing to do", "selection", {"add": []}, "add",
     "nothing to do: give `add`, `remove` or both"),
    ("add and remove", "project", {"add": ["X"], "remove": ["X"]}, "remove",
     "'X' both added and removed"),
    ("add not a list", "interest", {"add": "News"}, "add", "expected a list; found 'News'"),
    ("name not text", "interest", {"add": [2026]}, "add",
     "expected text; found 2026 (put it in quotes"),
    ("empty name", "interest", {"add": [""]}, "add", "expected non-empty text; found ''"),
    ("fire", "script", {"fire": "always"}, "fire",
     "expected 'once_per_mailing', 'once' or 'every_click'; found 'always'"),
    ("fire typo", "script", {"fire": "once_per_mail"}, "fire", "did you mean 'once_per_mailing'?"),
    ("value list", "set_field", {"value": [1, 2]}, "value",
     "expected one value (text, a number, true/false, or null to clear); found a list"),
    ("value inf", "set_field", {"value": float("inf")}, "value", "expected a finite number"),
    ("no field", "set_field", {"field": DROP}, "field", "missing required key 'field'"),
    ("no fallback", "follow_up", {"owner": "contact_owner"}, "fallback",
     "owner is contact_owner, so `fallback` (an associate id) is required: a task must have an"),
    ("owner word", "follow_up", {"owner": "bob"}, "owner",
     "expected an associate id (a whole number), 'contact_owner', or {team: NAME}; found 'bob'"),
    ("unassigned task", "follow_up", {"owner": "unassigned"}, "owner",
     "expected an associate id (a whole number), 'contact_owner', or {team: NAME}"),
    ("owner boolean", "follow_up", {"owner": True}, "owner", "found true"),
    ("owner negative", "follow_up", {"owner": -1}, "owner", "expected a number >= 0; found -1"),
    ("team typo", "follow_up", {"owner": {"teem": "Sales"}}, "owner.teem",
     "unknown key 'teem'; did you mean 'team'?"),
    ("team missing", "follow_up", {"owner": {"teem": "Sales"}}, "owner.team",
     "missing required key 'team'"),
    ("kind", "follow_up", {"kind": "call"}, "kind", "expected 'task' or 'meeting'; found 'call'"),
    ("due at", "follow_up", {"due": {"at": "25:00"}}, "due.at",
     "expected a time of day as HH:MM (24 hours, e.g. '09:00'); found '25:00'"),
    ("due at number", "follow_up", {"due": {"at": 630}}, "due.at", "expected text; found 630"),
    ("due days", "follow_up", {"due": {"business_days": -1}}, "due.business_days",
     "expected a number >= 0; found -1"),
    ("due days text", "follow_up", {"due": {"business_days": "1"}}, "due.business_days",
     "expected a whole number; found '1'"),
    ("due slot", "follow_up", {"due": {"next_free_slot": "yes"}}, "due.next_free_slot",
     "expected true or false; found 'yes'"),
    ("due typo", "follow_up", {"due": {"days": 2}}, "due.days",
     "unknown key 'days'; did you mean 'business_days'?"),
    ("due text", "follow_up", {"due": "tomorrow"}, "due",
     "expected a mapping with keys business_days, at, next_free_slot; found 'tomorrow'"),
    ("duration", "follow_up", {"duration_minutes": 0}, "duration_minutes",
     "expected a number > 0; found 0"),
    ("created_by", "follow_up", {"created_by": "Ann"}, "created_by",
     "expected a whole number; found 'Ann'"),
    ("placeholder", "follow_up", {"description": "Hi {firstname}"}, "description",
     "unknown placeholder {firstname} in template 'Hi {firstname}'; did you mean {first_name}?"),
    ("attribute", "request", {"title": "{person_name.upper}"}, "title",
     "placeholder {person_name.upper} uses attribute or index access"),
    ("index", "request", {"title": "{link_url[0]}"}, "title", "uses attribute or index access"),
    ("format spec", "request", {"title": "{clicked_at:%Y}"}, "title",
     "placeholder {clicked_at:%Y} has a format spec"),
    ("conversion", "request", {"title": "{link_url!r}"}, "title", "has a conversion (!r)"),
    ("unbalanced", "response", {"feedback_text": "Hi {first_name"}, "feedback_text",
     "unbalanced brace in template 'Hi {first_name'"),
    ("stray brace", "response", {"feedback_text": "a } b"}, "feedback_text", "unbalanced brace"),
    ("positional", "response", {"feedback_text": "Hi {}"}, "feedback_text", "empty placeholder {}"),
    ("no title", "request", {"title": DROP}, "title", "missing required key 'title'"),
    ("priority", "request", {"priority": "urgent"}, "priority",
     "expected 'low', 'medium', 'high' or 'critical'; found 'urgent'"),
    ("request owner", "request", {"owner": "nobody"}, "owner",
     "'unassigned' or 'contact_owner', or {team: NAME}; found 'nobody'"),
    ("module path", "script", {"script": "os:system"}, "script",
     "expected the name of a registered script"),
    ("code", "script", {"script": "__import__('os').system('x')"}, "script",
     "entry point in group `linksim.scripts`"),
    ("decorator", "script", {"script": "a b"}, "script", '@linksim.script("name")'),
    ("no response", "response", {"feedback_text": DROP}, None,
     "expected exactly one of `redirect`, `feedback_text` or `form`; found none"),
    ("two responses", "response", {"redirect": "https://example.com"}, None,
     "found redirect and feedback_text"),
    ("javascript", "response", {"feedback_text": DROP, "redirect": "javascript:alert(1)"},
     "redirect", "javascript: URLs are refused"),
    ("data url", "response", {"feedback_text": DROP, "redirect": "data:text/html,<b>x</b>"},
     "redirect", "data: URLs are refused"),
    ("relative", "response", {"feedback_text": DROP, "redirect": "/thanks"}, "redirect",
     "relative URL '/thanks' is refused: a redirect must be an absolute http or https URL"),
    ("no scheme", "response", {"feedback_text": DROP, "redirect": "example.com/x"}, "redirect",
     "did you mean 'https://example.com/x'?"),
    ("protocol-relative", "response", {"feedback_text": DROP, "redirect": "//evil.example/x"},
     "redirect", "relative URL"),
    ("ftp", "response", {"feedback_text": DROP, "redirect": "ftp://example.com/f"}, "redirect",
     "ftp: URLs are refused"),
    ("no host", "response", {"feedback_text": DROP, "redirect": "https:///x"}, "redirect",
     "has no host"),
    ("spaces", "response", {"feedback_text": DROP, "redirect": "https://exa mple.com"}, "redirect",
     "spaces or control characters"),
    ("prefill", "response", {"feedback_text": DROP, "form": {"form_id": "f", "prefill": ["e-m"]}},
     "form.prefill", "expected a person column or extra field name"),
    ("no form id", "response", {"feedback_text": DROP, "form": {"prefill": ["email"]}},
     "form.form_id", "missing required key 'form_id'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "field", "fragment"), [c[1:] for c in FILE_CASES], ids=[c[0] for c in FILE_CASES]
)
def test_file_rules(data: Any, field: str, fragment: str) -> None:
    assert_problem(data, fragment, field, None, None)


@pytest.mark.parametrize(
    ("changes", "field", "link", "fragment"),
    [c[1:] for c in LINK_CASES],
    ids=[c[0] for c in LINK_CASES],
)
def test_link_rules(
    changes: dict[str, Any], field: str | None, link: object, fragment: str
) -> None:
    assert_problem(defs(act("interest"), **changes), fragment, field, link, None)


@pytest.mark.parametrize(
    ("kind", "changes", "field", "fragment"),
    [c[1:] for c in ACTION_CASES],
    ids=[c[0] for c in ACTION_CASES],
)
def test_action_rules(kind: str, changes: dict[str, Any], field: str | None, fragment: str) -> None:
    action_id = changes.get("id", "a1")
    assert_problem(defs(act(kind, **changes)), fragment, field, 101, action_id)


def test_missing_action_id_is_located_by_position() -> None:
    assert_problem(defs(act("interest", id=DROP)), "missing required key 'id'", "id", 101, "#1")


def test_link_entry_must_be_a_mapping() -> None:
    data = {"version": 1, "links": ["https://x.com"]}
    assert_problem(
        data, "expected a mapping with keys link, url, mailings, actions", None, "#1", None
    )


def test_duplicate_ids_name_both_places() -> None:
    data = {
        "version": 1,
        "links": [
            {"link": 101, "actions": [act("interest", "same"), act("script", "s1")]},
            {"url": "https://example.com/b", "actions": [act("selection", "same")]},
        ],
    }
    (problem,) = problems_of(data)
    assert problem["link"] == "https://example.com/b" and problem["action"] == "same"
    assert problem["field"] == "id"
    assert "action id 'same' is already used by action #1 of link 101" in str(problem["message"])


def test_duplicate_ids_are_reported_with_other_problems() -> None:
    data = defs(act("interest", "x"), act("interest", "x", scope="company"))
    messages = [str(p["message"]) for p in problems_of(data)]
    assert any("expected 'person' or 'contact'" in m for m in messages)
    assert any("action id 'x' is already used by action #1 of this link" in m for m in messages)


def test_every_problem_is_reported_at_once() -> None:
    data = {
        "version": 2,
        "links": [
            {
                "link": 101,
                "actions": [act("interest", scope="x"), act("script", "s", script="a:b")],
            },
            {"url": "https://example.com", "actions": [act("request", "r", priority="now")]},
        ],
    }
    problems = problems_of(data)
    assert [(p["link"], p["action"], p["field"]) for p in problems] == [
        (None, None, "version"),
        (101, "a1", "scope"),
        (101, "s", "script"),
        ("https://example.com", "r", "priority"),
    ]


def test_definition_error_is_a_value_error_with_one_line_per_problem() -> None:
    with pytest.raises(DefinitionError) as info:
        parse_definitions(defs(act("interest", scope="x"), act("script", "s", script="")))
    error = info.value
    assert isinstance(error, ValueError) and isinstance(error, LinksimError)
    lines = str(error).splitlines()
    assert len(lines) == len(error.problems) == 2
    assert lines[0] == (
        "<dict>: link 101, action 'a1', field 'scope': expected 'person' or 'contact'; found 'x'"
    )
    assert error.__cause__ is None and error.__suppress_context__


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (None, "found nothing (the file is empty)"),
        (
            [1, 2],
            "expected a mapping with keys version, bot_filter and links at the top; found list",
        ),
        ("version: 1", "found str"),
    ],
)
def test_the_top_must_be_a_mapping(data: Any, fragment: str) -> None:
    (problem,) = problems_of(data)
    assert fragment in str(problem["message"])


# --- files ---------------------------------------------------------------------------------------


def load_text(tmp_path: Path, name: str, text: str | bytes) -> list[dict[str, object]]:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(DefinitionError) as info:
        load_definitions(path)
    assert all(p["file"] == str(path) for p in info.value.problems)
    return info.value.problems


def test_yaml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    text = "version: 1\nlinks:\n  - link: 101\n    actions: [{id: a, type: interest\n"
    (problem,) = load_text(tmp_path, "bad.yaml", text)
    assert str(problem["message"]).startswith("invalid YAML at line 5, column 1:")


def test_yaml_indentation_error_gives_the_line(tmp_path: Path) -> None:
    text = "version: 1\nlinks:\n  - link: 101\n   actions: []\n"
    (problem,) = load_text(tmp_path, "bad.yml", text)
    assert "invalid YAML at line 4" in str(problem["message"])


def test_yaml_key_given_twice_is_refused(tmp_path: Path) -> None:
    text = "version: 1\nlinks: []\nlinks: []\n"
    (problem,) = load_text(tmp_path, "twice.yaml", text)
    assert problem["message"] == "invalid YAML at line 3, column 1: found the key 'links' twice"


def test_yaml_merge_keys_still_work(tmp_path: Path) -> None:
    text = """\
version: 1
links:
  - link: 101
    actions:
      - &base {id: a, type: follow_up, owner: 3, kind: meeting}
      - {<<: *base, id: b}
"""
    path = tmp_path / "merge.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_definitions(path).links[0].actions[1].kind == "meeting"


def test_yaml_reads_scalars_as_written(tmp_path: Path) -> None:
    # YAML 1.1 would read `yes` as true, 10:30 as 630 and 2026-03-31 as a date.
    text = """\
version: 1
links:
  - link: 101
    actions:
      - {id: a, type: set_field, field: answer, value: yes}
      - {id: b, type: set_field, field: day, value: 2026-03-31}
      - {id: c, type: follow_up, owner: 3, due: {at: 10:30}}
      - {id: d, type: set_field, field: n, value: 012}
      - {id: e, type: set_field, field: on, value: off}
"""
    path = tmp_path / "scalars.yaml"
    path.write_text(text, encoding="utf-8")
    a, b, c, d, e = load_definitions(path).links[0].actions
    assert (a.value, b.value, c.due.at, d.value, e.field, e.value) == (
        "yes",
        "2026-03-31",
        "10:30",
        12,
        "on",
        "off",
    )


def test_yaml_does_not_construct_python_objects(tmp_path: Path) -> None:
    text = "version: !!python/object/apply:os.system ['true']\nlinks: []\n"
    (problem,) = load_text(tmp_path, "evil.yaml", text)
    assert "invalid YAML at line 1" in str(problem["message"])


def test_json_syntax_error_gives_the_line(tmp_path: Path) -> None:
    (problem,) = load_text(tmp_path, "bad.json", '{"version": 1,\n "links": [,]}')
    assert str(problem["message"]).startswith("invalid JSON at line 2, column")


def test_json_key_given_twice_is_refused(tmp_path: Path) -> None:
    (problem,) = load_text(tmp_path, "twice.json", '{"version": 1, "version": 1, "links": []}')
    assert "found the key 'version' twice" in str(problem["message"])


def test_empty_yaml_file(tmp_path: Path) -> None:
    (problem,) = load_text(tmp_path, "empty.yaml", "# nothing yet\n")
    assert "the file is empty" in str(problem["message"])


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="file not found") as info:
        load_definitions(tmp_path / "nope.yaml")
    assert info.value.problems[0]["file"] == str(tmp_path / "nope.yaml")


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "defs.yaml"
    folder.mkdir()
    with pytest.raises(DefinitionError, match="found a directory"):
        load_definitions(folder)


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    (problem,) = load_text(tmp_path, "latin.yaml", b"version: 1\nlinks: [\xe9]\n")
    assert "cannot read the file as UTF-8 text" in str(problem["message"])


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "defs.txt"
    path.write_text("version: 1", encoding="utf-8")
    with pytest.raises(
        DefinitionError, match=r"expected a \.yaml, \.yml or \.json file; found '\.txt'"
    ):
        load_definitions(path)


def test_problems_in_a_file_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "defs.yaml"
    path.write_text("version: 1\nlinks:\n  - {link: 5, actions: [{id: x, type: nope}]}\n")
    with pytest.raises(DefinitionError) as info:
        load_definitions(path)
    assert str(info.value).startswith(f"{path}: link 5, action 'x': unknown action type 'nope'")


# --- templates and field values ------------------------------------------------------------------


def test_every_placeholder_is_allowed_and_braces_escape() -> None:
    text = " ".join("{" + p + "}" for p in PLACEHOLDERS) + " {{literal}}"
    parts = split_template(text)
    assert [name for _, name in parts] == [*PLACEHOLDERS, None]
    assert parts[-1] == (" {literal}", None)
    assert split_template("") == []
    assert split_template("no placeholders") == [("no placeholders", None)]


@pytest.mark.parametrize(
    ("value", "text"),
    [("x", "x"), (True, "true"), (False, "false"), (12, "12"), (2.5, "2.5"), (None, None)],
)
def test_value_text(value: Any, text: str | None) -> None:
    assert value_text(value) == text
    action = parse_definitions(defs(act("set_field", value=value))).links[0].actions[0]
    assert action.value_text == text


@pytest.mark.parametrize(
    ("field_type", "options", "text", "fragment"),
    [
        ("text", None, "anything", None),
        ("integer", None, "-12", None),
        ("integer", None, "12.5", "expected a whole number such as 42; found '12.5'"),
        ("decimal", None, "12.50", None),
        ("decimal", None, "1e3", None),
        ("decimal", None, "twelve", "expected a number such as 12.50"),
        ("date", None, "2026-02-28", None),
        ("date", None, "2026-02-30", "expected a date as YYYY-MM-DD"),
        ("date", None, "28.02.2026", "expected a date as YYYY-MM-DD"),
        ("boolean", None, "true", None),
        ("boolean", None, "yes", "expected true or false; found 'yes'"),
        ("list", ["gold", "silver"], "silver", None),
        ("list", ["gold", "silver"], "Gold", "expected one of 'gold', 'silver'; found 'Gold'"),
        ("list", None, "x", "(no options defined)"),
        ("integer", None, None, None),
        ("mystery", None, "x", "which linksim does not know"),
    ],
)
def test_value_problem(
    field_type: str, options: list[str] | None, text: str | None, fragment: str | None
) -> None:
    problem = value_problem("f", field_type, options, text)
    if fragment is None:
        assert problem is None
    else:
        assert problem is not None and fragment in problem


# --- JSON Schema ---------------------------------------------------------------------------------


def test_schema_is_json_and_covers_every_action_type() -> None:
    schema = json.loads(json.dumps(definitions_schema()))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "linksim definitions" and schema["description"]
    action_items = schema["$defs"]["Link"]["properties"]["actions"]["items"]
    assert sorted(action_items["discriminator"]["mapping"]) == sorted(MINIMAL)
    for name, cls in ld.ACTION_TYPES.items():
        definition = schema["$defs"][cls.__name__]
        assert definition["description"], name
        assert definition["required"][:2] == ["id", "type"]
        assert definition["properties"]["type"]["const"] == name
        assert definition["additionalProperties"] is False
    fires = {
        n: schema["$defs"][c.__name__]["properties"]["fire"]["default"]
        for n, c in ld.ACTION_TYPES.items()
    }
    assert fires["follow_up"] == fires["request"] == fires["script"] == "once_per_mailing"
    assert fires["interest"] == fires["response"] == "every_click"
    template = schema["$defs"]["RequestAction"]["properties"]["title"]
    assert "{first_name}" in template["description"]


def test_schema_accepts_good_files_and_rejects_bad_ones(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    path = tmp_path / "defs.yaml"
    path.write_text(SPEC_YAML, encoding="utf-8")
    validator = jsonschema.Draft202012Validator(definitions_schema())
    good = load_definitions(path)
    validator.validate(good.model_dump(mode="json"))
    validator.validate(defs(*(act(kind, f"a-{kind}") for kind in MINIMAL)))
    for bad in (
        defs(act("interest", type="intrest")),
        defs(act("interest", scope="x")),
        defs(act("follow_up", owner="bob")),
        defs(act("script", script="os:system")),
        defs(act("follow_up", due={"at": "25:00"})),
        {"version": 2, "links": []},
    ):
        assert not validator.is_valid(bad), bad


# --- round trips ---------------------------------------------------------------------------------

names = st.text(min_size=1, max_size=12)
ids = st.integers(min_value=0, max_value=2**62)
templates = st.lists(
    st.one_of(
        st.sampled_from(["{" + p + "}" for p in PLACEHOLDERS] + ["{{", "}}"]),
        st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=8),
    ),
    max_size=5,
).map("".join)
owners = st.one_of(ids, st.builds(lambda t: {"team": t}, names))
scalars = st.one_of(
    st.text(max_size=10),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
fires = st.sampled_from(["once_per_mailing", "once", "every_click"])


def optional(**keys: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=keys)


action_bodies = st.one_of(
    st.tuples(
        st.sampled_from(["interest", "selection", "project"]),
        st.fixed_dictionaries({"add": st.lists(names, min_size=1, max_size=3)}),
        optional(fire=fires),
    ),
    st.tuples(
        st.just("interest"),
        st.fixed_dictionaries({"remove": st.lists(names, min_size=1, max_size=3)}),
        optional(scope=st.sampled_from(["person", "contact"])),
    ),
    st.tuples(
        st.just("set_field"),
        st.fixed_dictionaries({"field": names, "value": scalars}),
        optional(fire=fires),
    ),
    st.tuples(
        st.just("follow_up"),
        st.fixed_dictionaries({"owner": owners}),
        optional(
            kind=st.sampled_from(["task", "meeting"]),
            task_type=names,
            description=templates,
            project=names,
            created_by=ids,
            fallback=ids,
            due=optional(
                business_days=st.integers(0, 30),
                at=st.sampled_from(["00:00", "09:00", "23:59", "7:30"]),
                next_free_slot=st.booleans(),
            ),
            duration_minutes=st.integers(1, 600),
            fire=fires,
        ),
    ),
    st.tuples(
        st.just("request"),
        st.fixed_dictionaries({"title": templates}),
        optional(
            priority=st.sampled_from(["low", "medium", "high", "critical"]),
            category=names,
            owner=st.one_of(owners, st.sampled_from(["unassigned", "contact_owner"])),
            fallback=ids,
        ),
    ),
    st.tuples(
        st.just("script"),
        st.fixed_dictionaries(
            {"script": st.from_regex(r"[a-z_][a-z0-9_.-]{0,10}", fullmatch=True)}
        ),
        optional(fire=fires),
    ),
    st.tuples(
        st.just("response"),
        st.one_of(
            st.fixed_dictionaries(
                {
                    "redirect": st.from_regex(
                        r"https?://[a-z]{1,8}\.example/[a-z0-9/]{0,8}", fullmatch=True
                    )
                }
            ),
            st.fixed_dictionaries({"feedback_text": templates}),
            st.fixed_dictionaries(
                {
                    "form": st.fixed_dictionaries(
                        {"form_id": names},
                        optional={
                            "prefill": st.lists(
                                st.sampled_from(["email", "first_name", "tier"]), max_size=3
                            )
                        },
                    )
                }
            ),
        ),
        optional(fire=fires),
    ),
)


@st.composite
def definitions_data(draw: st.DrawFn) -> dict[str, Any]:
    links = []
    counter = 0
    for _ in range(draw(st.integers(1, 3))):
        actions = []
        for kind, body, extra in draw(st.lists(action_bodies, min_size=1, max_size=4)):
            counter += 1
            actions.append({"id": f"action-{counter}", "type": kind, **body, **extra})
        where = draw(
            st.one_of(
                st.builds(lambda i: {"link": i}, ids),
                st.builds(
                    lambda u: {"url": u},
                    st.from_regex(r"https://[a-z]{1,8}\.example/", fullmatch=True),
                ),
            )
        )
        mailings = draw(optional(mailings=st.lists(ids, min_size=1, max_size=3)))
        links.append({**where, **mailings, "actions": actions})
    bot_filter = draw(
        optional(
            bot_filter=optional(
                enabled=st.booleans(),
                min_seconds_after_delivery=st.integers(0, 60),
                max_links_per_second=st.integers(1, 10),
                user_agents=st.lists(names, max_size=2),
                ip_ranges=st.lists(
                    st.sampled_from(["10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32"]), max_size=2
                ),
            )
        )
    )
    return {"version": 1, **bot_filter, "links": links}


@settings(max_examples=150, deadline=None)
@given(definitions_data())
def test_round_trip_through_json(data: dict[str, Any]) -> None:
    parsed = parse_definitions(data)
    dumped = parsed.model_dump(mode="json")
    again = parse_definitions(json.loads(json.dumps(dumped)))
    assert again == parsed
    assert again.sha256 == parsed.sha256
    assert parse_definitions(parsed.model_dump()) == parsed


def test_sha256_ignores_spelling_of_defaults_but_not_content() -> None:
    short = parse_definitions(defs(act("follow_up")))
    spelled_out = parse_definitions(
        defs(act("follow_up", kind="task", due={"at": "9:00"}, fire="once_per_mailing"))
    )
    assert short.sha256 == spelled_out.sha256 and len(short.sha256) == 64
    assert short.sha256 != parse_definitions(defs(act("follow_up", owner=4))).sha256


def test_public_names() -> None:
    assert sorted(ld.__all__) == sorted(set(ld.__all__))
    for name in ld.__all__:
        assert getattr(ld, name) is not None
    assert issubclass(ld.Definitions, Definitions)
