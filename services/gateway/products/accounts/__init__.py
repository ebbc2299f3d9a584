"""Accounts: the auth routes of seeds 001, 003 and 004 (register, login, me, refresh, logout,
OAuth) and the JWKS. The gateway never imports the auth service: it calls
``earshot.auth.v1.AuthService`` over gRPC (:class:`~services.gateway.clients.auth.AuthClient`)
and verifies access tokens locally (:mod:`services.gateway.shared.tokens`)."""
