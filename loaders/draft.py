"""`dealgraph mapping draft DIR`: a first mapping for an export nobody wrote one for.

From the file names, headers and a sample of values (`loaders.draft_profile`)
the draft decides which file holds deals, accounts, products, reps or
contacts, each file's key, which columns refer to another file (by id, or by
name compared as identity resolution compares names), which dates, amounts
and won / lost values there are, and writes a mapping YAML that loads.
Every choice it guessed is marked `# GUESS`, every one it could not make
`# UNDECIDED`, so a person reviews those lines first. An export a shipped
mapping fits (Salesforce, HubSpot, Dynamics with their own column names) is
recognised and drafted as that mapping.

Shapes it knows beyond the shipped ones: one denormalised pipeline table
whose accounts, products and reps are names (with or without side tables of
them); a leads file with a closed-deals file, where a lead is won when its
id appears in the closed file; a flat table of opportunities without dates
(then every date is the day of the draft, and the file says that a
time-correct model needs a time column).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from graph.store import InvalidInput
from loaders.draft_profile import Column, FileProfile, fold, profile_file
from loaders.lookup import normalize
from loaders.mapping import MAPPINGS_DIR, parse_mapping
from ontology.names import Label, Rel

#: Words in a file name (or header) that say what a file holds, in the order they are tried.
ENTITY_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (Label.DEAL, ("opportunit", "deal", "pipeline", "lead", "funnel", "mql")),
    (Label.ACCOUNT, ("account", "compan", "organi", "customer", "client")),
    (Label.CONTACT, ("contact", "person", "people")),
    (Label.PRODUCT, ("product", "sku", "catalog", "item")),
    (Label.REP, ("user", "owner", "rep", "agent", "team", "seller", "staff", "employee")),
)
CLOSED_WORDS = ("closed", "won", "converted", "conversion")
#: The relation from a deal (or contact, or account) to a node it names.
RELATION_TO = {
    (Label.DEAL, Label.ACCOUNT): Rel.FOR_ACCOUNT,
    (Label.DEAL, Label.REP): Rel.OWNED_BY,
    (Label.DEAL, Label.PRODUCT): Rel.FOR_PRODUCT,
    (Label.DEAL, Label.CONTACT): Rel.INVOLVES,
    (Label.CONTACT, Label.ACCOUNT): Rel.WORKS_AT,
    (Label.ACCOUNT, Label.ACCOUNT): Rel.SUBSIDIARY_OF,
}
#: Header words of a node's properties (folded), per node type.
PROPERTY_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    Label.ACCOUNT: {
        "industry": ("industry", "sector", "vertical"),
        "country": ("country", "officelocation", "region"),
        "employees": ("employees", "headcount", "numberofemployees"),
        "annual_revenue": ("revenue",),
        "website": ("website", "domain", "url"),
    },
    Label.REP: {"email": ("email",), "team": ("team", "regionaloffice", "office", "department"), "title": ("title",)},
    Label.PRODUCT: {"code": ("code", "sku"), "family": ("family", "series", "category")},
    Label.CONTACT: {"email": ("email",), "title": ("title", "jobtitle", "position")},
    Label.DEAL: {
        "stage": ("stage", "dealstage", "phase"),
        "lead_source": ("source", "origin", "leadsource"),
        "deal_type": ("type", "dealtype"),
    },
}
CREATED_WORDS = ("creat", "engage", "open", "firstcontact", "start", "added")
CLOSE_WORDS = ("close", "won", "lost", "decision", "end")
AMOUNT_WORDS = ("amount", "value", "revenue", "price", "total")
NAME_WORDS = ("name", "title", "topic", "subject")
#: Matches needed before a column is taken to refer to another file's keys or names.
REFERENCE_SHARE = 0.8


@dataclass
class Table:
    profile: FileProfile
    entity: str | None
    key: str | None = None
    name: str | None = None
    closed_of: Table | None = None  # a closed-deals file: the deals file its key refers to


@dataclass
class Draft:
    text: str
    guesses: int
    undecided: list[str] = field(default_factory=list)
    shipped: str | None = None  # the shipped mapping the export fits, if any


def draft_mapping(source_dir: Path, today: datetime | None = None) -> Draft:
    """A commented mapping YAML for the CSV files in `source_dir`.

    Raises:
        InvalidInput: no CSV files, or none that holds deals.
    """
    files = sorted(p for p in Path(source_dir).glob("*.csv") if p.is_file())
    if not files:
        raise InvalidInput(f"{source_dir}: no CSV files to draft a mapping from")
    shipped = _shipped_fit(source_dir, files)
    if shipped is not None:
        return shipped
    tables = _classify([profile_file(p) for p in files if p.stat().st_size > 0])
    if not any(t.entity == Label.DEAL and t.closed_of is None for t in tables):
        names = ", ".join(p.name for p in files)
        raise InvalidInput(
            f"{source_dir}: no file looks like deals or opportunities ({names}): write the mapping "
            "by hand from docs/mappings.md"
        )
    return _Writer(tables, (today or datetime.now(UTC)).date().isoformat()).write(source_dir)


# ---- recognising a shipped mapping


def _shipped_fit(source_dir: Path, files: list[Path]) -> Draft | None:
    from loaders.read import source_header

    present = {p.name for p in files}
    for path in sorted(MAPPINGS_DIR.glob("*.yaml")):
        mapping = parse_mapping(path)
        if mapping.name == "generic":
            continue  # plain names: better drafted column by column
        needed = [s for s in mapping.sources if not s.optional]
        if not needed or any(s.file not in present for s in needed):
            continue
        if all(
            s.required_columns() <= set(source_header(s, source_dir))
            for s in needed
            if s.file in present
        ):
            text = (
                f"# GUESS: this export has the files and columns of the shipped `{mapping.name}` mapping, so this\n"
                f"# is that mapping as it ships (`dealgraph load DIR --mapping {mapping.name}` does the same).\n"
                + path.read_text("utf-8")
            )
            return Draft(text, 1, shipped=mapping.name)
    return None


# ---- what each file holds


def _entity_of(name: str) -> str | None:
    stem = fold(Path(name).stem)
    return next((entity for entity, words in ENTITY_WORDS if any(w in stem for w in words)), None)


def _classify(profiles: list[FileProfile]) -> list[Table]:
    tables = [Table(p, _entity_of(p.file)) for p in profiles]
    for t in tables:
        t.key = _key_of(t)
        t.name = _name_of(t)
    deals = [t for t in tables if t.entity == Label.DEAL]
    for t in deals:
        stem = fold(Path(t.profile.file).stem)
        if any(w in stem for w in CLOSED_WORDS):
            # a closed-deals file refers to the deals of another file by their key
            t.closed_of = next(
                (d for d in deals if d is not t and d.key and _refers(t.profile, d, by_name=False)[0]), None
            )
    return tables


def _key_of(t: Table) -> str | None:
    cols = t.profile.columns
    unique = [c for c in cols.values() if c.unique and c.date_format is None]
    entity_words = dict(ENTITY_WORDS).get(t.entity or "", ())
    stem = fold(Path(t.profile.file).stem)

    def rank(c: Column) -> tuple[int, int]:
        f = fold(c.name)
        if f in ("id", "recordid") or f == stem + "id" or (f.endswith("id") and any(w in f for w in entity_words)):
            return 0, list(cols).index(c.name)
        if f.endswith("id"):
            return 1, list(cols).index(c.name)
        return 2, list(cols).index(c.name)

    if unique:
        return min(unique, key=rank).name
    # a side table keyed by name may repeat nothing yet have gaps: the first column that names the entity
    return next((c.name for c in cols.values() if any(w in fold(c.name) for w in entity_words)), None)


def _name_of(t: Table) -> str | None:
    words = dict(ENTITY_WORDS).get(t.entity or "", ())
    for c in t.profile.columns.values():
        f = fold(c.name)
        # "account", "product_name", "Topic"; not "deal_stage", which only starts like the entity
        if (
            c.name != t.key
            and c.number is None
            and c.date_format is None
            and not c.outcome
            and (any(w in f for w in NAME_WORDS) or any(f.startswith(w) and len(f) <= len(w) + 4 for w in words))
        ):
            return c.name
    return t.key


def _refers(
    profile: FileProfile, target: Table, by_name: bool, skip: frozenset = frozenset()
) -> tuple[str | None, str]:
    """The column of `profile` (not in `skip`) whose values name `target`'s nodes (by id, or by name), and how."""
    named_by = target.name if by_name else target.key
    if target.key is None or named_by is None:
        return None, ""
    target_col = target.profile.columns[named_by]
    known = {normalize(v, "name") for v in target_col.values} if by_name else set(target_col.values)
    for col in profile.columns.values():
        if col.name in skip or not col.values or (col.unique and profile is target.profile):
            continue
        values = {normalize(v, "name") for v in col.values} if by_name else set(col.values)
        if len(values & known) >= REFERENCE_SHARE * len(values):
            return col.name, "name" if by_name else "id"
    return None, ""


# ---- writing the YAML


def q(value: object) -> str:
    """A YAML scalar: bare when YAML reads it back as the same text, else double-quoted (JSON is YAML)."""
    text = str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if (
        re.fullmatch(r"[A-Za-z_][\w .()/-]*", text)
        and text.lower() not in ("true", "false", "yes", "no", "on", "off", "null", "y", "n")
        and not text.endswith(" ")
    ):
        return text
    return json.dumps(text, ensure_ascii=False)


def flow(**items: object) -> str:
    parts = []
    for k, v in items.items():
        if v is None:
            continue
        if isinstance(v, dict):
            v = "{" + ", ".join(f"{q(a)}: {q(b)}" for a, b in v.items()) + "}"
        elif isinstance(v, list):
            v = "[" + ", ".join(q(x) for x in v) + "]"
        else:
            v = q(v)
        parts.append(f"{k.rstrip('_')}: {v}")
    return "{" + ", ".join(parts) + "}"


class _Writer:
    def __init__(self, tables: list[Table], today: str) -> None:
        self.tables, self.today = tables, today
        self.lines: list[str] = []
        self.guesses = 0
        self.undecided: list[str] = []

    def guess(self, line: str, why: str) -> None:
        self.guesses += 1
        self.lines.append(f"{line}  # GUESS: {why}")

    def decide_later(self, line: str, why: str) -> None:
        self.undecided.append(why)
        self.lines.append(f"{line}  # UNDECIDED: {why}")

    def value(self, col: Column) -> str:
        """A column with the format and number options its values need."""
        options: dict[str, object] = {"column": col.name}
        if col.date_format:
            options["format"] = col.date_format
        if col.number:
            options["number"] = col.number
        for note in col.undecided:
            self.undecided.append(note)
        return q(col.name) if len(options) == 1 else flow(**options)

    def write(self, source_dir: Path) -> Draft:
        self.lines += [
            f"# Drafted by `dealgraph mapping draft` from {source_dir.name}/ on {self.today}.",
            "# Review every line marked GUESS or UNDECIDED, then run `dealgraph mapping check THIS_FILE --source DIR`.",
            "# Reference for every key: docs/mappings.md.",
            f"name: {q(source_dir.name or 'drafted')}",
            "description: drafted from the export's headers and values",
        ]
        delimiters = {t.profile.delimiter for t in self.tables}
        if delimiters != {","}:
            self.guess(f"delimiter: {q(min(delimiters))}", "the separator the headers use")
        encodings = {t.profile.encoding for t in self.tables} - {"utf-8", "utf-8-sig"}
        if encodings:
            self.guess(f"encoding: {q(min(encodings))}", "the files are not UTF-8")
        self.lines.append("sources:")
        order = {Label.REP: 0, Label.PRODUCT: 1, Label.ACCOUNT: 2, Label.CONTACT: 3, Label.DEAL: 4}
        for t in sorted(self.tables, key=lambda t: (order.get(t.entity or "", 9), t.closed_of is not None)):
            if t.closed_of is not None:
                self._closed_file(t)
            elif t.entity == Label.DEAL:
                self._deals(t)
            elif t.entity and t.key:
                self._nodes(t)
            else:
                self.lines += [
                    "",
                    f"  # UNDECIDED: {t.profile.file}: not recognised (no deals, accounts, contacts, "
                    "products or reps by its name); add a source for it by hand if it matters",
                ]
                self.undecided.append(f"{t.profile.file}: not recognised")
        text = "\n".join(self.lines) + "\n"
        return Draft(text, self.guesses, self.undecided)

    # -- a file of accounts, contacts, products or reps
    def _nodes(self, t: Table) -> None:
        p, entity = t.profile, t.entity or ""
        self.lines += ["", f"  - file: {q(p.file)}", f"    node: {entity}"]
        by_name = "" if fold(t.key or "").endswith("id") else "; a name, so files that name these records find them"
        self.guess(f"    key: {q(t.key)}", "unique in every row" + by_name)
        self.lines.append("    properties:")
        self.lines.append(f"      name: {q(t.name)}")
        used = {t.key, t.name}
        for prop, words in PROPERTY_WORDS.get(entity, {}).items():
            col = next(
                (c for c in p.columns.values() if c.name not in used and any(w in fold(c.name) for w in words)), None
            )
            if col is not None:
                used.add(col.name)
                self.guess(f"      {prop}: {self.value(col)}", f"by the header {col.name!r}")
        created = self._date_column(p, CREATED_WORDS, used)
        if created is not None:
            used.add(created.name)
            self.guess(
                f"      created_at: {self.value(created)}", f"the first date column by its header ({created.name!r})"
            )
        relations = self._references(t, used)
        if relations:
            self.lines.append("    relations:")
            self.lines += relations
        rest = [c for c in p.columns if c not in used]
        if rest:
            self.lines.append(f"    ignore_columns: [{', '.join(q(c) for c in rest)}]  # no ontology property for them")

    def _references(self, t: Table, used: set[str | None]) -> list[str]:
        """`relations` entries for the columns of `t` that name records of other files."""
        out: list[str] = []
        for other in self.tables:
            relation = RELATION_TO.get((t.entity or "", other.entity or ""))
            if relation is None or other.closed_of is not None or other.key is None:
                continue
            for by_name in (False, True):
                column, _ = _refers(t.profile, other, by_name, frozenset(c for c in used if c))
                if column:
                    used.add(column)
                    target = flow(
                        column=column,
                        by="name" if by_name else None,
                        match="name" if by_name else None,
                        optional=True if relation != Rel.FOR_ACCOUNT else None,
                    )
                    out.append(
                        f"      - relation: {relation}  # GUESS: {column!r} names {other.profile.file}'s "
                        + ("records by name (compared as identity resolution compares names)" if by_name else "ids")
                    )
                    self.guesses += 1
                    out.append(f"        target: {target}")
                    if relation == Rel.INVOLVES:
                        out.append("        properties: {role: {value: other}}")
                    break
        return out

    @staticmethod
    def _date_column(p: FileProfile, words: tuple[str, ...], used: set[str | None]) -> Column | None:
        dates = [c for c in p.columns.values() if c.date_format is not None and c.name not in used]
        return next((c for c in dates if any(w in fold(c.name) for w in words)), None)

    # -- the deals file
    def _deals(self, t: Table) -> None:
        p = t.profile
        self.lines += ["", f"  - file: {q(p.file)}", "    node: Deal"]
        self.guess(f"    key: {q(t.key)}", "unique in every row")
        self.lines.append("    properties:")
        self.lines.append(f"      name: {q(t.name)}")
        used: set[str | None] = {t.key, t.name}
        status = next((c for c in p.columns.values() if c.outcome), None)
        created = self._date_column(p, CREATED_WORDS, used)
        closed = self._date_column(p, CLOSE_WORDS, used | ({created.name} if created else set()))
        amount = next(
            (
                c
                for c in p.columns.values()
                if c.number is not None and c.name not in used and any(w in fold(c.name) for w in AMOUNT_WORDS)
            ),
            None,
        )
        if amount is not None:
            used.add(amount.name)
            if any(w in fold(amount.name) for w in CLOSE_WORDS):  # e.g. close_value: 0 on every lost deal
                self.lines.append(
                    f"      # {amount.name!r} is known only once a deal closes: mapped to its Outcome, "
                    "not to the deal (a feature from it would leak the result)"
                )
            else:
                self.guess(f"      amount: {self.value(amount)}", f"numbers under {amount.name!r}")
        for prop, words in PROPERTY_WORDS[Label.DEAL].items():
            col = next(
                (
                    c
                    for c in p.columns.values()
                    if c.name not in used
                    and c.number is None
                    and c.date_format is None
                    and any(w in fold(c.name) for w in words)
                ),
                None,
            )
            if col is not None:
                used.add(col.name)
                self.guess(f"      {prop}: {q(col.name)}", f"by the header {col.name!r}")
        if closed is not None:
            used.add(closed.name)
            self.guess(f"      close_date: {self.value(closed)}", f"{closed.name!r} says when a deal closed")
        if created is not None:
            used.add(created.name)
            self.guess(f"      created_at: {self.value(created)}", f"{created.name!r} says when a deal began")
            if created.filled < 1:
                self.undecided.append(
                    f"{created.name}: empty in {1 - created.filled:.0%} of rows (deals not yet "
                    "engaged): those rows are quarantined, as a deal needs a start time"
                )
                self.lines[-1] += f"; empty in {1 - created.filled:.0%} of rows: those deals are quarantined"
        elif closed is not None:
            self.decide_later(
                f"      created_at: {self.value(closed)}",
                f"no start date: deals are dated by {closed.name!r}, so a deal is scored as of its close",
            )
        else:
            self.decide_later(
                f"      created_at: {flow(value=self.today)}",
                "NO TIME COLUMN: every deal is dated the day of the draft. A time-correct model "
                "needs a time column (when a deal was created and closed); without one `dealgraph "
                "train` cannot split past from future and refuses, and the graph is for browsing "
                "and explanations only. Map a date column here if the export has one",
            )
        relations = self._references(t, used)
        inline = self._inline_nodes(t, used, relations)
        if relations:
            self.lines.append("    relations:")
            self.lines += relations
        if inline or status is not None:
            self.lines.append("    also:")
            self.lines += inline
        if status is not None:
            used.add(status.name)
            self._outcome(t, status, closed or created, amount)
        elif not any(o.closed_of is t for o in self.tables):
            self.lines.append("    # UNDECIDED: no column says won or lost: add an Outcome (docs/mappings.md, also)")
            self.undecided.append("no won / lost column")
        else:
            self.lines.append("    # Outcomes come from the closed-deals file (its sources below).")
        rest = [c for c in p.columns if c not in used]
        if rest:
            self.lines.append(f"    ignore_columns: [{', '.join(q(c) for c in rest)}]  # no ontology property for them")

    def _inline_nodes(self, t: Table, used: set[str | None], relations: list[str]) -> list[str]:
        """Accounts, reps and products the deals name with no file of their own: `also` nodes keyed by name."""
        out: list[str] = []
        made = {line.split("relation: ")[1].split()[0] for line in relations if "relation: " in line}
        for entity, relation, prefix in (
            (Label.ACCOUNT, Rel.FOR_ACCOUNT, "account"),
            (Label.REP, Rel.OWNED_BY, "rep"),
            (Label.PRODUCT, Rel.FOR_PRODUCT, "product"),
        ):
            if relation in made:
                continue
            words = dict(ENTITY_WORDS)[entity]
            col = next(
                (
                    c
                    for c in t.profile.columns.values()
                    if c.name not in used
                    and c.number is None
                    and c.date_format is None
                    and any(w in fold(c.name) for w in words)
                ),
                None,
            )
            if col is None:
                if entity == Label.ACCOUNT:  # every deal needs one
                    out += [
                        "      - node: Account  # UNDECIDED: no account column: each deal is its own account",
                        f"        key: {flow(template='{' + (t.key or '') + '}:account')}",
                        "        relation_from_parent: FOR_ACCOUNT",
                        f"        properties: {{name: {flow(template='{' + (t.key or '') + '}')}}}",
                    ]
                    self.undecided.append("no account column: each deal is its own account")
                continue
            used.add(col.name)
            self.guesses += 1
            out += [
                f"      - node: {entity}  # GUESS: {col.name!r} names the {prefix}, with no file of its own",
                f"        when: {flow(column=col.name, not_empty=True)}",
                f"        key: {flow(template=prefix + ':{' + col.name + '}')}",
                f"        relation_from_parent: {relation}",
                f"        properties: {{name: {q(col.name)}}}",
            ]
        return out

    def _outcome(self, t: Table, status: Column, closed: Column | None, amount: Column | None) -> None:
        won = [v for v, r in status.outcome.items() if r == "won"]
        lost = [v for v, r in status.outcome.items() if r == "lost"]
        others = sorted(set(status.values) - set(status.outcome))
        self.lines += [
            f"      - node: Outcome  # GUESS: {status.name!r} says won ({', '.join(won)}) or lost ({', '.join(lost)})"
            + (f"; open: {', '.join(others)}" if others else ""),
            f"        when: {flow(column=status.name, in_=won + lost)}",
            f"        key: {flow(template='{' + (t.key or '') + '}:outcome')}",
            "        relation_from_parent: HAS_OUTCOME",
            "        properties:",
            f"          result: {flow(column=status.name, map=status.outcome)}",
        ]
        self.guesses += 1
        if closed is not None:
            self.lines.append(f"          closed_at: {self.value(closed)}")
        else:
            self.decide_later(
                f"          closed_at: {flow(value=self.today)}", "no close date: closed the day of the draft"
            )
        if amount is not None:
            self.lines.append(f"          amount: {self.value(amount)}")

    # -- a closed-deals file: its rows are the won deals of another file
    def _closed_file(self, t: Table) -> None:
        p, deals = t.profile, t.closed_of
        assert deals is not None
        column, _ = _refers(p, deals, by_name=False)
        when = self._date_column(p, CLOSE_WORDS + CREATED_WORDS + ("date",), set())
        amount = next(
            (c for c in p.columns.values() if c.number is not None and any(w in fold(c.name) for w in AMOUNT_WORDS)),
            None,
        )
        outcome_key = flow(template="{" + str(column) + "}:won")
        self.lines += [
            "",
            f"  # GUESS: a {deals.profile.file} record is won when its {column!r} appears in {p.file}.",
            "  # UNDECIDED: nothing says a deal was lost, so every other deal stays open and the model has",
            "  # no lost deals to learn from; if a deal not won within N days counts as lost, derive a",
            "  # status column in the export and map it with an Outcome on the deals file.",
            f"  - file: {q(p.file)}",
            "    node: Outcome",
            f"    key: {outcome_key}",
            "    properties:",
            "      result: {value: won}",
        ]
        self.guesses += 1
        self.undecided.append(f"{deals.profile.file}: no lost rule (only {p.file} says won)")
        if when is not None:
            self.lines.append(f"      closed_at: {self.value(when)}")
        else:
            self.decide_later(f"      closed_at: {flow(value=self.today)}", "no date in the closed file")
        if amount is not None:
            self.lines.append(f"      amount: {self.value(amount)}")
        mapped = {column, getattr(when, "name", None), getattr(amount, "name", None)}
        self.lines.append(f"    ignore_columns: [{', '.join(q(c) for c in p.columns if c not in mapped)}]")
        self.lines += [
            "",
            f"  - file: {q(p.file)}  # the same rows again, as the link from each deal to its outcome",
            "    relation: HAS_OUTCOME",
            f"    source: {q(column)}",
            f"    target: {outcome_key}",
            f"    ignore_columns: [{', '.join(q(c) for c in p.columns if c != column)}]",
        ]


def write_draft(source_dir: Path, out: Path | None) -> Draft:
    """Draft a mapping for `source_dir` and write it to `out` (default `SOURCE_DIR.mapping.yaml` beside it)."""
    draft = draft_mapping(source_dir)
    target = out or Path(source_dir).with_suffix(".mapping.yaml")
    target.write_text(draft.text, "utf-8")
    return draft
