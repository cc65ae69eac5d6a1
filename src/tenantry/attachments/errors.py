"""Errors of attachments (shared faults come from ``tenantry.kit.errors``)."""

from __future__ import annotations

from tenantry.errors import Conflict, Gone, InvalidInput, Unauthorized


class InvalidUpload(InvalidInput):
    code = "invalid_upload"
    message = "Send the file as multipart/form-data in a part named 'file'."


class ScanPending(Conflict):
    code = "scan_pending"
    message = "The file has not been scanned for viruses yet; try again shortly."


class FileInfected(Gone):
    code = "file_infected"
    message = "The file was found infected and has been quarantined."


class ScanFinal(Conflict):
    code = "scan_final"
    message = "An infected file stays infected; upload a clean copy instead."


class ScannerSecretInvalid(Unauthorized):
    code = "scanner_secret_invalid"
    message = "The scanner secret is missing or wrong."
