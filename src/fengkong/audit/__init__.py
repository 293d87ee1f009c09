"""The evidence chain: a hash-chained log of what fengkong saw, decided and was told.

See docs/security.md. This package imports nothing of fengkong but ``events``.
"""
