from alembic import context

from jukinet.migrations import run_env
from municipal.models import Base

run_env(context, Base.metadata)
