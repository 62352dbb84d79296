"""campaign season and kit audiences as sets of account kinds

Revision ID: dd2c403d4afe
Revises: d859a70b5143
Create Date: 2026-12-03 17:30:00.000000

A campaign gains its season (``opens_on``, ``closes_on``: 1 February and 31 March of its
year, widened if its week falls outside them). A kit's audience becomes the account kinds
that may download it, space-separated; the old names map to the kinds they allowed,
except that a citizens' kit now also opens to organizations (schools and organizations
are the first to hand its sheet out, issue 18). The rollups, made under the week's rule,
are emptied with their watermarks, and a summary rollup (a day's figures by one breakdown
at a time, what the whole-season dashboard reads) is added: the next rollup (``flask rollup``, or any dashboard)
counts every event again under the season's rule. Events are never changed.
"""
from datetime import date

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'dd2c403d4afe'
down_revision = 'd859a70b5143'
branch_labels = None
depends_on = None

AUDIENCES = {
    "everyone": "citizen organization",
    "citizens": "citizen organization",
    "organizations": "organization",
    "professionals": "approved_organization",
}
# Back to the closest old name (a set with no old name becomes the narrowest that fits).
OLD_NAMES = {
    "citizen organization": "everyone",
    "citizen organization approved_organization": "everyone",
    "citizen": "citizens",
    "citizen approved_organization": "citizens",
    "organization": "organizations",
    "organization approved_organization": "organizations",
    "approved_organization": "professionals",
}
ROLLUP_TABLES = ("daily_downloads", "daily_firsts", "first_kit", "first_organization",
                 "fetch_state", "daily_scans", "rollup_state")
# The summary rollup (daily_summary) is new: the next rollup fills it with the others.


def _reset_rollups():
    for table in ROLLUP_TABLES:
        op.execute(sa.text(f"DELETE FROM {table}"))


def _foreign_keys(on: bool):
    """SQLite rebuilds a table to alter a column: its foreign keys (the portal turns them
    on) must be off meanwhile, which SQLite accepts only outside a transaction."""
    if op.get_bind().dialect.name == "sqlite":
        with op.get_context().autocommit_block():
            op.execute(sa.text(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}"))


def upgrade():
    _foreign_keys(False)
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opens_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('closes_on', sa.Date(), nullable=True))
    connection = op.get_bind()
    campaign = sa.table('campaign', sa.column('id', sa.Integer), sa.column('year', sa.Integer),
                        sa.column('starts_on', sa.Date), sa.column('ends_on', sa.Date),
                        sa.column('opens_on', sa.Date), sa.column('closes_on', sa.Date))
    for row in connection.execute(sa.select(campaign.c.id, campaign.c.year, campaign.c.starts_on,
                                            campaign.c.ends_on)).all():
        starts_on, ends_on = row.starts_on, row.ends_on
        if isinstance(starts_on, str):  # SQLite without the column's type
            starts_on, ends_on = date.fromisoformat(starts_on), date.fromisoformat(ends_on)
        connection.execute(campaign.update().where(campaign.c.id == row.id).values(
            opens_on=min(date(row.year, 2, 1), starts_on),
            closes_on=max(date(row.year, 3, 31), ends_on)))
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.alter_column('opens_on', existing_type=sa.Date(), nullable=False)
        batch_op.alter_column('closes_on', existing_type=sa.Date(), nullable=False)

    with op.batch_alter_table('kit', schema=None) as batch_op:
        batch_op.alter_column('audience', existing_type=sa.String(length=20),
                              type_=sa.String(length=60), existing_nullable=False)
    kit = sa.table('kit', sa.column('audience', sa.String))
    for old, new in AUDIENCES.items():
        connection.execute(kit.update().where(kit.c.audience == old).values(audience=new))

    op.create_table('daily_summary',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('breakdown', sa.String(length=20), nullable=False),
    sa.Column('key', sa.String(length=20), nullable=False),
    sa.Column('downloads', sa.Integer(), nullable=False),
    sa.Column('unique_downloads', sa.Integer(), nullable=False),
    sa.Column('robots', sa.Integer(), nullable=False),
    sa.Column('double_clicks', sa.Integer(), nullable=False),
    sa.Column('personalized_downloads', sa.Integer(), nullable=False),
    sa.Column('zip_downloads', sa.Integer(), nullable=False),
    sa.Column('kits_distributed', sa.Integer(), nullable=False),
    sa.Column('organizations_reached', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_daily_summary_campaign_id_campaign')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_daily_summary')),
    sa.UniqueConstraint('campaign_id', 'day', 'breakdown', 'key', name='uq_daily_summary_dims')
    )
    _reset_rollups()
    _foreign_keys(True)


def downgrade():
    _foreign_keys(False)
    op.drop_table('daily_summary')
    connection = op.get_bind()
    kit = sa.table('kit', sa.column('audience', sa.String))
    for new, old in OLD_NAMES.items():
        connection.execute(kit.update().where(kit.c.audience == new).values(audience=old))
    with op.batch_alter_table('kit', schema=None) as batch_op:
        batch_op.alter_column('audience', existing_type=sa.String(length=60),
                              type_=sa.String(length=20), existing_nullable=False)
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.drop_column('closes_on')
        batch_op.drop_column('opens_on')
    _reset_rollups()  # counted under the season's rule: the week's rule counts again
    _foreign_keys(True)
