"""Attacks on real customers' accounts: takeover, scam calls, agencies, lure QR codes.

The victims' accounts are honest (not labelled); the attack events on them are fraud.
"""

from __future__ import annotations

from typing import Any

from fengkong.sim import identity as ident
from fengkong.sim.campaign import Campaign, Sess
from fengkong.sim.population import DAY, doc_image, money

HOUR = 3600


def account_takeover(c: Campaign) -> None:
    """A stolen account: new device and place, credentials changed, loan and transfer out."""
    r = c.rnd
    victim = c.victim()
    home = c.pop.city(victim)
    same_city = r.random() < 0.3
    city = home if same_city else r.randrange(len(ident.CITIES))
    # A third of takeovers use a phone of the victim's model (bought to look familiar).
    model = -1
    if r.random() < 0.3:
        vfp = c.pop.device(victim, 0)["fingerprint"]
        model = next(i for i, m in enumerate(ident.DEVICE_MODELS) if m.model == vfp["model"])
    dev = c.own_device(0, emulator=r.random() < 0.25, model_idx=model)
    dc = r.uniform(0.0, 0.5)
    sess = Sess(dev, c.attacker_ip(dc, city), c.geo_near(city, drop=0.5))
    ts = c.daytime(c.start_ts) if r.random() < 0.6 else c.start_ts + r.randrange(DAY)
    sid = c.session_id()
    c.emit(ts, "login", victim, sess, actor_fraud=False, sid=sid, phone=c.pop.phone(victim))
    ts += r.randrange(30, 600)
    if r.random() < 0.7:
        c.emit(
            ts,
            "account_change",
            victim,
            sess,
            actor_fraud=False,
            sid=sid,
            operation="change_password",
        )
        ts += r.randrange(20, 300)
    if r.random() < 0.4:
        c.emit(
            ts,
            "account_change",
            victim,
            sess,
            actor_fraud=False,
            sid=sid,
            operation="change_phone",
            phone=ident.phone_number(c.key("newphone")),
        )
        ts += r.randrange(20, 300)
    if r.random() < 0.3:  # dormant for a while before cashing out
        ts += r.randrange(2 * HOUR, 2 * DAY)
        sid = c.session_id()
        sess = Sess(dev, c.attacker_ip(dc, city), sess.geo)
        c.emit(ts, "login", victim, sess, actor_fraud=False, sid=sid)
    mule = c.new_account()
    mule_sess = Sess(c.own_device(1), c.attacker_ip(0.2), None)
    c.register(
        mule,
        ts - r.randrange(DAY, 20 * DAY),
        mule_sess,
        phone=ident.phone_number(c.key("mphone")),
        id_number=ident.id_number(r.randrange(20), c.key("mid"), 1990),
        card=ident.bank_card(c.key("mcard")),
        doc_key=c.key("mdoc"),
    )
    if r.random() < 0.8:
        c.emit(
            ts, "account_change", victim, sess, actor_fraud=False, sid=sid, operation="add_payee"
        )
        ts += r.randrange(10, 200)
    limit = float(c.pop.credit_limit[victim])
    total = 0.0
    if r.random() < 0.85:
        total = limit * r.uniform(0.5, 1.0)
        c.emit(
            ts,
            "credit_draw",
            victim,
            sess,
            actor_fraud=False,
            sid=sid,
            amount=money(total),
            bank_card=c.pop.card(victim),
        )
        ts += r.randrange(30, 1200)
    total += r.uniform(200, 5000)  # plus whatever balance there was
    pieces = r.randint(1, 3)
    for _ in range(pieces):
        c.emit(
            ts,
            "transfer",
            victim,
            sess,
            actor_fraud=False,
            sid=sid,
            amount=money(total / pieces),
            counterparty={"account_id": c.pop.uid(mule), "name": c.pop.name(mule)},
        )
        ts += r.randrange(30, 900)
    if r.random() < 0.7:
        ts += r.randrange(5 * 60, 6 * HOUR)
        card = ident.bank_card(c.key("mcard"))
        c.emit(
            ts,
            "withdrawal",
            mule,
            mule_sess,
            amount=money(total * 0.99),
            bank_card=card,
            counterparty={"bank_card": card},
        )


def fake_customer_service(c: Campaign) -> None:
    """A victim in a call with a fake agent closes the credit line, draws, pays a safe account."""
    r = c.rnd
    victim = c.victim()
    ts = c.daytime(c.start_ts)
    sess = c.victim_session(victim, ts)
    ctx: dict[str, object] = {}
    if r.random() < 0.85:  # sometimes the victim acts after hanging up
        ctx = {"in_call": True, "caller_in_contacts": r.random() < 0.1}
    if r.random() < 0.4:
        ctx["screen_sharing"] = True
    if r.random() < 0.2:
        ctx["remote_control_app"] = True
    safe = c.new_account()
    safe_sess = Sess(c.own_device(1, emulator=r.random() < 0.3), c.attacker_ip(0.4), None)
    c.register(
        safe,
        ts - r.randrange(DAY, 10 * DAY),
        safe_sess,
        phone=ident.phone_number(c.key("sp")),
        id_number=ident.id_number(r.randrange(20), c.key("sid"), 1985),
        card=ident.bank_card(c.key("sc")),
        doc_key=c.key("sd"),
    )
    sid = c.session_id()
    context = ctx or None
    c.emit(ts, "login", victim, sess, actor_fraud=False, sid=sid, context=context)
    ts += r.randrange(30, 300)
    for op, p in (("close_credit_line", 0.6), ("raise_limit", 0.5), ("add_payee", 0.5)):
        if r.random() < p:
            c.emit(
                ts,
                "account_change",
                victim,
                sess,
                actor_fraud=False,
                sid=sid,
                operation=op,
                context=context,
            )
            ts += r.randrange(30, 600)
    total = r.uniform(500, 8000)
    if r.random() < 0.6:
        draw = float(c.pop.credit_limit[victim]) * r.uniform(0.3, 1.0)
        c.emit(
            ts,
            "credit_draw",
            victim,
            sess,
            actor_fraud=False,
            sid=sid,
            amount=money(draw),
            bank_card=c.pop.card(victim),
            context=context,
        )
        total += draw
        ts += r.randrange(60, 900)
    pieces = r.randint(1, 3)
    for _ in range(pieces):
        c.emit(
            ts,
            "transfer",
            victim,
            sess,
            actor_fraud=False,
            sid=sid,
            amount=money(total / pieces),
            context=context,
            counterparty={"account_id": c.pop.uid(safe), "name": c.pop.name(safe)},
        )
        ts += r.randrange(60, 1200)
    card = ident.bank_card(c.key("sc"))
    c.emit(
        ts + r.randrange(600, 6 * HOUR),
        "withdrawal",
        safe,
        safe_sess,
        amount=money(total * 0.995),
        bank_card=card,
        counterparty={"bank_card": card},
    )


def complaint_agents(c: Campaign) -> None:
    """An agency operates many customers' accounts from a few devices with recycled images.

    The customers are real users who hired the agency: their accounts are not labelled
    fraud, the agency's actions on them are.
    """
    r = c.rnd
    n_dev = r.randint(1, 4)
    devices = [c.own_device(300 + i, emulator=r.random() < 0.2) for i in range(n_dev)]
    office = r.randrange(len(ident.CITIES))
    office_ips = [ident.residential_ip(office, c.key("office", i)) for i in range(r.randint(1, 3))]
    images = [c.key("img", i) for i in range(r.randint(1, 5))]
    agent_phones = [ident.phone_number(c.key("aphone", i)) for i in range(r.randint(1, 3))]
    vary = r.uniform(0.0, 0.5)  # share of uploads slightly re-encoded (new bytes)
    span = int(r.uniform(3, 20) * DAY)
    for j in range(r.randint(5, 50)):
        cust = c.victim()
        ts = c.start_ts + r.randrange(span)
        ts = ts - (ts - c.pop.start_ts) % DAY + r.randrange(9 * HOUR, 18 * HOUR)
        sess = Sess(r.choice(devices), r.choice(office_ips), c.geo_near(office, 0.5))
        sid = c.session_id()
        c.emit(ts, "login", cust, sess, actor_fraud=False, sid=sid, phone=c.pop.phone(cust))
        for _ in range(r.randint(1, 3)):
            ts += r.randrange(60, 900)
            img = r.choice(images) if r.random() >= vary else c.key("var", j, ts)
            kind = r.choice(["certificate", "other", "id_card", "seal"])
            c.emit(
                ts,
                "document_upload",
                cust,
                sess,
                actor_fraud=False,
                sid=sid,
                document={"kind": kind, "image_b64": doc_image(img)},
            )
        for op, p in (
            ("change_phone", 0.5),
            ("unbind_card", 0.3),
            ("other", 0.5),
            ("close_credit_line", 0.2),
        ):
            if r.random() < p:
                ts += r.randrange(30, 600)
                extra: dict[str, Any] = (
                    {"phone": r.choice(agent_phones)} if op == "change_phone" else {}
                )
                c.emit(
                    ts,
                    "account_change",
                    cust,
                    sess,
                    actor_fraud=False,
                    sid=sid,
                    operation=op,
                    **extra,
                )


_LURE_DOMAINS = (
    "alipay-refund.example-help.com",
    "kefu-zhongxin.example.top",
    "tb-tuikuan.example.cn",
    "jd-secure-pay.example.xyz",
)


def phishing_qr(c: Campaign) -> None:
    """Victims scan a lure QR (refund, deposit, prize) and pay a personal collection account."""
    r = c.rnd
    collectors = []
    for i in range(r.randint(1, 3)):
        acct = c.new_account()
        sess = Sess(c.own_device(400 + i), c.attacker_ip(0.3), None)
        c.register(
            acct,
            c.start_ts - r.randrange(0, DAY),
            sess,
            phone=ident.phone_number(c.key("cp", i)),
            id_number=ident.id_number(r.randrange(20), c.key("cid", i), 1992),
            card=ident.bank_card(c.key("cc", i)),
            doc_key=c.key("cd", i),
        )
        collectors.append((acct, sess))
    style = r.choice(["lookalike", "short", "personal_code"])
    span = int(r.uniform(1, 10) * DAY)
    received = [0.0] * len(collectors)
    for _ in range(r.randint(1, 15)):
        victim = c.victim()
        k = r.randrange(len(collectors))
        coll = c.pop.uid(collectors[k][0])
        ts = c.daytime(c.start_ts + r.randrange(span))
        sess = c.victim_session(victim, ts)
        if style == "lookalike":
            payload = f"https://{r.choice(_LURE_DOMAINS)}/pay?id={r.randrange(10**6)}"
        elif style == "short":
            payload = f"https://t.cn/A6{ident.hexid(c.cid, ts, n=6)}"
        else:  # the same format as an honest personal collection code
            payload = f"https://qr.alipay.com/fkx1{ident.hexid('qr', coll, n=12)}"
        sid = c.session_id()
        c.emit(
            ts,
            "qr_scan",
            victim,
            sess,
            actor_fraud=False,
            sid=sid,
            qr={"payload": payload},
            context={"entry": "qr"},
        )
        ts += r.randrange(10, 240)
        amount = r.uniform(50, 5000)
        if r.random() < 0.3 and style != "personal_code":
            c.emit(
                ts,
                "payment",
                victim,
                sess,
                actor_fraud=False,
                sid=sid,
                amount=money(amount),
                merchant_id=f"p-{coll}",
                context={"entry": "qr"},
            )
        else:
            c.emit(
                ts,
                "transfer",
                victim,
                sess,
                actor_fraud=False,
                sid=sid,
                amount=money(amount),
                context={"entry": "qr"},
                counterparty={"account_id": coll, "name": c.pop.name(collectors[k][0])},
            )
        received[k] += amount
    for k, (acct, sess) in enumerate(collectors):
        if received[k] > 0:
            card = ident.bank_card(c.key("cc", k))
            c.emit(
                c.start_ts + span + r.randrange(HOUR, DAY),
                "withdrawal",
                acct,
                sess,
                amount=money(received[k]),
                bank_card=card,
                counterparty={"bank_card": card},
            )
