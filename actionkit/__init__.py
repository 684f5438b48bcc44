"""The contract integrations are written against; it depends on nothing else of patchbay's.

- ``actionkit.spec``: ``ActionSpec`` / ``ActionUI``, what an action declares;
- ``actionkit.context``: the ``ActionContext`` protocol a handler receives,
  ``Pending`` and ``NotApplied`` answers, the ``RequestGate``;
- ``actionkit.errors``: the error tree every failure is raised as;
- ``actionkit.inputs``: strict input models and types (the schema is the law);
- ``actionkit.http``: the vendor HTTP client base (status ladder, Retry-After,
  the gate before every request);
- ``actionkit.outbound``: the outbound URL policy every client enforces.
- ``actionkit.checks``: connection checks, one read-only vendor call that proves a
  tenant's credentials work (declared by each vendor's package).

Integrations import ``actionkit`` and ``store`` (and ``catalog`` only to
register); the executor implements the context.
"""
