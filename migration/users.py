"""Legacy `users` documents -> items of the users table.

- `_id` -> `userId` (ObjectId hex, so images keep pointing at their owner).
- `email` lower-cased and trimmed (sign-in is case-insensitive); a missing, null or blank email leaves the item
  out of `EmailIndex` with an `email_missing` warning (the user can still be found by id); a non-string email is
  dead-lettered.
- `createdAt`, `updatedAt`, `lastLoginAt` -> `YYYY-MM-DDTHH:MM:SS.mmmZ` from any legacy form.
- `passwordHash` (bcrypt) is kept for the Cognito user-migration trigger, which drops it on first sign-in.
- Everything else is kept under its own name by the generic rules.
"""

from __future__ import annotations

from typing import Any

from functions.shared.tables import USERS
from migration.convert import AttributeValue, Findings, Unconvertible
from migration.mapping import Converted, check_item, convert_fields, legacy_id_string, set_timestamp, set_version


class UsersMapper:
    collection = "users"
    spec = USERS
    key_fields = ("_id",)

    def convert(self, doc: dict[str, Any]) -> Converted:
        findings = Findings()
        item: dict[str, AttributeValue] = {"userId": {"S": legacy_id_string(doc)}}
        item.update(convert_fields(doc, findings, skip=("email",)))
        email = doc.get("email")
        if isinstance(email, str) and email.strip():
            normalised = email.strip().lower()
            if normalised != email:
                findings.add("email_normalised", "email")
            item["email"] = {"S": normalised}
        elif email is None or isinstance(email, str):
            findings.add("email_missing", "email")
        else:
            raise Unconvertible("index_key_type", f"email must be a string, not {type(email).__name__}")
        created = set_timestamp(item, doc, "createdAt", findings)
        updated = set_timestamp(item, doc, "updatedAt", findings)
        set_timestamp(item, doc, "lastLoginAt", findings)
        set_version(item, doc, updated, created)
        return Converted(item=item, key=check_item(self.spec, item), findings=findings)

