"""create agents owned by Supabase users

Revision ID: 0002
Revises: 0001
Create Date: 2026-09-08 10:00:00
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: Union[str, None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", postgresql.UUID(as_uuid=True), nullable=False),
        # Supabase's uuid-ossp lives in the extensions schema of every project (the preset provides it).
        sa.Column("public_id", postgresql.UUID(as_uuid=True),
                  server_default=sa.text("extensions.uuid_generate_v4()"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"],
            name=op.f("fk_agents_organization_id_organizations"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["auth.users.id"], name=op.f("fk_agents_owner_id_users"),
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
    )
    op.execute("ALTER TABLE agents ENABLE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY agents_owner ON agents FOR ALL TO authenticated USING (owner_id = auth.uid())")


def downgrade() -> None:
    op.execute("DROP POLICY agents_owner ON agents")
    op.drop_table("agents")
