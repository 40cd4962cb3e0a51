"""The shape of an SOP definition (one YAML file under ``sops/``).

Pydantic models with ``extra="forbid"`` so that a misspelt key is an error that names the
field, not a silently ignored line. Cross-references (actors, branch targets, playbooks,
role argument specs) are checked in :mod:`sop_runner.core.catalogue.validate`.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sop_runner.core.timestd import TimeParseError, TimeStandard, parse_time

_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Group(StrEnum):
    """Where an SOP belongs; the Wonosobo regulation's seven groups plus the other sources'."""

    DATA_CENTRE = "data_centre"
    OPERATING_SYSTEM = "operating_system"
    APPLICATION = "application"
    DATABASE = "database"
    DOMAIN = "domain"
    EMAIL = "email"
    NETWORK = "network"
    ASSETS = "assets"
    MIGRATION = "migration"
    HOSTING = "hosting"


class StepKind(StrEnum):
    """What kind of work a step is; the runner treats each kind differently."""

    MANUAL = "manual"  # a person confirms it was done, with a note and optional evidence
    DECISION = "decision"  # a person answers Ya/Tidak with a reason
    APPROVAL = "approval"  # a person approves or rejects (optionally a plan)
    AUTOMATED = "automated"  # an Ansible playbook through ansible-runner
    DOCUMENT = "document"  # a generated letter, Berita Acara or Laporan
    NOTIFY = "notify"  # a message or letter is sent to someone


class DocumentKind(StrEnum):
    """The paperwork the SOPs name."""

    BERITA_ACARA = "berita_acara"
    BAST = "bast"  # Berita Acara Serah Terima
    LAPORAN = "laporan"
    SURAT = "surat"  # letter (reply, notification, rejection)
    NOTA_DINAS = "nota_dinas"
    FORMULIR = "formulir"
    DISPOSISI = "disposisi"


class Source(_Strict):
    """Where the SOP comes from."""

    document: str = Field(description="seed file prefix, e.g. '002'")
    title: str = Field(description="the regulation or document, e.g. 'Peraturan Bupati Wonosobo Nomor 22 Tahun 2018'")
    number: str = Field(description="the SOP number within the document, e.g. '57'")
    issuer: str = Field(description="the agency, e.g. 'Dinas Kominfo Kabupaten Wonosobo'")
    sop_code: str = Field(default="", description="the official 'Nomor SOP' when the paper gives one")


class Actor(_Strict):
    """A swimlane of the SOP table, mapped to one of the runner's roles."""

    id: str = Field(description="short id used by steps, e.g. 'kabid'")
    name: str = Field(description="the column heading as on paper, e.g. 'Kabid Dinas Kominfo'")
    role: str = Field(description="a runner role from sops/roles.yml, e.g. 'kabid'")

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _NAME.match(value):
            msg = "use lower-case letters, digits and underscores, starting with a letter"
            raise ValueError(msg)
        return value


ParamType = Literal[
    "string",
    "text",
    "integer",
    "number",
    "boolean",
    "enum",
    "ipv4",
    "ipv4_prefix",
    "fqdn",
    "email",
    "date",
    "tenant",
    "list",
]


class Parameter(_Strict):
    """One field of the request form."""

    name: str
    type: ParamType
    label: str = Field(description="the label in Bahasa Indonesia, as on the form")
    description: str = ""
    required: bool = True
    default: str | int | float | bool | list[str] | None = None
    choices: list[str] = Field(default_factory=list)
    min: float | None = None
    max: float | None = None
    pattern: str = ""
    max_length: int | None = Field(
        default=None,
        ge=1,
        description="most characters a value (a list: each item) may have; default by type (core/params.py)",
    )

    @field_validator("name")
    @classmethod
    def _name_shape(cls, value: str) -> str:
        if not _NAME.match(value):
            msg = "use snake_case: lower-case letters, digits and underscores"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _enum_has_choices(self) -> Parameter:
        if self.type == "enum" and not self.choices:
            msg = "an enum parameter needs 'choices'"
            raise ValueError(msg)
        if self.max_length is not None and self.type not in ("string", "text", "list"):
            msg = "'max_length' applies to string, text and list parameters only"
            raise ValueError(msg)
        return self


class Automation(_Strict):
    """The playbook bound to a technical step, or an explicit note that there is none yet."""

    status: Literal["automated", "pending"] = "automated"
    playbook: str = Field(default="", description="path from the repository root")
    role: str = Field(default="", description="the role whose argument_specs the vars must match")
    vars: dict[str, str | int | float | bool | list[str] | None] = Field(
        default_factory=dict,
        description="role variable -> value; strings may be Jinja2 over 'params' and 'run'",
    )
    targets: list[str] = Field(
        default_factory=list,
        description="lock keys (Jinja2): two runs with a common target never apply at once",
    )
    note: str = Field(default="", description="why it is pending, or what the automation covers")
    inventory: str = Field(
        default="",
        description="inventory for this playbook, from the repository root (default: the runner's)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Automation:
        if self.status == "automated" and not self.playbook:
            msg = "an automated step needs 'playbook'"
            raise ValueError(msg)
        if self.status == "pending" and not self.note:
            msg = "say in 'note' why the step is not automated yet"
            raise ValueError(msg)
        return self


Target = int | Literal["end"]


class Branches(_Strict):
    """Where a decision or approval goes: a step number, or 'end'."""

    ya: Target | None = Field(default=None, description="default: the next step")
    tidak: Target = Field(description="the 'no' branch")
    tidak_rejects: bool | None = Field(
        default=None,
        description="whether 'tidak' refuses the request; default: yes when it goes forward or to end, "
        "no when it goes back (a revision loop)",
    )


class PaperCells(_Strict):
    """A table row's cells exactly as printed, kept beside an encoding that differs from them."""

    text: str | None = None
    actor: str | None = Field(default=None, description="the swimlane heading the paper ticks")
    requires: str | None = None
    time: str | None = None
    output: str | None = None
    remarks: str | None = None


class Step(_Strict):
    """One row of the SOP table."""

    number: int = Field(ge=1)
    text: str = Field(description="the table row's 'Uraian Prosedur' cell, as on paper")
    paper: PaperCells | None = Field(
        default=None,
        description="the row's cells verbatim where the encoding differs from them (an OCR slip "
        "corrected, a dual time standard); explained in 'note'",
    )
    note: str = Field(
        default="",
        description="editors' interpretation, not on paper: what the runner needs beyond the row "
        "(the actor of an output-only row, a branch the paper does not draw) and why",
    )
    beyond_table: str = Field(
        default="",
        description="why this step is not a row of the paper's table (e.g. taken from the Uraian "
        "Prosedur because the table stops early); such steps follow the table's rows",
    )
    actor: str = Field(description="an actor id")
    kind: StepKind
    requires: str = Field(default="", description="Mutu Baku: Syarat/Kelengkapan")
    time: str = Field(default="", description="Mutu Baku: Waktu, as written, e.g. '30 menit'")
    output: str = Field(default="", description="Mutu Baku: Output")
    remarks: str = Field(default="", description="Keterangan")
    technical: bool = Field(default=False, description="hands-on technical work (counts for coverage)")
    branches: Branches | None = None
    next: Target | None = Field(
        default=None,
        description="where the run goes after this step if not the next row (e.g. end after a rejection notice)",
    )
    approves_plan_of: int | None = Field(
        default=None,
        description="approval bound to the plan of this automated step",
    )
    automation: Automation | None = None
    document: str = Field(default="", description="a document id, for document steps")
    produces: list[str] = Field(
        default_factory=list,
        description="document ids generated when this step completes",
    )
    evidence: bool = Field(default=False, description="the step asks for evidence files")

    @property
    def time_standard(self) -> TimeStandard:
        """The parsed time standard."""
        return parse_time(self.time)

    @field_validator("time")
    @classmethod
    def _time_parses(cls, value: str) -> str:
        try:
            parse_time(value)
        except TimeParseError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @model_validator(mode="after")
    def _kind_fields(self) -> Step:
        kind = self.kind
        if kind is StepKind.DECISION and self.branches is None:
            msg = "a decision step needs 'branches' with at least 'tidak'"
            raise ValueError(msg)
        if kind is not StepKind.DECISION and kind is not StepKind.APPROVAL and self.branches:
            msg = "only decision and approval steps may have 'branches'"
            raise ValueError(msg)
        if kind is StepKind.AUTOMATED and (self.automation is None or self.automation.status != "automated"):
            msg = "an automated step needs 'automation' with a playbook"
            raise ValueError(msg)
        if self.automation is not None and self.automation.status == "pending" and not self.technical:
            msg = "a step with pending automation must be marked 'technical: true'"
            raise ValueError(msg)
        if kind is StepKind.DOCUMENT and not self.document:
            msg = "a document step needs 'document' (a document id)"
            raise ValueError(msg)
        if self.paper is not None and not self.note:
            msg = "a step that keeps 'paper' cells needs a 'note' saying why the encoding differs"
            raise ValueError(msg)
        if self.approves_plan_of is not None and kind is not StepKind.APPROVAL:
            msg = "'approves_plan_of' belongs on an approval step"
            raise ValueError(msg)
        return self

    @property
    def automated(self) -> bool:
        """Whether a playbook runs for this step."""
        return self.kind is StepKind.AUTOMATED


class Document(_Strict):
    """A document the SOP produces."""

    id: str
    kind: DocumentKind
    title: str = Field(description="the title in Bahasa Indonesia")
    template: str = Field(description="template file under sop_runner/paperwork/templates/")
    signers: list[str] = Field(default_factory=list, description="actor ids who sign it")


class SopDefinition(_Strict):
    """A whole SOP."""

    id: str
    title: str = Field(description="the official title in Bahasa Indonesia")
    title_en: str
    group: Group
    source: Source
    legal_basis: list[str] = Field(min_length=1)
    summary: str = Field(default="", description="one paragraph in English")
    uraian: list[str] = Field(
        default_factory=list,
        description="the paper's numbered 'Uraian Prosedur' list as printed: the narrative, which "
        "names the actors; the steps are the table's rows",
    )
    actors: list[Actor] = Field(min_length=1)
    parameters: list[Parameter] = Field(default_factory=list)
    steps: Annotated[list[Step], Field(min_length=1)]
    documents: list[Document] = Field(default_factory=list)
    same_signer_allowed: bool = Field(
        default=False,
        description="the SOP lets one person sign more than one gate of a run",
    )
    urgent_path: bool = Field(
        default=False,
        description="emergency SOP: automation may act before approval, approved afterwards",
    )
    urgent_approval_deadline: str = Field(default="", description="time standard for the late approval")

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _ID.match(value):
            msg = "use lower-case letters, digits and dashes, e.g. 'wonosobo-57'"
            raise ValueError(msg)
        return value

    @property
    def starter_role(self) -> str:
        """The role of the first row's actor: 'requester' for an SKPD's request, else the
        Kominfo role that starts an internal SOP (SOP 24: operator_dc)."""
        return self.actor(self.steps[0].actor).role

    def step(self, number: int) -> Step:
        """The step with this number."""
        for step in self.steps:
            if step.number == number:
                return step
        msg = f"{self.id} has no step {number}"
        raise KeyError(msg)

    def actor(self, actor_id: str) -> Actor:
        """The actor with this id."""
        for actor in self.actors:
            if actor.id == actor_id:
                return actor
        msg = f"{self.id} has no actor {actor_id!r}"
        raise KeyError(msg)

    def document_def(self, doc_id: str) -> Document:
        """The document with this id."""
        for doc in self.documents:
            if doc.id == doc_id:
                return doc
        msg = f"{self.id} has no document {doc_id!r}"
        raise KeyError(msg)

    def next_step(self, number: int) -> Step | None:
        """The step after ``number`` in table order, or None at the end."""
        numbers = [s.number for s in self.steps]
        idx = numbers.index(number)
        return self.steps[idx + 1] if idx + 1 < len(self.steps) else None
