"""Accounts' state: a small cache of user profiles, and the conversions from auth messages.

``GET /api/me`` answers the caller's full profile (``auth_provider``, ``is_active``,
``created_at``) without a call to the auth service on every request: the profile comes
from the register / login / refresh / OAuth answer that issued the caller's tokens (cached
per user id, up to :data:`PROFILE_CACHE_SIZE`), else from ``GetUser`` once.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Annotated

from earshot.auth.v1 import auth_pb2
from fastapi import Depends
from starlette.requests import HTTPConnection

from services.gateway.products.accounts.schemas import TokenResponse, UserOut
from services.gateway.shared.openapi import answers
from services.gateway.shared.product import GatewayContext, Product
from services.gateway.shared.tokens import AuthenticatedUser

PROFILE_CACHE_SIZE = 4096


def user_out(user: auth_pb2.User) -> UserOut:
    """An auth ``User`` message as the API shows it."""
    return UserOut(
        id=user.id,
        email=user.email,
        name=user.name,
        auth_provider=user.auth_provider or None,
        is_active=user.is_active,
        created_at=user.created_at or None,
    )


class AccountsProduct(Product):
    """The profile cache of this replica."""

    name = "accounts"

    def __init__(self, ctx: GatewayContext) -> None:
        super().__init__(ctx)
        self._profiles: OrderedDict[str, UserOut] = OrderedDict()

    def remember(self, user: UserOut) -> UserOut:
        """Cache a profile (the oldest is evicted past :data:`PROFILE_CACHE_SIZE`)."""
        self._profiles[user.id] = user
        self._profiles.move_to_end(user.id)
        while len(self._profiles) > PROFILE_CACHE_SIZE:
            self._profiles.popitem(last=False)
        return user

    def tokens(self, session: auth_pb2.Session) -> TokenResponse:
        """An auth ``Session`` as the API shows it; its user's profile is cached."""
        return TokenResponse(
            token=session.access_token,
            access_token=session.access_token,
            refresh_token=session.refresh_token,
            expires_in=session.expires_in,
            refresh_expires_in=session.refresh_expires_in,
            user=self.remember(user_out(session.user)),
        )

    async def profile(self, user: AuthenticatedUser) -> UserOut:
        """The caller's profile: cached, else ``GetUser`` (then cached).

        Raises:
            ApiError: 404 when the auth service no longer knows the user; 503 when it is down.
        """
        cached = self._profiles.get(user.id)
        if cached is None:
            cached = self.remember(user_out(await self.ctx.clients.auth.get_user(user.id)))
        return cached

    def forget(self, user_id: str) -> None:
        """Drop a cached profile."""
        self._profiles.pop(user_id, None)


@answers(503, 504)  # the auth service may be unavailable
async def accounts_product(conn: HTTPConnection) -> AccountsProduct:
    """Dependency: this replica's :class:`AccountsProduct`."""
    product: AccountsProduct = conn.app.state.products[AccountsProduct.name]
    return product


Accounts = Annotated[AccountsProduct, Depends(accounts_product)]
