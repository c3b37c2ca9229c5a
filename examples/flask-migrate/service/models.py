"""The service's first tables, in Flask-SQLAlchemy's style."""

from __future__ import annotations

import enum

from sqlalchemy import func

from service import db


class Role(enum.Enum):
    owner = "owner"
    admin = "admin"
    member = "member"


class Organization(db.Model):
    __tablename__ = "organizations"

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(200), nullable=False)
    slug = db.Column(db.String(100), nullable=False, unique=True)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, server_default=func.now())


class User(db.Model):
    __tablename__ = "users"

    id = db.Column(db.Integer, primary_key=True)
    organization_id = db.Column(
        db.Integer, db.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    email = db.Column(db.String(320), nullable=False, unique=True)
    role = db.Column(db.Enum(Role, name="user_role"), nullable=False, default=Role.member)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, server_default=func.now())


class Agent(db.Model):
    __tablename__ = "agents"
    __table_args__ = (db.UniqueConstraint("organization_id", "name"),)

    id = db.Column(db.Integer, primary_key=True)
    organization_id = db.Column(db.Integer, db.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False)
    name = db.Column(db.String(200), nullable=False)
    created_by_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, server_default=func.now())
