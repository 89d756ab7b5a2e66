"""Sign-in and password forms (WTForms through Flask-WTF, which also checks the CSRF token)."""

from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from app.forms import Form
from app.people.identity import normalise_mobile

MOBILE_RE = r"^1[3-9]\d{9}$"


class SignInForm(Form):
    district = SelectField(_l("District"), coerce=int)
    # "138 0013 8000" and "+86 13800138000" are the same number (the throttle reads it the same way).
    mobile = StringField(
        _l("Mobile number"),
        filters=[lambda v: normalise_mobile(v) if v else v],
        validators=[
            DataRequired(_l("Enter your mobile number.")),
            Regexp(MOBILE_RE, message=_l("Enter an 11-digit mainland mobile number, such as 13800138000.")),
        ],
        render_kw={"inputmode": "numeric", "autocomplete": "username"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(_l("Enter your password."))],
        render_kw={"autocomplete": "current-password"},
    )


class ChangePasswordForm(Form):
    current_password = PasswordField(
        _l("Current password"),
        validators=[DataRequired(_l("Enter your current password."))],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        _l("New password"),
        validators=[
            DataRequired(_l("Choose a new password of 8 to 128 characters.")),
            Length(min=8, max=128, message=_l("Use 8 to 128 characters.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[EqualTo("new_password", message=_l("The two new passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )


class SetPasswordForm(Form):
    """A member sets their own password with a one-time link (invitation or reset)."""

    new_password = PasswordField(
        _l("New password"),
        validators=[
            DataRequired(_l("Choose a new password of 8 to 128 characters.")),
            Length(min=8, max=128, message=_l("Use 8 to 128 characters.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[EqualTo("new_password", message=_l("The two new passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )
