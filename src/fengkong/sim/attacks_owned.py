"""Attacks run with accounts the attackers own: farms, rings, mules, fake credit.

Parameters are drawn from ranges (see docs/simulator.md) so that instances vary.
"""

from __future__ import annotations

import math

from fengkong.sim import identity as ident
from fengkong.sim.campaign import Campaign, Sess
from fengkong.sim.population import DAY, REPAYMENT_MERCHANT, money

HOUR = 3600


def batch_registration(c: Campaign) -> None:
    """Stolen identities registered from a device farm, then credit drawn and cashed out."""
    r = c.rnd
    w = c.pop.world
    n_acc = int(r.uniform(*w.farm_accounts))
    n_dev = max(1, n_acc // r.randint(2, 12))
    emu_share, spoof_share = r.uniform(*w.farm_emulator), 1 - r.uniform(*w.farm_emulator_flag)
    dc_share = r.uniform(*w.farm_datacenter)
    reset_ids = r.random() < w.farm_reset_ids
    burst = int(r.uniform(*w.farm_burst_hours) * HOUR)
    reuse_identity = r.uniform(0.0, 0.5)  # share of phones/IDs stolen from our own users
    recycle_docs = r.uniform(0.0, 0.6)
    cards = [ident.bank_card(c.key("card", i)) for i in range(r.randint(1, n_acc))]
    limit = r.choice([2000, 3000, 5000, 8000])
    draw_delay = r.uniform(1, 24 * 10) * HOUR
    for i in range(n_acc):
        acct = c.new_account()
        ts = c.start_ts + r.randrange(burst)
        dev = c.farm_device(0, r.randrange(n_dev), emu_share, spoof_share, reset_ids, i)
        city = r.randrange(len(ident.CITIES))
        sess = Sess(dev, c.attacker_ip(dc_share, city), c.geo_near(city, drop=0.4))
        if r.random() < reuse_identity:
            victim = c.victim()
            phone, idn = c.pop.phone(victim), c.pop.id_number(victim)
        else:
            k = c.key("stolen", i)
            phone = ident.phone_number(k)
            idn = ident.id_number(k % len(ident.CITIES), k >> 8, 1965 + k % 35)
        doc = c.key("doc", 0) if r.random() < recycle_docs else c.key("doc", i + 1)
        ts = c.register(
            acct, ts, sess, phone=phone, id_number=idn, card=r.choice(cards), doc_key=doc
        )
        draw_ts = ts + int(draw_delay * r.uniform(0.5, 1.5))
        c.mimic(acct, sess, ts, draw_ts, r.randint(0, 6))
        sid = c.session_id()
        sess = Sess(dev, c.attacker_ip(dc_share, city), sess.geo)
        c.emit(draw_ts, "login", acct, sess, sid=sid, phone=phone)
        draw_ts += r.randrange(20, 400)
        amount = limit * r.uniform(0.6, 1.0)
        card = r.choice(cards)
        c.emit(draw_ts, "credit_draw", acct, sess, sid=sid, amount=money(amount), bank_card=card)
        draw_ts += r.randrange(60, 6 * HOUR)
        c.emit(
            draw_ts,
            "withdrawal",
            acct,
            sess,
            sid=sid,
            amount=money(amount * 0.99),
            bank_card=card,
            counterparty={"bank_card": card},
        )


def cash_out_ring(c: Campaign) -> None:
    """套现: accounts buy nothing from colluding merchants; the owner pays them back."""
    r = c.rnd
    w = c.pop.world
    n_merchants, n_acc = r.randint(1, 4), r.randint(3, 30)
    merchants = [c.pop.merchant(c.pop.n_merchants + c.cid * 8 + j) for j in range(n_merchants)]
    cap = round(r.uniform(*w.cashout_cap), -2)
    near_cap, night = r.uniform(*w.cashout_near_cap), r.uniform(*w.cashout_night)
    _honest_customers(c, merchants, int(r.uniform(*w.cashout_honest_customers)))
    owner = c.new_account()
    owner_sess = Sess(c.own_device(99), c.attacker_ip(0.1), None)
    card_owner = ident.bank_card(c.key("ocard"))
    c.register(
        owner,
        c.start_ts,
        owner_sess,
        phone=ident.phone_number(c.key("ophone")),
        id_number=ident.id_number(r.randrange(20), c.key("oid"), 1980),
        card=card_owner,
        doc_key=c.key("odoc"),
    )
    span = int(r.uniform(3, 20) * DAY)
    round_share = r.random()  # how often amounts are suspiciously round
    fee = r.uniform(0.03, 0.10)
    shared_devices = r.random() < 0.5
    for i in range(n_acc):
        acct = c.new_account()
        city = r.randrange(len(ident.CITIES))
        dev = c.own_device(0 if shared_devices else 100 + i)
        sess = Sess(dev, c.attacker_ip(0.05, city), c.geo_near(city))
        ts = c.start_ts + r.randrange(2 * DAY)
        ts = c.register(
            acct,
            ts,
            sess,
            phone=ident.phone_number(c.key("p", i)),
            id_number=ident.id_number(city, c.key("id", i), 1970 + i % 30),
            card=ident.bank_card(c.key("card", i)),
            doc_key=c.key("doc", i),
        )
        c.mimic(acct, sess, ts, ts + span, r.randint(0, 8))
        limit = r.choice([5000, 8000, 10000, 20000])
        for _ in range(r.randint(1, 6)):
            t = c.daytime(ts + r.randrange(span))
            if r.random() < night:
                t = t - (t - c.pop.start_ts) % DAY + r.randrange(22 * HOUR, 29 * HOUR)
            if r.random() < near_cap:
                amount = cap * (1.0 if r.random() < 0.3 else r.uniform(0.95, 0.999))
            elif r.random() < round_share:
                amount = round(min(limit, cap) * r.uniform(0.3, 0.95), -2)
            else:
                amount = min(limit, cap) * r.uniform(0.2, 0.9)
            c.emit(
                t,
                "payment",
                acct,
                sess,
                sid=c.session_id(),
                amount=money(amount),
                merchant_id=r.choice(merchants),
                context={"entry": "qr"} if r.random() < 0.5 else None,
            )
            t += r.randrange(HOUR, 2 * DAY)
            c.emit(
                t,
                "transfer",
                owner,
                owner_sess,
                amount=money(amount * (1 - fee)),
                counterparty={"account_id": c.pop.uid(acct), "name": c.pop.name(acct)},
            )


def _honest_customers(c: Campaign, merchants: list[str], n: int) -> None:
    """Ring merchants are real shops too: honest users buy there now and then. Their
    events are honest traffic (no fraud label) and are added to the honest stream."""
    r = c.rnd
    for _ in range(n):
        u = c.victim()
        ts = c.daytime(c.start_ts + r.randrange(10 * DAY))
        sess = c.victim_session(u, ts)
        c.emit(
            ts,
            "payment",
            u,
            sess,
            actor_fraud=False,
            honest=True,
            amount=money(c.pop.purchase_amount(u, r)),
            merchant_id=r.choice(merchants),
        )


def layered_laundering(c: Campaign) -> None:
    """Drawn money moves through mule chains, fan-out/fan-in or cycles to a final card."""
    r = c.rnd
    topology = r.choice(["chain", "fan", "cycle", "mixed"])
    n_src = r.randint(1, 5)
    hop = (r.uniform(2, 30) * 60, r.uniform(1, 12) * HOUR)
    mules: list[tuple[int, Sess]] = []

    def mule() -> tuple[int, Sess]:
        acct = c.new_account()
        k = len(mules)
        city = r.randrange(len(ident.CITIES))
        sess = Sess(c.own_device(200 + k), c.attacker_ip(0.15, city), c.geo_near(city, 0.6))
        c.register(
            acct,
            c.start_ts + r.randrange(2 * DAY),
            sess,
            phone=ident.phone_number(c.key("mp", k)),
            id_number=ident.id_number(city, c.key("mid", k), 1975 + k % 25),
            card=ident.bank_card(c.key("mc", k)),
            doc_key=c.key("md", k),
        )
        c.mimic(acct, sess, c.start_ts + 2 * DAY, c.start_ts + 6 * DAY, r.randint(0, 5))
        mules.append((acct, sess))
        return acct, sess

    def move(src: tuple[int, Sess], dst: tuple[int, Sess], amount: float, ts: int) -> int:
        ts += int(r.uniform(*hop))
        c.emit(
            ts,
            "transfer",
            src[0],
            src[1],
            sid=c.session_id(),
            amount=money(amount),
            counterparty={"account_id": c.pop.uid(dst[0]), "name": c.pop.name(dst[0])},
        )
        return ts

    final_card = ident.bank_card(c.key("final"))
    t_draw = c.start_ts + int(r.uniform(3, 7) * DAY)
    for _ in range(n_src):
        src = mule()
        amount = r.choice([5000, 8000, 10000, 20000, 30000]) * r.uniform(0.7, 1.0)
        ts = c.daytime(t_draw + r.randrange(DAY))
        c.emit(
            ts,
            "credit_draw",
            src[0],
            src[1],
            sid=c.session_id(),
            amount=money(amount),
            bank_card=ident.bank_card(c.key("mc", len(mules) - 1)),
        )
        holders: list[tuple[tuple[int, Sess], float, int]] = [(src, amount, ts)]
        kind = topology if topology != "mixed" else r.choice(["chain", "fan", "cycle"])
        if kind == "chain":
            for _ in range(r.randint(2, 6)):
                (h, a, t) = holders[-1]
                nxt = mule()
                a *= 1 - r.uniform(*c.pop.world.layering_fee)
                holders.append((nxt, a, move(h, nxt, a, t)))
        elif kind == "fan":
            (h, a, t) = holders[0]
            k = r.randint(3, 10)
            collector = mule()
            t_in = t
            for _ in range(k):
                mid = mule()
                part = a / k * r.uniform(0.85, 1.15)
                t1 = move(h, mid, part, t)
                t_in = max(t_in, move(mid, collector, part * (1 - r.uniform(0, 0.03)), t1))
            holders.append((collector, a * 0.97, t_in))
        else:
            ring = [mule() for _ in range(r.randint(2, 4))]
            (h, a, t) = holders[0]
            t = move(h, ring[0], a, t)
            for lap in range(r.randint(1, 2)):
                for j in range(len(ring)):
                    a *= 1 - r.uniform(0, 0.02)
                    t = move(ring[j], ring[(j + 1) % len(ring)], a, t + lap)
            holders.append((ring[0], a, t))
        (h, a, t) = holders[-1]
        t += int(r.uniform(*hop))
        c.emit(
            t,
            "withdrawal",
            h[0],
            h[1],
            sid=c.session_id(),
            amount=money(a),
            bank_card=final_card,
            counterparty={"bank_card": final_card, "name": "收款人"},
        )


def fake_high_credit(c: Campaign) -> None:
    """Batch accounts trade among themselves to look creditworthy, then all draw big."""
    r = c.rnd
    n_acc = r.randint(5, 40)
    merchants = [
        c.pop.merchant(c.pop.n_merchants + 50_000 + c.cid * 4 + j) for j in range(r.randint(1, 2))
    ]
    farm_emu = r.uniform(0.0, 0.5)
    n_dev = max(1, n_acc // r.randint(2, 8))
    reg_span = int(r.uniform(1, 5) * DAY)
    grow = int(r.uniform(7, 21) * DAY)
    accts: list[tuple[int, Sess]] = []
    for i in range(n_acc):
        acct = c.new_account()
        city = r.randrange(len(ident.CITIES))
        dev = c.farm_device(1, r.randrange(n_dev), farm_emu, 0.5, r.random() < 0.5, i)
        sess = Sess(dev, c.attacker_ip(r.uniform(0, 0.5), city), c.geo_near(city))
        c.register(
            acct,
            c.start_ts + r.randrange(reg_span),
            sess,
            phone=ident.phone_number(c.key("p", i)),
            id_number=ident.id_number(city, c.key("id", i), 1975 + i % 25),
            card=ident.bank_card(c.key("card", i)),
            doc_key=c.key("doc", i),
        )
        accts.append((acct, sess))
    t0 = c.start_ts + reg_span
    for step in range(r.randint(10, 60)):
        a, b = r.sample(accts, 2)
        ts = c.daytime(t0 + r.randrange(grow))
        scale = 100 * math.exp(3 * step / 60) * r.uniform(0.5, 1.5)
        if r.random() < 0.5:
            c.emit(
                ts,
                "transfer",
                a[0],
                a[1],
                sid=c.session_id(),
                amount=money(scale),
                counterparty={"account_id": c.pop.uid(b[0]), "name": c.pop.name(b[0])},
            )
        else:
            c.emit(
                ts,
                "payment",
                a[0],
                a[1],
                sid=c.session_id(),
                amount=money(scale),
                merchant_id=r.choice(merchants),
            )
        if r.random() < 0.2:
            c.emit(
                ts + r.randrange(HOUR, DAY),
                "payment",
                a[0],
                a[1],
                amount=money(scale * 0.5),
                merchant_id=REPAYMENT_MERCHANT,
                attributes={"purpose": "repayment"},
            )
    t_draw = t0 + grow
    spread = int(r.uniform(1, 48) * HOUR)
    for i, (acct, sess) in enumerate(accts):
        ts = t_draw + r.randrange(spread)
        sid = c.session_id()
        if r.random() < 0.5:
            c.emit(ts, "account_change", acct, sess, sid=sid, operation="raise_limit")
            ts += r.randrange(60, 3 * HOUR)
        amount = r.uniform(5000, 50000)
        card = ident.bank_card(c.key("card", i))
        c.emit(ts, "credit_draw", acct, sess, sid=sid, amount=money(amount), bank_card=card)
        c.emit(
            ts + r.randrange(60, 4 * HOUR),
            "withdrawal",
            acct,
            sess,
            amount=money(amount),
            bank_card=card,
            counterparty={"bank_card": card},
        )
