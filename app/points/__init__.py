"""points: 爱心积分 — the only area that posts points journals. Today it names the members' wallets;
the earning issue adds rules, journal kinds and keys here."""

from app.area import Area

AREA = Area(name="points")
