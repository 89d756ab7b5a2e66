"""merge fund and gridreports heads (fund-pages branch only; the lead chains them instead)

Revision ID: 7272895162ed
Revises: 5d0979e058c8, 96a500477bc7
Create Date: 2026-12-05 15:39:20.232972

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '7272895162ed'
down_revision: Union[str, Sequence[str], None] = ('5d0979e058c8', '96a500477bc7')
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    pass


def downgrade() -> None:
    """Downgrade schema."""
    pass
