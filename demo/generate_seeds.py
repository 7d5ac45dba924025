"""Generate the Customer 360 seed CSVs (deterministic: random.Random(42)).

The CSVs are committed; re-running this script rewrites them byte for byte:

    python demo/generate_seeds.py [--out demo/customer-360/seeds]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
from datetime import date, datetime, timedelta
from pathlib import Path

SEED = 42
CUSTOMERS = 300
ORDERS = 900
TICKETS = 400
# Every date is relative to this anchor so the data never depends on the clock.
ANCHOR = date(2026, 1, 1)

FIRST_NAMES = [
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Margaret",
    "Dennis",
    "Barbara",
    "Ken",
    "Frances",
    "Edsger",
    "Radia",
    "Donald",
    "Hedy",
    "Tim",
    "Katherine",
    "Guido",
    "Anita",
    "Bjarne",
    "Sophie",
    "Niklaus",
    "Joan",
    "John",
    "Mary",
    "Leslie",
    "Shafi",
    "Yukihiro",
    "Lynn",
]
LAST_NAMES = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Ritchie",
    "Liskov",
    "Thompson",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Knuth",
    "Lamarr",
    "Berners-Lee",
    "Johnson",
    "van Rossum",
    "Borg",
    "Stroustrup",
    "Wilson",
    "Wirth",
    "Clarke",
    "Backus",
    "Keller",
    "Lamport",
]
COUNTRIES = ["DE", "FR", "GB", "NL", "US", "CA", "JP", "BR", "IN", "AU"]
SEGMENTS = ["consumer", "small_business", "enterprise"]
CHANNELS = ["web", "mobile", "store", "partner"]
ORDER_STATUSES = ["completed"] * 8 + ["returned", "cancelled"]
PRIORITIES = ["low", "medium", "high", "urgent"]
CATEGORIES = ["billing", "delivery", "product", "account", "other"]


def _write(path: Path, header: list[str], rows: list[list[object]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    tmp = path.with_suffix(".csv.tmp")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    os.replace(tmp, path)


def _customers(rng: random.Random) -> list[list[object]]:
    rows: list[list[object]] = []
    for n in range(1, CUSTOMERS + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        handle = f"{first}.{last}".lower().replace(" ", "").replace("-", "")
        email = f"{handle}{n}@example.com"
        phone = f"+1-555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"
        signup = ANCHOR - timedelta(days=rng.randint(30, 1500))
        # Some raw values are messy on purpose: silver trims and lower-cases them.
        if rng.random() < 0.1:
            email = f"  {email.upper()} "
        rows.append(
            [
                n,
                first,
                last,
                email,
                phone,
                rng.choice(COUNTRIES),
                rng.choice(SEGMENTS),
                signup.isoformat(),
            ]
        )
    return rows


def _orders(rng: random.Random, customers: list[list[object]]) -> list[list[object]]:
    rows: list[list[object]] = []
    for n in range(1, ORDERS + 1):
        customer = rng.choice(customers)
        signup = date.fromisoformat(str(customer[7]))
        span = max((ANCHOR - signup).days, 1)
        ordered = signup + timedelta(days=rng.randint(0, span - 1))
        amount = round(rng.lognormvariate(4.0, 0.8), 2)
        rows.append(
            [
                1000 + n,
                customer[0],
                ordered.isoformat(),
                rng.choice(ORDER_STATUSES),
                f"{amount:.2f}",
                rng.choice(CHANNELS),
            ]
        )
    return rows


def _tickets(rng: random.Random, customers: list[list[object]]) -> list[list[object]]:
    rows: list[list[object]] = []
    for n in range(1, TICKETS + 1):
        customer = rng.choice(customers)
        opened = datetime.combine(ANCHOR, datetime.min.time()) - timedelta(
            minutes=rng.randint(60, 60 * 24 * 365)
        )
        resolved = rng.random() < 0.85
        closed = opened + timedelta(minutes=rng.randint(10, 60 * 24 * 14)) if resolved else None
        score = rng.randint(1, 5) if resolved and rng.random() < 0.7 else None
        rows.append(
            [
                5000 + n,
                customer[0],
                opened.isoformat(sep=" "),
                closed.isoformat(sep=" ") if closed else "",
                rng.choice(PRIORITIES),
                rng.choice(CATEGORIES),
                "" if score is None else score,
            ]
        )
    return rows


def generate(out: Path) -> None:
    rng = random.Random(SEED)
    out.mkdir(parents=True, exist_ok=True)
    customers = _customers(rng)
    _write(
        out / "raw_customers.csv",
        [
            "customer_id",
            "first_name",
            "last_name",
            "email",
            "phone",
            "country",
            "segment",
            "signup_date",
        ],
        customers,
    )
    _write(
        out / "raw_orders.csv",
        ["order_id", "customer_id", "order_date", "status", "amount", "channel"],
        _orders(rng, customers),
    )
    _write(
        out / "raw_support_tickets.csv",
        [
            "ticket_id",
            "customer_id",
            "opened_at",
            "closed_at",
            "priority",
            "category",
            "satisfaction_score",
        ],
        _tickets(rng, customers),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parent / "customer-360" / "seeds"
    parser.add_argument("--out", type=Path, default=default, help="seed folder to write")
    args = parser.parse_args()
    generate(args.out)
    print(f"wrote seeds to {args.out}")


if __name__ == "__main__":
    main()
