"""The booking-platform dataset used across Part 01, built deterministically.

One schema (SQLAlchemy Core, so the same DDL runs on SQLite and MySQL/MariaDB) and one
seeded generator whose sizes scale from a few rows to millions:

    users ──< properties ──< bookings ──< payments
      │            └───────< reviews
      └──< messages >── users

Nothing here reads the clock or the network: the same seed gives the same rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

ROLES = ("guest", "host", "admin")
BOOKING_STATUSES = ("pending", "confirmed", "canceled")
PAYMENT_METHODS = ("credit_card", "paypal", "stripe")
EPOCH = dt.datetime(2025, 1, 1, 9, 0, 0)  # every generated date is counted from here

FIRST_NAMES = ("Amina", "Kwame", "Zanele", "Tunde", "Fatima", "Chidi", "Lerato", "Yusuf", "Nia", "Kofi",
               "Ama", "Sipho", "Halima", "Jabari", "Wanjiru", "Tariq", "Imani", "Bongani", "Esi", "Musa",
               "Grace", "Daniel", "Sofia", "Lucas", "Mei", "Arjun", "Elena", "Omar", "Hana", "Pedro")
LAST_NAMES = ("Okafor", "Mensah", "Dlamini", "Adeyemi", "Kamau", "Diallo", "Nkosi", "Abubakar", "Otieno",
              "Boateng", "Ndlovu", "Traore", "Mwangi", "Balogun", "Keita", "Achieng", "Owusu", "Banda",
              "Garcia", "Chen", "Kumar", "Rossi", "Haddad", "Tanaka", "Silva", "Novak", "Ibrahim", "Park")
CITIES = ("Lagos", "Nairobi", "Accra", "Kigali", "Cape Town", "Cairo", "Casablanca", "Addis Ababa",
          "Dakar", "Kampala", "Lusaka", "Dar es Salaam", "Johannesburg", "Abuja", "Tunis", "Windhoek")
PLACE_KINDS = ("Loft", "Villa", "Studio", "Cottage", "Apartment", "Bungalow", "Guest house", "Penthouse")
REVIEW_WORDS = ("clean", "quiet", "bright", "central", "friendly host", "great view", "fast wifi",
                "noisy street", "small kitchen", "easy check-in", "comfortable bed", "would return")


metadata = sa.MetaData()

users = sa.Table(
    "users", metadata,
    sa.Column("user_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("first_name", sa.String(50), nullable=False),
    sa.Column("last_name", sa.String(50), nullable=False),
    sa.Column("email", sa.String(120), nullable=False, unique=True),
    sa.Column("phone", sa.String(30)),
    sa.Column("role", sa.String(10), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.CheckConstraint("role IN ('guest', 'host', 'admin')", name="ck_users_role"),
)

properties = sa.Table(
    "properties", metadata,
    sa.Column("property_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("host_id", sa.Integer, sa.ForeignKey("users.user_id"), nullable=False),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("location", sa.String(120), nullable=False),
    sa.Column("price_per_night", sa.Numeric(10, 2), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.CheckConstraint("price_per_night > 0", name="ck_properties_price_positive"),
)

bookings = sa.Table(
    "bookings", metadata,
    sa.Column("booking_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("property_id", sa.Integer, sa.ForeignKey("properties.property_id"), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.user_id"), nullable=False),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("end_date", sa.Date, nullable=False),
    sa.Column("total_price", sa.Numeric(10, 2), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.CheckConstraint("end_date > start_date", name="ck_bookings_dates"),
    sa.CheckConstraint("status IN ('pending', 'confirmed', 'canceled')", name="ck_bookings_status"),
)

payments = sa.Table(
    "payments", metadata,
    sa.Column("payment_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("booking_id", sa.Integer, sa.ForeignKey("bookings.booking_id"), nullable=False),
    sa.Column("amount", sa.Numeric(10, 2), nullable=False),
    sa.Column("payment_date", sa.DateTime, nullable=False),
    sa.Column("payment_method", sa.String(20), nullable=False),
    sa.CheckConstraint("amount > 0", name="ck_payments_amount_positive"),
    sa.CheckConstraint("payment_method IN ('credit_card', 'paypal', 'stripe')", name="ck_payments_method"),
)

reviews = sa.Table(
    "reviews", metadata,
    sa.Column("review_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("property_id", sa.Integer, sa.ForeignKey("properties.property_id"), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.user_id"), nullable=False),
    sa.Column("rating", sa.Integer, nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.CheckConstraint("rating BETWEEN 1 AND 5", name="ck_reviews_rating"),
)

messages = sa.Table(
    "messages", metadata,
    sa.Column("message_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sender_id", sa.Integer, sa.ForeignKey("users.user_id"), nullable=False),
    sa.Column("recipient_id", sa.Integer, sa.ForeignKey("users.user_id"), nullable=False),
    sa.Column("message_body", sa.Text, nullable=False),
    sa.Column("sent_at", sa.DateTime, nullable=False),
)

TABLES = ("users", "properties", "bookings", "payments", "reviews", "messages")


@dataclass(frozen=True)
class Sizes:
    """Row counts derived from the number of users, so one knob scales everything."""

    users: int

    def __post_init__(self):
        if not isinstance(self.users, int) or self.users < 10:
            raise ValueError(f"users must be an integer >= 10 (got {self.users!r})")

    @property
    def properties(self) -> int:
        return max(2, self.users // 5)

    @property
    def bookings(self) -> int:
        return self.users * 3

    @property
    def messages(self) -> int:
        return self.users


def _validate_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    return role


def generate(users: int = 1_000, seed: int = 42) -> dict[str, list[dict]]:
    """All six tables as lists of row dicts, for ``users`` users. Same seed → same rows."""
    sizes = Sizes(users)
    rng = random.Random(seed)
    data: dict[str, list[dict]] = {name: [] for name in TABLES}

    # users: about 75% guests, 20% hosts, 5% admins; the first user is always an admin
    for uid in range(1, sizes.users + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        role = "admin" if uid == 1 else rng.choices(ROLES, weights=(75, 20, 5))[0]
        data["users"].append({
            "user_id": uid, "first_name": first, "last_name": last,
            "email": f"{first}.{last}.{uid}@example.com".lower(),
            "phone": None if rng.random() < 0.2 else f"+234{rng.randrange(10**9, 10**10)}",
            "role": _validate_role(role),
            "created_at": EPOCH + dt.timedelta(minutes=rng.randrange(0, 60 * 24 * 90)),
        })
    hosts = [u["user_id"] for u in data["users"] if u["role"] == "host"] or [1]

    for pid in range(1, sizes.properties + 1):
        kind, city = rng.choice(PLACE_KINDS), rng.choice(CITIES)
        data["properties"].append({
            "property_id": pid, "host_id": rng.choice(hosts),
            "name": f"{city} {kind} {pid}",
            "description": f"A {kind.lower()} in {city} sleeping {rng.randint(1, 8)}.",
            "location": city,
            "price_per_night": Decimal(rng.randrange(2_000, 40_000)) / 100,
            "created_at": EPOCH + dt.timedelta(days=rng.randrange(0, 90)),
        })
    price = {p["property_id"]: p["price_per_night"] for p in data["properties"]}

    for bid in range(1, sizes.bookings + 1):
        pid = rng.randrange(1, sizes.properties + 1)
        start = EPOCH.date() + dt.timedelta(days=rng.randrange(30, 730))
        nights = rng.choice((1, 2, 2, 3, 3, 4, 5, 7, 10, 14))
        status = rng.choices(BOOKING_STATUSES, weights=(15, 70, 15))[0]
        data["bookings"].append({
            "booking_id": bid, "property_id": pid, "user_id": rng.randrange(1, sizes.users + 1),
            "start_date": start, "end_date": start + dt.timedelta(days=nights),
            "total_price": price[pid] * nights, "status": status,
            "created_at": dt.datetime.combine(start, dt.time(12)) - dt.timedelta(days=rng.randrange(1, 60)),
        })

    for b in data["bookings"]:
        if b["status"] == "confirmed":
            data["payments"].append({
                "payment_id": len(data["payments"]) + 1, "booking_id": b["booking_id"],
                "amount": b["total_price"], "payment_date": b["created_at"] + dt.timedelta(hours=1),
                "payment_method": rng.choice(PAYMENT_METHODS),
            })
            if rng.random() < 0.5:
                words = rng.sample(REVIEW_WORDS, 2)
                data["reviews"].append({
                    "review_id": len(data["reviews"]) + 1, "property_id": b["property_id"],
                    "user_id": b["user_id"], "rating": rng.choices((1, 2, 3, 4, 5), weights=(3, 5, 15, 40, 37))[0],
                    "comment": f"{words[0].capitalize()}, {words[1]}.",
                    "created_at": dt.datetime.combine(b["end_date"], dt.time(10)),
                })

    for mid in range(1, sizes.messages + 1):
        sender = rng.randrange(1, sizes.users + 1)
        recipient = rng.randrange(1, sizes.users + 1)
        if recipient == sender:
            recipient = sender % sizes.users + 1
        data["messages"].append({
            "message_id": mid, "sender_id": sender, "recipient_id": recipient,
            "message_body": f"Hello! Is the place free on day {rng.randrange(1, 365)}?",
            "sent_at": EPOCH + dt.timedelta(minutes=rng.randrange(0, 60 * 24 * 365)),
        })
    return data


def create_schema(engine, tables=TABLES) -> None:
    """Create the tables (dialect-aware DDL from the same definitions)."""
    metadata.create_all(engine, tables=[metadata.tables[t] for t in tables])


def drop_schema(engine) -> None:
    metadata.drop_all(engine)


def load(engine, data: dict[str, list[dict]], batch_size: int = 5_000) -> dict[str, int]:
    """Insert generated rows in batches (parents before children). Returns row counts."""
    counts = {}
    with engine.begin() as conn:
        for name in TABLES:
            rows = data.get(name, [])
            table = metadata.tables[name]
            for i in range(0, len(rows), batch_size):
                conn.execute(table.insert(), rows[i:i + batch_size])
            counts[name] = len(rows)
    return counts


def build(engine, users: int = 1_000, seed: int = 42) -> dict[str, int]:
    """Create the schema and load a fresh dataset: ``datasets.build(ws.engine(), users=500)``."""
    create_schema(engine)
    return load(engine, generate(users, seed))


def write_users_csv(path: Path | str, rows: int = 1_000, seed: int = 7) -> Path:
    """A users CSV (user_id, name, email, age) for the streaming chapter."""
    if not isinstance(rows, int) or rows < 0:
        raise ValueError(f"rows must be a non-negative integer (got {rows!r})")
    rng = random.Random(seed)
    path = Path(path)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["user_id", "name", "email", "age"])
        for uid in range(1, rows + 1):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            writer.writerow([uid, f"{first} {last}", f"{first}.{last}.{uid}@example.com".lower(),
                             rng.randint(18, 90)])
    return path


def write_csvs(folder: Path | str, users: int = 1_000, seed: int = 42) -> dict[str, Path]:
    """Write every table as ``<table>.csv`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, rows in generate(users, seed).items():
        target = folder / f"{name}.csv"
        with target.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=[c.name for c in metadata.tables[name].columns])
            writer.writeheader()
            writer.writerows(rows)
        written[name] = target
    return written
