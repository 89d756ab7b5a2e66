"""unique live sibling names: no two live org units under one parent share a name (ignoring letter case)

Revision ID: e170f459e985
Revises: 04763f4af831
Create Date: 2026-12-01 23:55:25.117029

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'e170f459e985'
down_revision: Union[str, Sequence[str], None] = '04763f4af831'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


INDEX = "uq_org_units_live_sibling_name"


def upgrade() -> None:
    """One partial unique index on (tenant_id, parent or 0, lower(name)) over live (not retired) units.

    Existing duplicates would make the index fail with a bare error; name them instead, so the operator
    can rename (or retire) one of each pair and run the migration again."""
    bind = op.get_bind()
    dupes = bind.execute(sa.text(
        "SELECT tenant_id, coalesce(parent_id, 0) AS parent, lower(name) AS name, count(*) AS n FROM org_units "
        "WHERE retired_at IS NULL GROUP BY tenant_id, coalesce(parent_id, 0), lower(name) HAVING count(*) > 1"
    )).fetchall()
    if dupes:
        listed = "; ".join(f"district {d.tenant_id}, parent {d.parent}: {d.n} units named {d.name!r}" for d in dupes[:20])
        raise RuntimeError(f"rename or retire units that share a name under one parent before upgrading: {listed}")
    op.create_index(INDEX, "org_units", ["tenant_id", sa.text("coalesce(parent_id, 0)"), sa.text("lower(name)")],
                    unique=True, sqlite_where=sa.text("retired_at IS NULL"),
                    postgresql_where=sa.text("retired_at IS NULL"))


def downgrade() -> None:
    op.drop_index(INDEX, table_name="org_units")
