from alembic import context

import municipal.copies.models  # noqa: F401 - its tables are part of the schema
from jukinet.db.migrations import run_env
from municipal.models import Base

run_env(context, Base.metadata)
