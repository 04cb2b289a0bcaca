"""Reconciliation (整合性確認): digests per municipality and code range, repair, endpoints and
the driver.
"""
