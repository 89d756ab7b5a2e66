"""`flask auth invite`: a one-time link with which a member sets their password — for the very first
district administrator, before anyone can use the pages."""

from __future__ import annotations

import click
from flask import current_app, url_for
from flask.cli import AppGroup
from sqlalchemy import false, or_, select

from app.db import unit_of_work
from app.errors import AppError
from app.people.identity import normalise_mobile
from app.people.models import Member
from app.places.models import District

from . import services

auth_cli = AppGroup("auth", help="Sign-in links for members.")


@auth_cli.command("invite")
@click.option("--mobile", required=True, help="the member's mobile number")
@click.option("--district", required=True, help="the district's id or code")
@click.option("--role", default=None, help="also grant this district-wide role first, e.g. district_admin")
def invite(mobile: str, district: str, role: str | None) -> None:
    """Print a one-time link for the member to set their password (an existing password is reset)."""

    try:
        with unit_of_work(current_app.extensions["db_sessionmaker"]) as session:
            by_id = District.id == int(district) if district.isdecimal() and len(district) < 19 else false()
            d = session.scalar(select(District).where(or_(by_id, District.code == district)))
            if d is None:
                raise click.ClickException(f"no district {district!r}")
            member = session.scalar(
                select(Member).where(Member.tenant_id == d.id, Member.mobile == normalise_mobile(mobile))
            )
            if member is None:
                raise click.ClickException("no member with that mobile number in this district")
            if role:
                services.grant_role(session, None, member, role, None)
            inv, token = services.create_invitation(session, None, member, hours=current_app.config["INVITATION_HOURS"])
            with current_app.test_request_context(base_url=current_app.config["BASE_URL"]):
                link = url_for("auth.activate", token=token, _external=True)
            purpose, expires = inv.purpose, inv.expires_at
    except AppError as e:
        raise click.ClickException(e.message) from e
    if role:
        click.echo(f"granted {role} to member {member.id}")
    click.echo(
        f"{'password reset' if purpose == 'reset' else 'invitation'} for member {member.id} "
        f"(works once, until {expires:%Y-%m-%d %H:%M} UTC):"
    )
    click.echo(link)
