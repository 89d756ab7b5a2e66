"""Forms of the fund's pages: allocations, the budget, a payout proposal (payee and activity picked by
typing part of a name, the amount typed in yuan), the .xlsx list, decisions, batch approval, payments."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import DateField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from app.forms import Form, OnceForm, choices

from . import money
from .errors import AmountInvalid
from .labels import CHANNEL_LABELS, INCOME_KIND_LABELS, REASON_LABELS
from .pick_field import PickField
from .picks import (
    activity_found,
    grid_report_found,
    member_found,
    search_activities,
    search_grid_reports,
    search_members,
)

ATTACHMENT_TYPES = ["pdf", "jpg", "jpeg", "png", "xlsx"]
ATTACHMENT_HINT = _l("Optional: a PDF, a JPEG or PNG photo, or an .xlsx file, up to 10 MB.")


class YuanField(StringField):
    """An amount typed in yuan with at most two decimals ("1,200.50", "¥300"); `fen` holds it in fen."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.fen: int | None = None

    def pre_validate(self, form):
        self.fen = None
        text = (self.data or "").strip()
        if not text:
            return  # DataRequired decides
        try:
            self.fen = money.parse_yuan(text)
        except AmountInvalid as e:
            raise ValidationError(e.message) from None


class IncomeForm(OnceForm):
    kind = SelectField(_l("What it is"))
    source = StringField(
        _l("Source"),
        validators=[DataRequired(_l("Say where the money comes from.")), Length(max=200)],
        description=_l("For example 区财政局 or the donor's name."),
    )
    document_ref = StringField(
        _l("Document reference"),
        validators=[DataRequired(_l("Enter the document's reference (文号 or receipt number).")), Length(max=100)],
    )
    amount = YuanField(_l("Amount (yuan)"), validators=[DataRequired(_l("Enter the amount in yuan."))])
    received_on = DateField(_l("Received on"), validators=[InputRequired(_l("Enter the date the money came in."))])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])
    attachment = FileField(_l("Attachment"), validators=[FileAllowed(ATTACHMENT_TYPES, ATTACHMENT_HINT)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = choices(INCOME_KIND_LABELS.items())


class BudgetForm(Form):
    year = IntegerField(
        _l("Year"),
        validators=[
            InputRequired(_l("Enter the year.")),
            NumberRange(2000, 2100, _l("Give a year from 2000 to 2100.")),
        ],
    )
    budget = YuanField(_l("Budget for the year (yuan)"), validators=[DataRequired(_l("Enter the budget in yuan."))])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])


class RulesForm(Form):
    """The district's fund rules (district administrators: `fund.settings`)."""

    approval_threshold = YuanField(
        _l("Two approvers above (yuan)"), validators=[DataRequired(_l("Enter the threshold in yuan."))]
    )
    approval_days = IntegerField(
        _l("Days to approve before a proposal is released"),
        validators=[InputRequired(_l("Enter a number of days.")), NumberRange(1, 365, _l("From 1 to 365 days."))],
    )
    unclaimed_days = IntegerField(
        _l("Days to pay before an approved payout is returned"),
        validators=[InputRequired(_l("Enter a number of days.")), NumberRange(1, 365, _l("From 1 to 365 days."))],
    )
    rules_reason = StringField(_l("Reason"), validators=[DataRequired(_l("Say why.")), Length(max=200)])


class ProposalForm(OnceForm):
    payee = PickField(
        _l("Payee"),
        search=search_members,
        get=member_found,
        endpoint="fund.pick_members",
        required_message=_l("Type part of the payee's name (or the last 4 digits of the mobile) and choose one."),
    )
    amount = YuanField(_l("Amount (yuan)"), validators=[DataRequired(_l("Enter the amount in yuan."))])
    reason_category = SelectField(_l("Reason category"))
    reason = StringField(_l("Reason"), validators=[DataRequired(_l("Say why the reward is given.")), Length(max=200)])
    grid_report = PickField(
        _l("Verified grid report (evidence)"),
        search=search_grid_reports,
        get=grid_report_found,
        endpoint="fund.pick_grid_reports",
        required=False,
    )
    activity = PickField(
        _l("Activity (evidence)"),
        search=search_activities,
        get=activity_found,
        endpoint="fund.pick_activities",
        required=False,
    )
    evidence = TextAreaField(_l("Evidence: what the payee did"), validators=[Optional(), Length(max=1000)])
    attachment = FileField(_l("Attachment"), validators=[FileAllowed(ATTACHMENT_TYPES, ATTACHMENT_HINT)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reason_category.choices = choices(REASON_LABELS.items())


class ListUploadForm(Form):
    file = FileField(_l("Excel (.xlsx) or CSV file"), validators=[FileRequired(_l("Choose a file to upload."))])


class ListConfirmForm(OnceForm):
    rows = HiddenField()  # signed: the checked rows of the dry run


class DecisionForm(Form):
    decision_reason = StringField(_l("Reason"), validators=[Length(max=200)])


class BatchForm(Form):
    """Approve several at once: the ticked payouts (`payout` checkboxes), asked again on a confirmation
    step (`confirm=yes`)."""

    confirm = HiddenField()
    decision_reason = StringField(_l("Note (optional)"), validators=[Length(max=200)])


class OpenFundForm(Form):
    name = StringField(
        _l("Name of the fund"),
        validators=[DataRequired(_l("Give the fund a name.")), Length(max=100)],
        default="平安志愿者奖励基金",
    )


class PaymentForm(Form):
    channel = SelectField(_l("Paid by (channel)"))
    reference = StringField(
        _l("Reference"),
        validators=[DataRequired(_l("Enter the bank, WeChat or receipt reference.")), Length(max=100)],
    )
    paid_on = DateField(_l("Paid on"), validators=[InputRequired(_l("Enter the date it was paid."))])
    paid_by = StringField(
        _l("Who paid"), validators=[DataRequired(_l("Enter the name of who paid it.")), Length(max=64)]
    )
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])
    confirm = HiddenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.channel.choices = choices(CHANNEL_LABELS.items())
