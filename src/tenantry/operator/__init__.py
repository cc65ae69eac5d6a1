"""The platform operator's system-scope API and its service (every access audited)."""
