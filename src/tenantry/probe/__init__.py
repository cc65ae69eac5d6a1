"""The isolation attack engine: tries every route as tenant A against tenant B's data.

It sees the app the way an attacker does — over HTTP (or ASGI in-process) and through
the published OpenAPI document — plus, in-process, a data-access adapter that reads
tenant B's rows to tell whether a probe changed them. ``tenantry probe`` runs it
against a live server; ``tests/isolation`` runs it against the real app.
"""

from tenantry.probe.config import Config, RoleCheck, Side
from tenantry.probe.data import DataAdapter, SqlAdapter
from tenantry.probe.engine import Engine
from tenantry.probe.http import Credentials
from tenantry.probe.report import BREACHES, Finding, Report

__all__ = [
    "BREACHES",
    "Config",
    "Credentials",
    "DataAdapter",
    "Engine",
    "Finding",
    "Report",
    "RoleCheck",
    "Side",
    "SqlAdapter",
]
