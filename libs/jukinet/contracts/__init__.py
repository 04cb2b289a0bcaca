"""Wire types and formats every node shares: identifiers, principals, the identity record,
subjects, code-pool messages, the era calendar, the demo topology, hash-chain checks.
Imports neither FastAPI nor SQLAlchemy.
"""
