"""The FastAPI application every service is built from: the node runtime plus the shared
endpoints.
"""
