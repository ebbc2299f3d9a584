"""The gateway's product areas, one package each (``router.py``, ``schemas.py``,
``service.py``, ``repository.py``, ``models.py``, ``consumers.py``: only what a product needs).

Products never import one another; ``services.gateway.shared``, ``services.gateway.clients``
and ``services.gateway.deps`` never import a product (import-linter contracts).
"""
