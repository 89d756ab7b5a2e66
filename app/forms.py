"""Shared form helpers (the field that picks an org unit by name is app/places/fields.py)."""

from __future__ import annotations

import secrets

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectChoice
from wtforms.validators import AnyOf, DataRequired, Length, ValidationError


def choices(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms 3.3+ select choices."""
    return [SelectChoice(value, label) for value, label in pairs]


def show_errors(form, e) -> None:
    """A service's error (an AppError) shown on the form fields it names, or above the form."""
    details = e.details or [{"field": e.field, "message": e.message}]
    for d in details:
        target = getattr(form, d.get("field") or "", None)
        if target is not None and hasattr(target, "errors"):
            target.errors = list(target.errors) + [d["message"]]
        else:
            form.form_errors.append(d["message"])


class Form(FlaskForm):
    """The base of every form in the app: a FlaskForm whose CSRF token renders without an id, so a page
    with several forms (a member's page: assign and grant) has no two elements with one id."""

    class Meta:
        def render_field(self, field, render_kw):
            if field.type == "CSRFTokenField":
                render_kw = {"id": False, **render_kw}
            return super().render_field(field, render_kw)


class OnceForm(Form):
    """A form that creates something (a payout, an income, an award): a one-time key rides along, and
    the view spends it (`spend_once`) in the transaction that does the work, so the same form sent
    twice does it once."""

    once = HiddenField(
        default=lambda: secrets.token_urlsafe(24),
        validators=[
            DataRequired(_l("The form expired. Reload the page and try again.")),
            Length(min=16, max=64, message=_l("The form expired. Reload the page and try again.")),
        ],
    )

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.once.errors:  # a hidden field: its message goes above the form
            self.form_errors.extend(e for e in self.once.errors if e not in self.form_errors)
        return ok


def already_sent() -> str:
    """What a form sent a second time says (nothing was done again)."""
    return str(_l("This form was already sent: what it asked for was done once, not twice."))


def spend_once(session, form: OnceForm) -> bool:
    """Spend the form's key for the signed-in user: False when this form was sent before (say so and
    do nothing)."""
    from flask_login import current_user

    from app.auth.services import spend_form_key

    return spend_form_key(session, current_user.tenant_id, current_user.user_id, form.once.data or "")


class ConfirmForm(Form):
    """The second step of an irreversible action. Its page (templates/confirm.html) says what will
    happen; the action runs only when this form comes back with confirm=yes, so a stray or replayed
    POST from the first step only shows the question again."""

    confirm = HiddenField(validators=[AnyOf(["yes"])])  # confirm.html sends "yes"; nothing else does


class InYears:
    """A date or date-time field's year within [first, last]: a year-1 date is a typo to fix, not a time
    the app can convert (Beijing to UTC steps back before year 1) or store."""

    def __init__(self, first: int, last: int):
        self.first, self.last = first, last

    def __call__(self, form, field) -> None:
        if field.data is not None and not self.first <= field.data.year <= self.last:
            raise ValidationError(
                _l("Give a date between the years %(first)d and %(last)d.", first=self.first, last=self.last)
            )
