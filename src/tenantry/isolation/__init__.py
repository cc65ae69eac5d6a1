"""Domain-free isolation machinery: context, signing, edge middleware, ORM guard, RLS, scopes.

Nothing here imports a business area.
"""
