"""statements: signed fund and ledger statements — the anchor an auditor keeps outside the database.

At each Beijing month end (a daily job) and on demand (`flask ledger statement`) every district's
ledger chain heads, totals per unit and CNY (fund) balances are signed with an Ed25519 key and stored
append-only; auditors download them at /audit/statements/ and check the ledger against them with
`flask ledger verify --against FILE`. docs/ledger.md, "Signed statements"."""

from flask import Flask
from flask_babel import lazy_gettext as _l

from app.access import Action
from app.area import Area, MenuLink


def _setup(app: Flask) -> None:
    from app.audit.labels import register_detail, register_target

    register_target("ledger_statement", _l("Ledger statement"))
    register_detail("period", _l("Month"), action="ledger.statement")
    register_detail("fingerprint", _l("Key fingerprint"), action="ledger.statement")
    register_detail("accounts", _l("Accounts"), action="ledger.statement")


AREA = Area(
    name="statements",
    blueprints=["app.statements.blueprint:bp"],
    actions=[Action("statements.view", read=True)],  # auditors get it by rule, as every read action
    audit_labels={"ledger.statement": _l("Ledger statement signed")},
    tasks=["app.statements.jobs"],
    setup=_setup,
    menu=[MenuLink("statements.list_statements", _l("Ledger statements"), actions=["statements.view"])],
)
