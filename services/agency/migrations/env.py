from alembic import context

from agency.models import Base
from jukinet.db.migrations import run_env

run_env(context, Base.metadata)
