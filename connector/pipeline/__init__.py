"""The one provisioning pipeline: the only code that writes users, memberships, linked
identities and group memberships. Every source builds ``Identity`` records and calls it."""
from __future__ import annotations

from .members import (deactivate_user, delete_user, deprovision, remove_member,
                      require_membership, set_role, transfer_ownership)
from .provision import provision
from . import groups  # noqa: E402,F401  (SCIM/LDAP group writes: pipeline.groups.add_members ...)
from . import bulk  # noqa: E402,F401  (set-based create for imports: pipeline.bulk.create)
from .passwords import set_password  # noqa: E402,F401

__all__ = ["provision", "deprovision", "set_role", "remove_member", "transfer_ownership",
           "deactivate_user", "delete_user", "require_membership"]
