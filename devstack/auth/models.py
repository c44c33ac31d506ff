"""JSON of users and identities as Auth marshals ``models.User`` / ``models.Identity``
(omitempty fields left out when empty; Go's RFC 3339 timestamps with a Z)."""

from __future__ import annotations

import datetime as dt
from typing import Any


def ts(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def identity_json(row: dict[str, Any]) -> dict[str, Any]:
    out = {
        "identity_id": row["id"],
        "id": row["provider_id"],
        "user_id": row["user_id"],
        "identity_data": row["identity_data"],
        "provider": row["provider"],
        "last_sign_in_at": row.get("last_sign_in_at"),
        "created_at": row.get("created_at"),
        "updated_at": row.get("updated_at"),
        "email": row.get("email"),
    }
    for key in ("last_sign_in_at", "created_at", "updated_at"):  # already JSON strings
        if out[key] is not None:
            out[key] = dt.datetime.fromisoformat(out[key]).astimezone(dt.UTC).isoformat()
            out[key] = out[key].replace("+00:00", "Z")
    return {k: v for k, v in out.items() if v is not None or k in ("created_at", "updated_at")}


def factor_json(row: dict[str, Any]) -> dict[str, Any]:
    """models.Factor (the secret never leaves the server; friendly_name omitempty)."""
    out = dict(row)
    for key in ("created_at", "updated_at", "last_challenged_at"):
        value = out.get(key)
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        out[key] = ts(value) if isinstance(value, dt.datetime) else value
    if not out.get("friendly_name"):
        out.pop("friendly_name", None)
    out["id"] = str(out["id"])
    return out


def user_json(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(row["id"]),
        "aud": row["aud"] or "",
        "role": row["role"] or "",
        "email": row["email"] or "",
        "email_confirmed_at": ts(row["email_confirmed_at"]),
        "invited_at": ts(row["invited_at"]),
        "phone": row["phone"] or "",
        "phone_confirmed_at": ts(row["phone_confirmed_at"]),
        "confirmation_sent_at": ts(row["confirmation_sent_at"]),
        "confirmed_at": ts(row["confirmed_at"]),
        "recovery_sent_at": ts(row["recovery_sent_at"]),
        "new_email": row["email_change"] or None,
        "email_change_sent_at": ts(row["email_change_sent_at"]),
        "reauthentication_sent_at": ts(row.get("reauthentication_sent_at")),
        "last_sign_in_at": ts(row["last_sign_in_at"]),
        "app_metadata": row["raw_app_meta_data"] or {},
        "user_metadata": row["raw_user_meta_data"] or {},
        "identities": [identity_json(i) for i in row.get("identities_json") or []],
        "factors": [factor_json(f) for f in row.get("factors_json") or []] or None,
        "created_at": ts(row["created_at"]),
        "updated_at": ts(row["updated_at"]),
        "banned_until": ts(row["banned_until"]),
        "deleted_at": ts(row["deleted_at"]),
        "is_anonymous": bool(row["is_anonymous"]),
    }
    return {k: v for k, v in out.items() if v is not None}
