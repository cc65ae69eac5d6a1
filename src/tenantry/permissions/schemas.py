"""Request and response models for the role → permission matrix."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from tenantry.kit.schemas import Input
from tenantry.permissions.catalog import PERMISSIONS

Role = Literal["owner", "admin", "staff", "client"]


def _known(values: list[str]) -> list[str]:
    unknown = sorted(set(values) - set(PERMISSIONS))
    if unknown:
        raise ValueError(f"unknown permissions: {', '.join(unknown)}")
    if len(set(values)) != len(values):
        raise ValueError("each permission may appear once")
    return sorted(values)


# Validated by ``_known`` (422 on an unknown key); the enum documents the valid keys
# in OpenAPI, so clients and generated probes can build a valid request.
PermissionKey = Annotated[
    str, Field(max_length=100, json_schema_extra={"enum": sorted(PERMISSIONS)})
]


class PermissionOut(BaseModel):
    key: str
    description: str


class RolePermissionsOut(BaseModel):
    role: Role
    permissions: list[str]
    editable: bool = Field(description="The owner and client roles are fixed.")
    customized: bool = Field(description="False: the role uses the catalogue's defaults.")


class MatrixOut(BaseModel):
    permissions: list[PermissionOut]
    roles: list[RolePermissionsOut]


class RolePermissionsIn(Input):
    permissions: Annotated[
        list[PermissionKey],
        Field(min_length=1, max_length=len(PERMISSIONS)),
        AfterValidator(_known),
    ] = Field(description="The role's complete permission list (replaces the current one).")


class MyPermissionsOut(BaseModel):
    role: str
    permissions: list[str]
