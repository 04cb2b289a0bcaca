"""The tiers' record store: tables, handover rules, endpoints, and the refusals a tier
sends back.
"""
