"""The tables of SPEC §2, declared once: the DDL and the loader's validation both come from here.

Keys are declared as PRIMARY KEY on the tables that stay small (associates, contacts, persons,
mailings, links, runs). The tables that grow with the clicks — the events (`mail.recipient`,
`mail.click`, `mail.open`), what actions write (`crm.person_field`, the membership tables,
`crm.appointment`, `crm.ticket`, `linksim.removal`) and the logs — keep their key as a declared
`Table.key` only: an ART index of that size does not fit the memory budget of a backfill (at
100M clicks, `crm.person_field` alone has 50M rows), and every write already knows whether its row
exists. The loader enforces uniqueness itself because it must classify repeats anyway (duplicate
or conflict, SPEC §4.1); the engine updates rows it found and appends the others.
References are checked by the loader, not by DuckDB foreign keys, so that a
bad row is quarantined with a reason instead of failing the whole load.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["INPUT_TABLES", "SCHEMA_VERSION", "TABLES", "Column", "Table", "ddl", "table"]

SCHEMA_VERSION = 4


@dataclass(frozen=True)
class Column:
    """One column: its DuckDB type, whether it may be NULL, and the rule its values must keep."""

    name: str
    type: str = "BIGINT"
    nullable: bool = True
    one_of: tuple[str, ...] = ()  # allowed values (a CHECK constraint and a loader rule)
    min_value: int | None = None  # for integers: smallest allowed value
    default: str | None = None  # a SQL literal
    references: str | None = None  # "schema.table.column", checked by the loader
    may_be_future: bool = False  # for timestamps: a future value is a plan, not an error
    by_linksim: bool = False  # linksim's own bookkeeping: a load that does not give it clears it
    compression: str | None = None  # DuckDB's storage of the column, when its own choice is slow


@dataclass(frozen=True)
class Table:
    """One table: columns in order, its key, and whether DuckDB enforces the key."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    unique: tuple[str, ...] = ()
    enforce_key: bool = True
    immutable: bool = False  # a stored row never changes: a changed repeat is quarantined
    input: bool = True  # loadable with `linksim load`
    doc: str = ""
    extra_ddl: tuple[str, ...] = field(default=())
    added_in: int = 1  # the schema version that added it: an older warehouse lacks its folder

    @property
    def schema(self) -> str:
        return self.name.split(".")[0]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _id(
    name: str, *, nullable: bool = False, references: str | None = None, by_linksim: bool = False
) -> Column:
    return Column(
        name, "BIGINT", nullable=nullable, min_value=0, references=references, by_linksim=by_linksim
    )


# The click whose action last wrote a value or membership; NULL = a manual edit (SPEC §4.4).
SOURCE_CLICK = _id("source_click_id", nullable=True, by_linksim=True)


ASSOCIATE = "crm.associate.associate_id"
CONTACT = "crm.contact.contact_id"
PERSON = "crm.person.person_id"
MAILING = "mail.mailing.mailing_id"
LINK = "mail.link.link_id"

TABLES: tuple[Table, ...] = (
    # --- crm -------------------------------------------------------------------------------------
    Table(
        "crm.associate",
        (
            _id("associate_id"),
            Column("name", "VARCHAR", nullable=False),
            Column("team", "VARCHAR"),
            Column("daily_capacity", "INTEGER", min_value=0),
            Column("timezone", "VARCHAR", nullable=False, default="'UTC'"),
        ),
        key=("associate_id",),
        doc="Sales reps and other users who own contacts, follow-ups and tickets.",
    ),
    Table(
        "crm.contact",
        (
            _id("contact_id"),
            Column("name", "VARCHAR", nullable=False),
            Column("category", "VARCHAR"),
            Column("business", "VARCHAR"),
            Column("country", "VARCHAR"),
            _id("owner_id", nullable=True, references=ASSOCIATE),
        ),
        key=("contact_id",),
        doc="Companies.",
    ),
    Table(
        "crm.person",
        (
            _id("person_id"),
            _id("contact_id", nullable=True, references=CONTACT),
            Column("first_name", "VARCHAR"),
            Column("last_name", "VARCHAR"),
            Column("email", "VARCHAR"),
            _id("owner_id", nullable=True, references=ASSOCIATE),
        ),
        key=("person_id",),
        doc="People, the recipients of mailings.",
    ),
    Table(
        "crm.extra_field",
        (
            Column("name", "VARCHAR", nullable=False),
            Column(
                "type",
                "VARCHAR",
                nullable=False,
                one_of=("text", "integer", "decimal", "date", "boolean", "list"),
            ),
            Column("options", "VARCHAR[]"),
        ),
        key=("name",),
        doc="Person extra fields that `set_field` may write.",
    ),
    Table(
        "crm.person_field",
        (
            _id("person_id", references=PERSON),
            Column("field", "VARCHAR", nullable=False, references="crm.extra_field.name"),
            Column("value", "VARCHAR"),
            Column("set_at", "TIMESTAMP", nullable=False),
            SOURCE_CLICK,
        ),
        key=("person_id", "field"),
        enforce_key=False,
        doc="Extra field values; `set_at` is the clock of last-writer-wins.",
    ),
    *(
        Table(
            f"crm.{kind}",
            (_id(f"{kind}_id"), Column("name", "VARCHAR", nullable=False)),
            key=(f"{kind}_id",),
            unique=("name",),
            doc=f"{kind.capitalize()}s, by unique name.",
        )
        for kind in ("interest", "selection", "project")
    ),
    Table(
        "crm.person_interest",
        (
            _id("person_id", references=PERSON),
            _id("interest_id", references="crm.interest.interest_id"),
            Column("since", "TIMESTAMP", nullable=False),
            SOURCE_CLICK,
        ),
        key=("person_id", "interest_id"),
        enforce_key=False,
    ),
    Table(
        "crm.contact_interest",
        (
            _id("contact_id", references=CONTACT),
            _id("interest_id", references="crm.interest.interest_id"),
            Column("since", "TIMESTAMP", nullable=False),
            SOURCE_CLICK,
        ),
        key=("contact_id", "interest_id"),
        enforce_key=False,
    ),
    Table(
        "crm.selection_member",
        (
            _id("selection_id", references="crm.selection.selection_id"),
            _id("person_id", references=PERSON),
            Column("since", "TIMESTAMP", nullable=False),
            SOURCE_CLICK,
        ),
        key=("selection_id", "person_id"),
        enforce_key=False,
    ),
    Table(
        "crm.project_member",
        (
            _id("project_id", references="crm.project.project_id"),
            _id("person_id", references=PERSON),
            Column("since", "TIMESTAMP", nullable=False),
            SOURCE_CLICK,
        ),
        key=("project_id", "person_id"),
        enforce_key=False,
    ),
    Table(
        "crm.appointment",
        (
            Column("appointment_id", "VARCHAR", nullable=False),
            Column("kind", "VARCHAR", nullable=False, one_of=("task", "meeting")),
            Column("task_type", "VARCHAR"),
            _id("person_id", nullable=True, references=PERSON),
            _id("contact_id", nullable=True, references=CONTACT),
            _id("project_id", nullable=True, references="crm.project.project_id"),
            _id("owner_id", nullable=True, references=ASSOCIATE),
            _id("created_by_id", nullable=True, references=ASSOCIATE),
            Column("description", "VARCHAR"),
            Column("starts_at", "TIMESTAMP", may_be_future=True),
            Column("duration_minutes", "INTEGER", min_value=0),
            Column("source_action", "VARCHAR"),
            _id("source_click_id", nullable=True),
            _id("source_mailing_id", nullable=True),
            Column("due_at", "TIMESTAMP", may_be_future=True, by_linksim=True),
            # SuperOffice's IsAssignment: the owner is asked to accept it (NULL: made before
            # linksim recorded it)
            Column("assignment", "BOOLEAN", default="false"),
        ),
        key=("appointment_id",),
        enforce_key=False,
        doc="Follow-ups (tasks and meetings); existing ones count against daily capacity.",
    ),
    Table(
        "crm.ticket",
        (
            Column("ticket_id", "VARCHAR", nullable=False),
            Column("title", "VARCHAR", nullable=False),
            Column(
                "priority", "VARCHAR", nullable=False, one_of=("low", "medium", "high", "critical")
            ),
            Column("category", "VARCHAR"),
            _id("owner_id", nullable=True),
            Column("status", "VARCHAR", nullable=False, one_of=("open",), default="'open'"),
            _id("person_id", nullable=True),
            Column("created_at", "TIMESTAMP", nullable=False),
            Column("source_action", "VARCHAR"),
            _id("source_click_id", nullable=True),
            _id("source_mailing_id", nullable=True),
        ),
        key=("ticket_id",),
        enforce_key=False,
        input=False,
        doc="Support requests opened by `request` actions.",
    ),
    # --- mail ------------------------------------------------------------------------------------
    Table(
        "mail.mailing",
        (
            _id("mailing_id"),
            Column("name", "VARCHAR", nullable=False),
            Column("sent_at", "TIMESTAMP"),
        ),
        key=("mailing_id",),
        doc="Mailings (SuperOffice shipments); `sent_at` NULL means planned.",
    ),
    Table(
        "mail.link",
        (_id("link_id"), Column("url", "VARCHAR", nullable=False), Column("name", "VARCHAR")),
        key=("link_id",),
        doc="Tracked links; one link may serve several mailings.",
    ),
    Table(
        "mail.mailing_link",
        (_id("mailing_id", references=MAILING), _id("link_id", references=LINK)),
        key=("mailing_id", "link_id"),
    ),
    Table(
        "mail.recipient",
        (
            _id("mailing_id", references=MAILING),
            _id("person_id", references=PERSON),
            Column("delivered_at", "TIMESTAMP"),
        ),
        key=("mailing_id", "person_id"),
        enforce_key=False,
        immutable=True,
    ),
    Table(
        "mail.click",
        (
            _id("click_id"),
            _id("mailing_id", references=MAILING),
            _id("link_id", references=LINK),
            _id("person_id", references=PERSON),
            Column("clicked_at", "TIMESTAMP", nullable=False),
            Column("user_agent", "VARCHAR"),
            Column("ip", "VARCHAR"),
        ),
        key=("click_id",),
        enforce_key=False,
        immutable=True,
        doc="Clicks on tracked links: the input of every run.",
    ),
    Table(
        "mail.open",
        (
            _id("open_id"),
            _id("mailing_id", references=MAILING),
            _id("person_id", references=PERSON),
            Column("opened_at", "TIMESTAMP", nullable=False),
            Column("user_agent", "VARCHAR"),
        ),
        key=("open_id",),
        enforce_key=False,
        immutable=True,
        doc="Tracking-image views: never fire actions; inform bot filtering and simulation.",
    ),
    Table(
        "mail.link_event",
        (
            _id("event_id"),
            Column("kind", "VARCHAR", nullable=False, one_of=("unsubscribe", "consent")),
            _id("mailing_id", references=MAILING),
            _id("link_id", nullable=True, references=LINK),
            _id("person_id", references=PERSON),
            Column("occurred_at", "TIMESTAMP", nullable=False),
            Column("user_agent", "VARCHAR"),
        ),
        key=("event_id",),
        enforce_key=False,
        immutable=True,
        doc="Unsubscribe and consent clicks (SuperOffice link types 3 and 4): kept as their own "
        "events, never as link clicks, so they fire no action.",
    ),
    # --- linksim ---------------------------------------------------------------------------------
    Table(
        "linksim.run",
        (
            _id("run_id"),
            Column(
                "mode", "VARCHAR", nullable=False, one_of=("preview", "apply", "undo", "segment")
            ),
            Column("started_at", "TIMESTAMP", nullable=False),
            Column("finished_at", "TIMESTAMP"),
            Column(
                "status",
                "VARCHAR",
                nullable=False,
                one_of=("running", "ok", "failed", "interrupted", "undone"),
            ),
            Column("definitions_sha256", "VARCHAR"),
            Column("clicks_seen", "BIGINT", min_value=0),
            Column("clicks_eligible", "BIGINT", min_value=0),
            Column("clicks_bot", "BIGINT", min_value=0),
            Column("clicks_duplicate", "BIGINT", min_value=0),
            Column("clicks_quarantined", "BIGINT", min_value=0),
            Column("options", "JSON"),
        ),
        key=("run_id",),
        input=False,
        doc="One row per preview, apply, undo or saved segment, with the accounting of SPEC §4.1.",
    ),
    Table(
        "linksim.change",
        (
            _id("run_id"),
            _id("click_id", nullable=True),
            Column("action_id", "VARCHAR"),
            _id("person_id", nullable=True),
            Column(
                "target_kind",
                "VARCHAR",
                nullable=False,
                one_of=("field", "interest", "selection", "project", "appointment", "ticket"),
            ),
            Column("target", "VARCHAR", nullable=False),
            Column("old_value", "VARCHAR"),
            Column("new_value", "VARCHAR"),
            Column("changed_at", "TIMESTAMP", nullable=False),
            _id("contact_id", nullable=True),
            Column("cause", "VARCHAR"),
        ),
        enforce_key=False,
        input=False,
        doc="Every effective change a run made, with the old and new value. `cause` is NULL"
        " for a change a click made, and says why otherwise: a reversal (the click is now a"
        " bot's) or an undo.",
    ),
    Table(
        "linksim.journal",
        (
            _id("run_id"),
            Column("batch_no", "INTEGER", nullable=False),
            Column("table_name", "VARCHAR", nullable=False),
            # JSON text, nearly every value unique: DuckDB's default (a dictionary of FSST
            # strings) spends a quarter of the journal's insert on them, and zstd stores
            # them in about half the blocks (docs/BENCHMARKS.md)
            Column("key", "VARCHAR", nullable=False, compression="zstd"),
            Column("before", "JSON", compression="zstd"),
            _id("writer_click", nullable=True),
            Column("after_exists", "BOOLEAN", nullable=False),
            _id("after_click", nullable=True),
            Column("action_id", "VARCHAR"),
            Column("target_kind", "VARCHAR"),
            Column("target", "VARCHAR"),
            _id("person_id", nullable=True),
            _id("contact_id", nullable=True),
            Column("value_before", "VARCHAR"),
            Column("value_after", "VARCHAR"),
        ),
        enforce_key=False,
        input=False,
        doc="The row before each write of a run (NULL: there was none), who wrote it and what"
        " it left (the row exists or not, with which source click): what `linksim undo` and"
        " the reversal of bot clicks restore.",
    ),
    Table(
        "linksim.response",
        (
            _id("click_id"),
            Column("action_id", "VARCHAR", nullable=False),
            Column("kind", "VARCHAR", nullable=False, one_of=("redirect", "feedback", "form")),
            Column("url", "VARCHAR"),
            Column("text", "VARCHAR"),
            Column("form_id", "VARCHAR"),
            Column("prefill", "JSON"),
            _id("run_id", nullable=True),
        ),
        key=("click_id", "action_id"),
        enforce_key=False,
        input=False,
        doc="What each click showed: a redirect, a feedback text or a prefilled form.",
    ),
    Table(
        "linksim.script_run",
        (
            _id("run_id"),
            Column("action_id", "VARCHAR", nullable=False),
            Column("script", "VARCHAR", nullable=False),
            Column("clicks", "BIGINT", min_value=0),
            Column("status", "VARCHAR", nullable=False, one_of=("ok", "error", "skipped")),
            Column("error", "VARCHAR"),
            Column("seconds", "DOUBLE"),
        ),
        enforce_key=False,
        input=False,
        doc="One row per script call.",
    ),
    Table(
        "linksim.bot_click",
        (
            _id("click_id"),
            Column(
                "reason",
                "VARCHAR",
                nullable=False,
                one_of=("user_agent", "ip_range", "too_soon", "burst"),
            ),
            Column("detail", "VARCHAR"),
            _id("run_id"),
        ),
        key=("click_id",),
        enforce_key=False,
        input=False,
        doc="Why a click counts as a bot's: the first rule that caught it and the evidence, as"
        " the latest apply over its time classified it (a reclassification rewrites it).",
    ),
    Table(
        "linksim.removal",
        (
            Column(
                "target_kind",
                "VARCHAR",
                nullable=False,
                one_of=("interest", "selection", "project"),
            ),
            Column("scope", "VARCHAR", nullable=False, one_of=("person", "contact")),
            _id("owner_id"),
            _id("target_id"),
            Column("removed_at", "TIMESTAMP", nullable=False),
            _id("source_click_id", nullable=True),
            _id("run_id", nullable=True),
        ),
        key=("target_kind", "scope", "owner_id", "target_id"),
        enforce_key=False,
        input=False,
        doc="The clock of each membership linksim removed, so an older add cannot undo it.",
    ),
    Table(
        "linksim.state_writer",
        (
            Column(
                "target_kind",
                "VARCHAR",
                nullable=False,
                one_of=("field", "interest", "selection", "project"),
            ),
            Column("scope", "VARCHAR", nullable=False, one_of=("person", "contact")),
            _id("owner_id"),
            Column("target_key", "VARCHAR", nullable=False),
            Column("action_id", "VARCHAR", nullable=False),
            _id("source_click_id"),
            _id("run_id", nullable=True),
        ),
        key=("target_kind", "scope", "owner_id", "target_key"),
        enforce_key=False,
        input=False,
        added_in=4,
        doc="The action whose op last wrote a target that two actions of one click write"
        " differently (its `target_key`: the field's name, or the interest's, selection's or"
        " project's id). A tie on that click's clock, when its batches run in another order,"
        " goes to the action listed later (docs/SEMANTICS.md §3).",
    ),
    Table(
        "linksim.batch",
        (
            Column("job", "VARCHAR", nullable=False),
            Column("since", "TIMESTAMP", nullable=False),
            Column("until", "TIMESTAMP", nullable=False),
            _id("run_id"),
            Column("batch_no", "INTEGER", nullable=False, min_value=0),
            Column("fingerprint", "VARCHAR", nullable=False),
            Column("clicks_seen", "BIGINT", min_value=0),
            Column("clicks_eligible", "BIGINT", min_value=0),
            Column("clicks_bot", "BIGINT", min_value=0),
            Column("clicks_duplicate", "BIGINT", min_value=0),
            Column("clicks_quarantined", "BIGINT", min_value=0),
            Column("changes", "BIGINT", min_value=0),
            Column("committed_at", "TIMESTAMP", nullable=False),
            Column("seconds", "DOUBLE"),
        ),
        key=("job", "since", "until"),
        input=False,
        doc="One row per committed batch of an apply: a re-run of the same job (definitions,"
        " scope, batch size) skips a window whose clicks have the same fingerprint.",
    ),
    Table(
        "linksim.load",
        (
            _id("load_id"),
            Column("table_name", "VARCHAR", nullable=False),
            Column("source", "VARCHAR", nullable=False),
            Column("loaded_at", "TIMESTAMP", nullable=False),
            Column("rows_seen", "BIGINT", min_value=0),
            Column("rows_loaded", "BIGINT", min_value=0),
            Column("rows_updated", "BIGINT", min_value=0),
            Column("rows_duplicate", "BIGINT", min_value=0),
            Column("rows_quarantined", "BIGINT", min_value=0),
        ),
        key=("load_id",),
        input=False,
        doc="One row per `linksim load`: its accounting (seen = loaded + updated + duplicate"
        " + quarantined).",
    ),
    Table(
        "linksim.quarantine",
        (
            _id("load_id", nullable=True),
            Column("source", "VARCHAR", nullable=False),
            Column("table_name", "VARCHAR", nullable=False),
            _id("row_number", nullable=True),
            Column("raw", "JSON", nullable=False),
            Column("reason", "VARCHAR", nullable=False),
            Column("loaded_at", "TIMESTAMP", nullable=False),
        ),
        enforce_key=False,
        input=False,
        doc="Rejected input rows: the raw row as JSON, where it came from, and why.",
    ),
    Table(
        "linksim.meta",
        (Column("key", "VARCHAR", nullable=False), Column("value", "VARCHAR")),
        key=("key",),
        input=False,
        doc="The schema version, so a later linksim can recognise and migrate this file.",
    ),
)

_BY_NAME = {t.name: t for t in TABLES}
INPUT_TABLES: tuple[str, ...] = tuple(t.name for t in TABLES if t.input)


def table(name: str) -> Table:
    """The declared table called ``name`` (``schema.table``).

    >>> table("mail.click").key
    ('click_id',)
    """
    return _BY_NAME[name]


def _column_ddl(column: Column) -> str:
    parts = [column.name, column.type]
    if column.compression:
        parts.append(f"USING COMPRESSION {column.compression}")
    if not column.nullable:
        parts.append("NOT NULL")
    if column.default is not None:
        parts.append(f"DEFAULT {column.default}")
    if column.one_of:
        allowed = ", ".join("'" + v.replace("'", "''") + "'" for v in column.one_of)
        parts.append(f"CHECK ({column.name} IN ({allowed}))")
    if column.min_value is not None:
        parts.append(f"CHECK ({column.name} >= {int(column.min_value)})")
    return " ".join(parts)


def ddl(t: Table) -> str:
    """The ``CREATE TABLE IF NOT EXISTS`` statement for one declared table.

    >>> print(ddl(table("crm.interest")))
    CREATE TABLE IF NOT EXISTS crm.interest (
      interest_id BIGINT NOT NULL CHECK (interest_id >= 0),
      name VARCHAR NOT NULL,
      PRIMARY KEY (interest_id),
      UNIQUE (name)
    )
    """
    lines = [_column_ddl(c) for c in t.columns]
    if t.key and t.enforce_key:
        lines.append(f"PRIMARY KEY ({', '.join(t.key)})")
    if t.unique:
        lines.append(f"UNIQUE ({', '.join(t.unique)})")
    body = ",\n  ".join(lines)
    return f"CREATE TABLE IF NOT EXISTS {t.name} (\n  {body}\n)"
