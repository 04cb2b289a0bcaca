"""What every node runs on: settings, the runtime (database, bus, keys), request
dependencies, problem responses, logs and metrics.
"""
