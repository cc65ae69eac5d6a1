"""The generic tenant repository: the reads and writes every area repeats, written once.

No tenant filter is written here or in any area: the ORM guard adds the tenant to
every statement and row-level security enforces it again. What this adds is the
area-independent part of a repository:

* ``get`` / ``get_or_404`` / ``for_update`` by id — a missing row (or another tenant's,
  which the guard makes look missing) is the area's ``not_found`` error;
* ``owner=``: the portal's one ownership rule. A repository declares which column names
  a record's client (``owner=Booking.client_id``); every portal read passes the signed-in
  client's id as ``owner`` and sees that client's rows only (another client's record is
  exactly as absent as one that never existed);
* ``referenced``: the row a request BODY names by id (the booking an invoice is for) —
  a missing one (or another tenant's) is the body's fault, the area's 422
  ``unknown_<kind>`` (``unknown=UnknownBooking``), where an id in the URL is a 404;
* ``page(session, stmt, params)``: one count and one page query from the area's own
  statement (its filters and order);
* ``add`` / ``flush``: a violated constraint becomes the domain error the area mapped to
  its name, any other one a 409 ``conflict`` that names nothing of the data.

    bookings = Repository(Booking, owner=Booking.client_id, not_found="No such booking.")
    booking = bookings.get_or_404(session, booking_id, owner=client.user_id)
"""

from __future__ import annotations

import functools
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, ParamSpec, TypedDict, TypeVar, TypeVarTuple, Unpack, cast, overload

from sqlalchemy import Integer, Select, bindparam, func, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.orm.interfaces import ORMOption

from tenantry.db.direct import first_row
from tenantry.errors import NotFound, TenantryError
from tenantry.kit.errors import ConstraintConflict
from tenantry.kit.pagination import Page, PageParams

M = TypeVar("M")
R = TypeVar("R")
Ts = TypeVarTuple("Ts")
A = TypeVar("A")
B = TypeVar("B")
P = ParamSpec("P")
S = TypeVar("S")

# Constraint name -> the error it means: an error class, or a repository's ``not_found``
# (a foreign key to a parent that vanished is the parent's 404).
Constraints = Mapping[str, Callable[[], TenantryError]]


class Lookup(TypedDict, total=False):
    """How a row is looked up by id (``get``'s keywords, passed on by ``get_or_404``)."""

    owner: uuid.UUID | None  # only this client's rows (the portal's ownership rule)
    lock: bool  # SELECT ... FOR UPDATE
    options: Iterable[ORMOption]  # loader options (e.g. selectinload of a relation)


def constraint_name(exc: IntegrityError) -> str | None:
    """The violated constraint's name (psycopg exposes it as ``diag``)."""
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "constraint_name", None)


def flush(session: Session, constraints: Constraints | None = None) -> None:
    """Flush; a violated constraint becomes ``constraints[name]``, else a 409 ``conflict``.

    The database's message is never echoed: it could name another tenant's value."""
    try:
        session.flush()
    except IntegrityError as exc:
        error = (constraints or {}).get(constraint_name(exc) or "", ConstraintConflict)
        raise error() from exc


def where_given(stmt: Select[*Ts], *filters: tuple[Any, Any]) -> Select[*Ts]:
    """``stmt`` with ``column == value`` for each ``(column, value)`` whose value was
    given (not None): a list route's optional equality filters in one call.

        where_given(stmt, (Booking.status, status), (Booking.client_id, client_id))
    """
    return stmt.where(*(column == value for column, value in filters if value is not None))


@overload
def page(session: Session, stmt: Select[R], params: PageParams) -> Page[R]: ...


@overload
def page(
    session: Session, stmt: Select[A, B, *Ts], params: PageParams
) -> Page[tuple[A, B, *Ts]]: ...


def page(session: Session, stmt: Select[*tuple[Any, ...]], params: PageParams) -> Page[Any]:
    """One page of ``stmt`` (kept in its order) and the number of rows it has in all.

    The count runs over ``stmt``'s own columns: a statement over ``users`` names only the
    columns it shows (never ``password_hash``, which the app role may not read).

    A statement of one column or entity (a model's rows) is sent once: the page with the
    count as a scalar subquery beside each row (``(SELECT count(*) FROM (<stmt>))``, which
    PostgreSQL runs once for the statement). The ORM guard scopes the subquery's entities
    as it scopes the page's (its criterion reaches every entity of the statement, at any
    depth). A page past the last row carries no count: only then is the count sent alone.
    Rows of several columns keep their names, so those statements send the count first.

    The page's statements are derived from ``stmt`` once per statement object, with the
    limit and offset as parameters: a builder that hands out the same object for the same
    arguments (``built_once``) costs no statement construction and no cache-key walk per
    request.
    """
    count, sliced, one = _paged(stmt)
    bounds = {_LIMIT.key: params.limit, _OFFSET.key: params.offset}
    if one:
        rows = session.execute(sliced, bounds).all()
        if rows:
            return Page.of([row[0] for row in rows], rows[0][1], params)
        total = 0 if params.offset == 0 else session.scalar(count)
        return Page.of([], total or 0, params)
    total = session.scalar(count)
    found: Sequence[Any] = session.execute(sliced, bounds).all()  # rows unpack like tuples
    return Page.of(found, total or 0, params)


_LIMIT = bindparam("tenantry_page_limit", type_=Integer())
_OFFSET = bindparam("tenantry_page_offset", type_=Integer())

# A statement -> its page's statements: (count, page, whether the page carries the count).
# Keyed weakly by the statement object (statements compare by identity), so an entry lives
# as long as the statement it was derived from; the derived ones hold copies, not it.
_PAGED: weakref.WeakKeyDictionary[Any, tuple[Any, Any, bool]] = weakref.WeakKeyDictionary()


def _paged(stmt: Select[*tuple[Any, ...]]) -> tuple[Any, Any, bool]:
    found = _PAGED.get(stmt)
    if found is None:
        count = select(func.count()).select_from(stmt.order_by(None).subquery())
        sliced = stmt.limit(_LIMIT).offset(_OFFSET)
        one = len(stmt.column_descriptions) == 1
        if one:
            sliced = sliced.add_columns(count.scalar_subquery().label("tenantry_page_total"))
        found = _PAGED[stmt] = (count, sliced, one)
    return found


def built_once(builder: Callable[P, S]) -> Callable[P, S]:
    """Hand out one statement object per distinct arguments of ``builder`` (a list's
    statement builder: hashable arguments, a result that depends on them alone — never on
    the time or a context), for the last 256 argument sets.

    One object serves every tenant: a statement holds no tenant (the ORM guard binds the
    context's tenant when it runs), and statements are never changed in place. The same
    object keeps its page's derived statements (``page``), the guard's scoped copy and
    SQLAlchemy's cache key, so a repeated list costs no statement work.
    """
    return cast(Callable[P, S], functools.lru_cache(maxsize=256)(builder))


class Repository(Generic[M]):
    def __init__(
        self,
        model: type[M],
        *,
        owner: InstrumentedAttribute[Any] | None = None,
        not_found: str | type[TenantryError] = NotFound.message,
        unknown: Callable[[], TenantryError] | None = None,
        constraints: Constraints | None = None,
    ) -> None:
        self.model = model
        self.owner = owner
        self._not_found = not_found
        self._unknown = unknown
        self.constraints: Constraints = constraints or {}
        self._by_id: Select[M] | None = None
        self._row_by_id: Select[Any] | None = None

    def not_found(self, message: str | None = None) -> TenantryError:
        """The error for a row that is not there (or is another client's or tenant's):
        ``404 not_found`` with the area's message (``not_found="No such booking."``),
        or the area's own error class where its fault has a code of its own."""
        if isinstance(self._not_found, str):
            return NotFound(message or self._not_found)
        return self._not_found(message)

    def select(self, *, owner: uuid.UUID | None = None) -> Select[M]:
        """``SELECT model``, limited to ``owner``'s rows when given."""
        return self.owned(select(self.model), owner)

    def owned(self, stmt: Select[R], owner: uuid.UUID | None) -> Select[R]:
        """``stmt`` limited to the rows of client ``owner`` (``None``: no limit)."""
        if owner is None:
            return stmt
        if self.owner is None:
            raise TypeError(f"{self.model.__name__} has no owner column")
        return stmt.where(self.owner == owner)

    def get(
        self,
        session: Session,
        id: uuid.UUID,
        *,
        owner: uuid.UUID | None = None,
        lock: bool = False,
        options: Iterable[ORMOption] = (),
    ) -> M | None:
        model: Any = self.model
        if owner is None and not lock and not options:
            # The common case, built once (a bound parameter for the id): building the
            # expression cost as much as the ORM's work around the statement.
            if self._by_id is None:
                self._by_id = self.select().where(model.id == bindparam("id"))
            return session.scalar(self._by_id, {"id": id})
        stmt = self.select(owner=owner).where(model.id == id).options(*options)
        if lock:
            stmt = stmt.with_for_update()
        return session.scalar(stmt)

    def row_or_404(self, session: Session, id: uuid.UUID) -> Mapping[str, Any]:
        """The row's columns by name (``Out.model_validate`` takes them), not an ORM
        object: for a hot read that only shows the row. Sent without SQLAlchemy's
        execution when the ORM guard scopes it to the tenant (``tenantry.db.direct``);
        the row never enters the session (to change it, ``get`` it)."""
        if self._row_by_id is None:
            model: Any = self.model
            columns = [getattr(model, attr.key) for attr in sa_inspect(model).column_attrs]
            self._row_by_id = select(*columns).where(model.id == bindparam("id"))
        found = first_row(session, self._row_by_id, {"id": id})
        if found is None:
            raise self.not_found()
        return found

    def get_or_404(self, session: Session, id: uuid.UUID, **lookup: Unpack[Lookup]) -> M:
        found = self.get(session, id, **lookup)
        if found is None:
            raise self.not_found()
        return found

    def referenced(self, session: Session, id: uuid.UUID, **lookup: Unpack[Lookup]) -> M:
        """The row a request body names by ``id``; none (or another tenant's) is the
        repository's ``unknown`` error (422 ``unknown_<kind>``: the body is wrong, not
        the URL)."""
        if self._unknown is None:
            raise TypeError(f"{self.model.__name__} has no unknown= error for references")
        found = self.get(session, id, **lookup)
        if found is None:
            raise self._unknown()
        return found

    def for_update(
        self,
        session: Session,
        id: uuid.UUID,
        *,
        owner: uuid.UUID | None = None,
        options: Iterable[ORMOption] = (),
    ) -> M:
        """The row, locked until the transaction ends (``SELECT ... FOR UPDATE``), so
        two concurrent changes cannot both start from the same state."""
        return self.get_or_404(session, id, owner=owner, lock=True, options=options)

    def exists(self, session: Session, *where: Any) -> bool:
        """Does a row match ``where``? (e.g. a slug in use by another row)"""
        model: Any = self.model
        return session.scalar(select(model.id).where(*where).limit(1)) is not None

    def taken(
        self, session: Session, column: Any, value: Any, *, except_id: uuid.UUID | None = None
    ) -> bool:
        """Does another row (not ``except_id``) already hold ``value`` in ``column``? For
        a clean 409 before the unique constraint has to catch it (it still catches the
        race of two requests at once)."""
        model: Any = self.model
        return value is not None and self.exists(session, column == value, model.id != except_id)

    def update(self, session: Session, row: M, changes: Mapping[str, Any]) -> M:
        """Set the changed fields (a ``Patch``'s ``changes()``) and flush, mapping
        constraint violations like ``add``."""
        for field, value in changes.items():
            setattr(row, field, value)
        self.flush(session)
        return row

    def page(self, session: Session, stmt: Select[R], params: PageParams) -> Page[R]:
        return page(session, stmt, params)

    def delete(self, session: Session, row: M) -> None:
        session.delete(row)
        self.flush(session)

    def add(self, session: Session, row: M) -> M:
        """Insert ``row`` and flush, mapping constraint violations (see ``flush``)."""
        session.add(row)
        self.flush(session)
        return row

    def flush(self, session: Session) -> None:
        flush(session, self.constraints)
