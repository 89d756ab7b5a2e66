"""Signed fund and ledger statements: an anchor an auditor keeps outside the database.

A statement records, for one district, every ledger account's hash-chain head (entry count and the hash of
its last entry) at a cut-off, the totals per unit and the balance of every CNY (fund) account, the time in
UTC and Beijing time, and the public half of the Ed25519 key that signs it. It is canonical JSON (sorted
keys, no floats) with an embedded signature, stored append-only (`ledger_statements`) and downloadable by
auditors (/audit/statements/). `flask ledger verify --against FILE` checks the signature (against a public
key the auditor kept, with `--public-key`) and re-walks every recorded chain up to its recorded position:
a history rewritten since the statement — even with every hash recomputed — no longer ends at the signed
head. Issued on demand (`flask ledger statement`) and for each Beijing month by a daily job. docs/ledger.md,
"Signed statements", says what this proves and what it does not.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Engine, select, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.audit import services as audit
from app.db import unit_of_work, utcnow
from app.places.models import District
from app.times import BEIJING
from config import ROOT
from ledger.anchor import Recorded, chain_heads, changed_accounts
from ledger.schema import accounts
from ledger.verify import verify_book

from .models import LedgerStatement

FORMAT = "aixin.ledger-statement.v1"
ALGORITHM = "Ed25519"
DEFAULT_KEY_FILE = ROOT / "instance" / "statement-signing.key"
_log = logging.getLogger(__name__)


class StatementError(Exception):
    """A statement cannot be made or read; the message says what to do."""


class KeyMissing(StatementError):
    pass


class LedgerUnsound(StatementError):
    """The ledger fails its own verification: no statement is signed over it."""

    def __init__(self, tenant: int, problems: list[str]):
        self.tenant, self.problems = tenant, problems
        super().__init__(
            f"tenant {tenant}: the ledger fails verification ({len(problems)} problem(s)); "
            "no statement was signed. Run `flask ledger verify` and resolve them first."
        )


# --- canonical JSON ------------------------------------------------------------------------------------------------


def _no_floats(value, where: str = "statement") -> None:
    if isinstance(value, float):
        raise StatementError(f"{where} holds a floating-point number; amounts are integers")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise StatementError(f"{where} has a key that is not a string")
            _no_floats(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _no_floats(v, f"{where}[{i}]")


def canonical(value) -> bytes:
    """The one byte form of a JSON value: sorted keys, no spaces, UTF-8, integers only (no floats)."""
    _no_floats(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _refuse_float(text: str):
    raise StatementError(f"the statement holds a non-integer number ({text}); a genuine one never does")


def parse(document: bytes | str) -> dict:
    """A statement file as a dict; refuses anything that is not a statement (the message says why)."""
    try:
        env = json.loads(document, parse_float=_refuse_float, parse_constant=_refuse_float)
    except (ValueError, UnicodeDecodeError) as e:
        raise StatementError(f"not a statement file: it is not JSON ({e})") from e
    if (
        not isinstance(env, dict)
        or not isinstance(env.get("statement"), dict)
        or not isinstance(env.get("signature"), dict)
        or env["statement"].get("format") != FORMAT
    ):
        raise StatementError(f"not a statement file: expected {{'statement': …, 'signature': …}} of format {FORMAT}")
    return env


# --- keys ----------------------------------------------------------------------------------------------------------


def key_path(config) -> Path:
    return Path(config.get("STATEMENT_KEY_FILE") or DEFAULT_KEY_FILE)


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(key: Ed25519PublicKey) -> str:
    return "SHA256:" + hashlib.sha256(raw_public(key)).hexdigest()


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _generate(path: Path) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: of two processes creating the key at once, one writes it and the other reads that one.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    _log.warning("generated a new statement signing key at %s (public key %s)", path, fingerprint(key.public_key()))
    return key


def signing_key(config, *, create: bool | None = None) -> Ed25519PrivateKey:
    """The signing key from STATEMENT_KEY_FILE (default instance/statement-signing.key).

    Outside production a missing key is generated on first use (mode 600). In production it never is
    (unless `create=True`, which `flask ledger statement-key --generate` passes): a key generated silently
    on a fresh machine would sign statements whose public key no auditor has been given. A key file that
    others can read is refused."""
    path = key_path(config)
    if create is None:
        create = config.get("ENV") != "production"
    if not path.exists():
        if not create:
            raise KeyMissing(
                f"no statement signing key at {path}: run `flask ledger statement-key --generate` once "
                "(and hand the public key it prints to the auditors), or set STATEMENT_KEY_FILE"
            )
        try:
            return _generate(path)
        except FileExistsError:
            pass
    mode = path.stat().st_mode
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise StatementError(f"the signing key {path} can be read by others; `chmod 600 {path}` and try again")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as e:
        raise StatementError(f"{path} is not an unencrypted PEM private key") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise StatementError(f"{path} is not an Ed25519 key")
    return key


def embedded_public_key(env: dict) -> Ed25519PublicKey:
    """The key a statement names (which proves nothing about who signed it: see check_signature)."""
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(env["statement"]["public_key"]["base64"]))
    except (KeyError, TypeError, ValueError) as e:
        raise StatementError(f"the statement's public key is unreadable ({e})") from e


def load_public_key(data: bytes) -> Ed25519PublicKey:
    """A public key an auditor kept: a PEM file, or the base64 text printed in a statement."""
    text = data.strip()
    try:
        if text.startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(text)
            if isinstance(key, Ed25519PublicKey):
                return key
            raise StatementError("the public key file holds a key that is not Ed25519")
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError) as e:
        raise StatementError(f"not a public key (expected a PEM file or the statement's base64 key): {e}") from e


# --- making a statement --------------------------------------------------------------------------------------------


def _iso_utc(t: datetime) -> str:
    return t.replace(tzinfo=UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _iso_beijing(t: datetime) -> str:
    return t.replace(tzinfo=UTC).astimezone(BEIJING).isoformat(timespec="microseconds")


def _repeatable_read(session: Session) -> None:
    """On PostgreSQL read the heads and verify in one snapshot (writers go on meanwhile); a session
    joined to an outer transaction (tests) reads in that one."""
    bind = session.get_bind()
    if isinstance(bind, Engine) and bind.dialect.name == "postgresql" and not session.in_transaction():
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def build(session: Session, tenant: int, public_key: Ed25519PublicKey, *, kind: str, period: str | None):
    """The unsigned statement of one tenant at this moment (a dict), after the ledger verified clean. The
    cut-off is always the moment the heads are read, never a time the caller names."""
    _repeatable_read(session)
    conn = session.connection()
    cutoff = utcnow()
    heads = chain_heads(conn, tenant)
    problems = verify_book(conn, tenant)
    if problems:
        raise LedgerUnsound(tenant, problems)
    district = session.get(District, tenant)
    totals: dict[str, dict[str, int]] = {}
    for h in heads:
        t = totals.setdefault(
            h.unit,
            dict(accounts=0, entries=0, posted_debits=0, posted_credits=0, pending_debits=0, pending_credits=0),
        )
        t["accounts"] += 1
        t["entries"] += h.entry_count
        t["posted_debits"] += h.debits_posted
        t["posted_credits"] += h.credits_posted
        t["pending_debits"] += h.debits_pending
        t["pending_credits"] += h.credits_pending
    cny = {}
    for h in heads:
        if h.unit == "CNY":
            pin, pout = (
                (h.credits_pending, h.debits_pending) if h.normal == "credit" else (h.debits_pending, h.credits_pending)
            )
            cny[h.code] = dict(posted=h.posted, pending_in=pin, pending_out=pout, available=h.posted - pout)
    recorded = {
        h.code: dict(unit=h.unit, entries=h.entry_count, head=h.head_hash.hex(), posted=h.posted) for h in heads
    }
    return {
        "format": FORMAT,
        "kind": kind,
        "period": period,
        "cutoff_utc": _iso_utc(cutoff),
        "cutoff_beijing": _iso_beijing(cutoff),
        "tenant_id": tenant,
        "district": {"code": district.code, "name": district.name} if district else None,
        "accounts": recorded,
        "heads_sha256": hashlib.sha256(canonical(recorded)).hexdigest(),
        "totals": totals,
        "cny_balances_fen": cny,
        "public_key": {
            "algorithm": ALGORITHM,
            "base64": base64.b64encode(raw_public(public_key)).decode(),
            "fingerprint": fingerprint(public_key),
        },
    }


def sign(statement: dict, key: Ed25519PrivateKey) -> bytes:
    """The statement file: canonical JSON of the statement and its signature over the statement's
    canonical bytes."""
    sig = key.sign(canonical(statement))
    return canonical(
        {
            "statement": statement,
            "signature": {
                "algorithm": ALGORITHM,
                "signs": "the canonical JSON (sorted keys, no spaces, UTF-8) of the 'statement' member",
                "value": base64.b64encode(sig).decode(),
            },
        }
    )


def issue(
    session: Session,
    tenant: int,
    key: Ed25519PrivateKey,
    *,
    kind: str = "on_demand",
    period: str | None = None,
    actor_user_id: int | None = None,
) -> LedgerStatement:
    """Make, sign and store one district's statement (flushes; the caller commits)."""
    statement = build(session, tenant, key.public_key(), kind=kind, period=period)
    document = sign(statement, key)
    row = LedgerStatement(
        tenant_id=tenant,
        kind=kind,
        period=period,
        cutoff_at=datetime.fromisoformat(statement["cutoff_utc"].replace("Z", "+00:00")).replace(tzinfo=None),
        issued_by_user_id=actor_user_id,
        accounts=len(statement["accounts"]),
        entries=sum(t["entries"] for t in statement["totals"].values()),
        key_fingerprint=statement["public_key"]["fingerprint"],
        sha256=hashlib.sha256(document).hexdigest(),
        document=document.decode(),
    )
    session.add(row)
    session.flush()
    if statement["district"] is not None:
        audit.record(
            session,
            "ledger.statement",
            tenant_id=tenant,
            actor_user_id=actor_user_id,
            target_type="ledger_statement",
            target_id=row.id,
            detail={"period": period, "fingerprint": row.key_fingerprint, "accounts": row.accounts},
        )
    return row


def ledger_tenants(session: Session) -> list[int]:
    """Every district and any other tenant the ledger holds (as `flask ledger verify`)."""
    return sorted(session.scalars(union(select(District.id), select(accounts.c.tenant_id).distinct())))


def last_ended_month(now: datetime) -> str:
    """The Beijing calendar month that ended most recently, as "YYYY-MM"."""
    local = now.replace(tzinfo=UTC).astimezone(BEIJING)
    year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def issue_month_end(
    factory: sessionmaker, config, now: datetime | None = None, tenants: list[int] | None = None
) -> dict[int, str]:
    """The month-end statement of the last ended Beijing month for every tenant that has none yet, each in
    its own transaction (`now` picks the month; each cut-off is when its heads are read). Returns
    {tenant: "issued" | "exists" | the reason it was refused}. Safe to run
    any number of times, and by two workers at once (the unique index keeps one)."""
    now = now or utcnow()
    period = last_ended_month(now)
    key = signing_key(config)
    if tenants is None:
        with unit_of_work(factory) as s:
            tenants = ledger_tenants(s)
    outcome: dict[int, str] = {}
    for t in tenants:
        try:
            with unit_of_work(factory) as s:
                _repeatable_read(s)
                done = s.scalar(
                    select(LedgerStatement.id).where(
                        LedgerStatement.tenant_id == t,
                        LedgerStatement.kind == "month_end",
                        LedgerStatement.period == period,
                    )
                )
                if done:
                    outcome[t] = "exists"
                    continue
                issue(s, t, key, kind="month_end", period=period)
                outcome[t] = "issued"
        except IntegrityError:
            outcome[t] = "exists"  # another worker issued it first
        except LedgerUnsound as e:
            _log.error("month-end statement %s refused: %s %s", period, e, e.problems[:5])
            outcome[t] = str(e)
    return outcome


# --- checking a statement ------------------------------------------------------------------------------------------


@dataclass
class Check:
    """What `verify --against` found: `authentic` is False when the signature or key fails (then the
    ledger was not compared); `problems` lists what differs."""

    authentic: bool
    problems: list[str] = field(default_factory=list)
    statement: dict | None = None


def check_signature(env: dict, trusted: Ed25519PublicKey | None = None) -> list[str]:
    """[] when the statement is signed by the key it names and, if `trusted` is given, that key is the
    trusted one. A statement's own key proves only that it was not edited after signing, not who signed."""
    st, sig = env["statement"], env["signature"]
    try:
        embedded = Ed25519PublicKey.from_public_bytes(base64.b64decode(st["public_key"]["base64"], validate=True))
        value = base64.b64decode(sig["value"], validate=True)
    except (KeyError, TypeError, ValueError) as e:
        return [f"the statement's public key or signature is unreadable ({e})"]
    problems = []
    if sig.get("algorithm") != ALGORITHM:
        problems.append(f"the signature's algorithm is {sig.get('algorithm')!r}, not {ALGORITHM}")
    if st["public_key"].get("fingerprint") != fingerprint(embedded):
        problems.append("the statement's key fingerprint does not belong to its key")
    if trusted is not None and raw_public(trusted) != raw_public(embedded):
        problems.append(
            f"the statement is signed by key {fingerprint(embedded)}, not by the key you kept "
            f"({fingerprint(trusted)}): it was not made by the system you trust"
        )
    try:
        (trusted or embedded).verify(value, canonical(st))
    except InvalidSignature:
        problems.append("the signature does not match the statement: the statement was edited or forged")
    return problems


def recorded_accounts(env: dict) -> dict[str, Recorded]:
    try:
        return {
            code: Recorded(int(a["entries"]), bytes.fromhex(a["head"]), int(a["posted"]))
            for code, a in env["statement"]["accounts"].items()
        }
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise StatementError(f"the statement's accounts are unreadable ({e})") from e


def check_ledger_by_account(session: Session, env: dict) -> dict[str, list[str]]:
    """Re-walk every account the statement recorded, up to its recorded position: {account code: what
    differs} for each account changed since."""
    try:
        tenant = int(env["statement"]["tenant_id"])
    except (KeyError, TypeError, ValueError) as e:
        raise StatementError(f"the statement names no tenant ({e})") from e
    return changed_accounts(session.connection(), tenant, recorded_accounts(env))


def check_ledger(session: Session, env: dict) -> list[str]:
    """check_ledger_by_account as one list, by account code."""
    changed = check_ledger_by_account(session, env)
    return [p for code in sorted(changed) for p in changed[code]]


def narrowed(checked: list[tuple[dict, dict[str, list[str]]]]) -> list[str]:
    """With several statements of one district: for each account changed since a statement, the latest
    earlier statement under which it is still unchanged bounds the rewrite from below ("the change is
    among entries 4–7"). `checked` is [(envelope, check_ledger_by_account result)]."""
    hints = []
    by_time = sorted(checked, key=lambda c: (c[0]["statement"]["tenant_id"], c[0]["statement"]["cutoff_utc"]))
    for i, (env, changed) in enumerate(by_time):
        st = env["statement"]
        for code in sorted(changed):
            upto = int(st["accounts"][code]["entries"])
            for earlier, earlier_changed in reversed(by_time[:i]):
                e = earlier["statement"]
                if e["tenant_id"] != st["tenant_id"] or code not in e["accounts"] or code in earlier_changed:
                    continue
                kept = int(e["accounts"][code]["entries"])
                if kept < upto:
                    hints.append(
                        f"account {code}: unchanged up to entry {kept} (statement of "
                        f"{e['cutoff_beijing'][:19].replace('T', ' ')} Beijing time), so what changed is among "
                        f"entries {kept + 1}–{upto}"
                    )
                break
    return hints


def verify_file(session: Session, document: bytes, trusted: Ed25519PublicKey | None = None) -> Check:
    env = parse(document)
    bad = check_signature(env, trusted)
    if bad:
        return Check(False, bad, env["statement"])
    return Check(True, check_ledger(session, env), env["statement"])
