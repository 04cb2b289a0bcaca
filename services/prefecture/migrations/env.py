from alembic import context

from jukinet.db.migrations import run_env
from prefecture.models import Base

run_env(context, Base.metadata)
