"""Industry sharing: consortium risk lists as keyed hashes, signed bundles, PSI, leads.

See docs/sharing.md for the bundle format, the threat model and the commands
(``fengkong share export|import|check|serve|revoke|lead``).
"""

from fengkong.sharing.bundle import Bundle, BundleError, Entry, sign_bundle, verify_bundle
from fengkong.sharing.identifiers import KINDS, canonical
from fengkong.sharing.keys import ConsortiumKeys, MemberDirectory, ShareKeyError
from fengkong.sharing.stage import SharedListStage
from fengkong.sharing.vault import SharingTokenizer, Vault

__all__ = [
    "KINDS",
    "Bundle",
    "BundleError",
    "ConsortiumKeys",
    "Entry",
    "MemberDirectory",
    "ShareKeyError",
    "SharedListStage",
    "SharingTokenizer",
    "Vault",
    "canonical",
    "sign_bundle",
    "verify_bundle",
]
