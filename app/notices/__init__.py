"""notices: what the system tells a member (an activity cancelled or moved, a place on the waiting list
came free, hours approved or rejected). Shown in the app; further channels (SMS, WeChat) plug in
through `channels.register_channel` and are sent after the transaction commits."""

from app.area import Area

AREA = Area(
    name="notices",
    blueprints=["app.notices.blueprint:bp", "app.notices.blueprint:api_bp"],
)
