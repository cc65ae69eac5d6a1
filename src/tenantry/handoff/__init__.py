"""Moving a signed-in browser from one tenant's host to another's."""
