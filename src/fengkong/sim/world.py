"""The facts of the world the simulator plays out: every one a knob, on by default.

Two realism configurations share the knobs: **A**, the one defaults are tuned on, and
**B**, whose values and attack ranges are drawn elsewhere and which no tuning may look
at (see docs/evaluation.md). A knob at 0 (or ``False``) switches its fact off.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

Range = tuple[float, float]


@dataclass(frozen=True)
class World:
    """World facts (honest life, networks, fingerprints) and attack parameter ranges."""

    name: str = "A"
    # --- fingerprints ------------------------------------------------------------------
    canvas_per_model: bool = True  # every phone of one model and OS renders one canvas hash
    web_without_cookie: float = 0.4  # web sessions that send no device_id
    placeholder_device_id: float = 0.01  # app installs that send a placeholder id
    os_update_per_day: float = 1 / 45  # OS/app updates: new os_version and canvas hash
    harmonyos: bool = True  # HUAWEI phones report android with a HarmonyOS version
    # --- networks ------------------------------------------------------------------------
    cgnat_gateways: int = 2  # gateway /24s per carrier per city (thousands behind each)
    mobile_ipv6_share: float = 0.3  # mobile sessions over IPv6 (2409:/2408:/240e:)
    roaming_home_egress: float = 0.5  # away from home, mobile data egresses in the home city
    office_cloud_share: float = 0.1  # users whose office exit is a cloud (data-centre) IP
    office_size: Range = (10, 150)
    vpn_share: float = 0.03  # users with a personal VPN on a hosting IP
    vpn_session_share: float = 0.3  # of their sessions
    # --- households and life -----------------------------------------------------------
    family_share: float = 0.3  # users in families sharing the home IP and a tablet
    family_tablet_use: float = 0.15  # sessions of family members on the shared tablet
    trip_per_day: float = 1 / 40  # business trips across the country
    flight_share: float = 0.6  # by flight (else high-speed train)
    phone_upgrade_per_day: float = 1 / 150  # new phone, SMS login
    call_rate: float = 0.04  # sessions during a phone call
    stranger_call_share: float = 0.35  # calls with someone not in the contacts (courier, bank)
    large_purchase_per_day: float = 1 / 60  # appliances, phones, furniture
    rent_share: float = 0.3  # users paying monthly rent by transfer
    draw_withdraw_share: float = 0.6  # credit draws followed by a withdrawal to own card
    vendor_transfer_rate: float = 0.08  # street-vendor transfers (new payee by QR) per session
    brand_qr_share: float = 0.5  # QR payments scanning a brand's code first
    missing_geo_users: float = 0.15  # users who deny the location permission
    missing_geo_events: float = 0.1  # events without geo from the others
    numeric_amount_share: float = 0.3  # amounts as JSON numbers (else decimal strings)
    currency_omitted_share: float = 0.6  # events without a currency (CNY assumed)
    # --- attacks: per-instance parameters drawn from these ranges ------------------------
    farm_rare_model: Range = (0.2, 0.9)  # farm phones of models honest users rarely own
    farm_emulator: Range = (0.0, 1.0)  # share of a farm's devices that are emulators
    farm_emulator_flag: Range = (0.0, 1.0)  # share of emulators that admit it
    farm_reset_ids: float = 0.6  # farms resetting the device_id per account
    farm_datacenter: Range = (0.0, 0.8)
    farm_accounts: Range = (5, 60)
    farm_burst_hours: Range = (0.5, 72)
    cashout_cap: Range = (2000, 10000)  # the per-transaction cap cash-out hugs
    cashout_near_cap: Range = (0.4, 1.0)  # share of payments at or just below the cap
    cashout_night: Range = (0.2, 0.9)  # share of payments at night
    cashout_honest_customers: Range = (0, 30)  # honest payers of a ring merchant
    layering_fee: Range = (0.0, 0.03)

    def with_(self, **changes: Any) -> World:
        return replace(self, **changes)

    def knobs(self) -> dict[str, Any]:
        """Every knob and its value (for ``fengkong sim`` output and docs)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


WORLD_A = World()
WORLD_B = World(
    name="B",
    web_without_cookie=0.6,
    placeholder_device_id=0.03,
    os_update_per_day=1 / 25,
    cgnat_gateways=1,
    mobile_ipv6_share=0.5,
    roaming_home_egress=0.7,
    office_cloud_share=0.18,
    office_size=(30, 400),
    vpn_share=0.06,
    vpn_session_share=0.5,
    family_share=0.45,
    family_tablet_use=0.25,
    trip_per_day=1 / 20,
    flight_share=0.75,
    phone_upgrade_per_day=1 / 90,
    call_rate=0.07,
    stranger_call_share=0.5,
    large_purchase_per_day=1 / 30,
    rent_share=0.45,
    draw_withdraw_share=0.8,
    vendor_transfer_rate=0.15,
    brand_qr_share=0.7,
    missing_geo_users=0.25,
    missing_geo_events=0.2,
    numeric_amount_share=0.5,
    currency_omitted_share=0.8,
    farm_rare_model=(0.1, 0.6),
    farm_emulator=(0.0, 0.6),
    farm_emulator_flag=(0.0, 0.4),
    farm_reset_ids=0.8,
    farm_datacenter=(0.0, 0.4),
    farm_accounts=(8, 120),
    farm_burst_hours=(2, 120),
    cashout_cap=(1000, 20000),
    cashout_near_cap=(0.2, 0.8),
    cashout_night=(0.1, 0.6),
    cashout_honest_customers=(10, 80),
    layering_fee=(0.005, 0.05),
)
WORLDS: dict[str, World] = {"A": WORLD_A, "B": WORLD_B}
