"""Import jobs keep no uploaded files once done; scope, outcome codes and a heartbeat; stored files purged

Every file uploaded so far (ID numbers and full mobiles in it) is deleted: jobs that had not finished
become "abandoned" (upload again to import). Messages become codes with parameters (translated when
shown); the old Chinese text is dropped.

Revision ID: 04763f4af831
Revises: c13050374d5c
Create Date: 2026-12-01 23:55:30.690311

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '04763f4af831'
down_revision: Union[str, Sequence[str], None] = 'c13050374d5c'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

NEW_STATUSES = "status IN ('checked', 'queued', 'importing', 'done', 'failed', 'interrupted', 'abandoned')"
OLD_STATUSES = "status IN ('checking', 'checked', 'importing', 'done', 'failed')"


def upgrade() -> None:
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.drop_constraint('ck_import_jobs_status', type_='check')
        batch_op.add_column(sa.Column('scope_path', sa.String(length=400), nullable=True))
        batch_op.add_column(sa.Column('outcome', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('outcome_params', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(), nullable=True))
        batch_op.alter_column('content', existing_type=sa.LargeBinary(), nullable=True)
        batch_op.drop_column('message')
    jobs = sa.table('import_jobs', sa.column('status', sa.String), sa.column('content', sa.LargeBinary),
                    sa.column('outcome', sa.String), sa.column('finished_at', sa.DateTime),
                    sa.column('created_at', sa.DateTime))
    # The purge: no uploaded file survives this migration.
    op.execute(jobs.update().where(jobs.c.status.in_(('checking', 'checked', 'importing')),
                                   jobs.c.content.is_not(None))
               .values(status='abandoned', outcome='abandoned', finished_at=jobs.c.created_at))
    op.execute(jobs.update().where(jobs.c.status == 'checking').values(status='abandoned', outcome='abandoned'))
    op.execute(jobs.update().where(jobs.c.status == 'done').values(outcome=None))
    op.execute(jobs.update().values(content=None))
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_import_jobs_status'), NEW_STATUSES)


def downgrade() -> None:
    jobs = sa.table('import_jobs', sa.column('status', sa.String), sa.column('content', sa.LargeBinary))
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.drop_constraint('ck_import_jobs_status', type_='check')
    # The files are gone: a job that was not done or failed can only come back as failed.
    op.execute(jobs.update().where(jobs.c.status.not_in(('done', 'failed', 'checked'))).values(status='failed'))
    op.execute(jobs.update().where(jobs.c.content.is_(None)).values(content=b''))
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message', sa.String(length=500), nullable=True))
        batch_op.alter_column('content', existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column('heartbeat_at')
        batch_op.drop_column('outcome_params')
        batch_op.drop_column('outcome')
        batch_op.drop_column('scope_path')
        batch_op.create_check_constraint(op.f('ck_import_jobs_status'), OLD_STATUSES)
