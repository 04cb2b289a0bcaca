"""The tiers' record store: its tables and typed rows (``tables``), its SQL
(``repository``), the handover rules (``handover``), the changes and repairs applied
with them (``store``), its own refusals (``errors``), the operator endpoints (``api``)
and the refusals a tier sends back (``refusals``).
"""
