"""The admin key every test server starts with (``bootstrap_key``), and its header."""

from __future__ import annotations

ADMIN_KEY = "fk_test-admin-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
