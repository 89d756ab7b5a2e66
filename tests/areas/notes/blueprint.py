"""URL rules of the notes area."""

from flask import Blueprint

from app.api.blueprints import api_blueprint

from . import views

bp = Blueprint("notes", __name__)
bp.add_url_rule("/notes/<int:note_id>", view_func=views.note_page)

api_bp = api_blueprint("notes_api", __name__)
api_bp.add_url_rule("/notes/<int:note_id>", view_func=views.note_json)
