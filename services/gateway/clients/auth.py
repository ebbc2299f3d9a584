"""Typed client of ``earshot.auth.v1.AuthService`` (register, login, refresh, logout, users,
OAuth, public keys, revoked sessions)."""

from __future__ import annotations

from earshot.auth.v1 import auth_pb2, auth_pb2_grpc

from services.common.runtime import Runtime
from services.gateway.clients.base import GrpcClient
from services.gateway.shared.errors import ApiError

__all__ = ["AuthClient"]


class AuthClient(GrpcClient[auth_pb2_grpc.AuthServiceStub]):
    """The auth service over one channel. Invalid arguments (weak password, bad email) are 422.

    Args:
        runtime: resolves the target.
        timeout_s: deadline of each call (``EARSHOT_GATEWAY_AUTH_TIMEOUT_S``).
    """

    def __init__(self, runtime: Runtime, timeout_s: float = 10.0) -> None:
        super().__init__(runtime, "auth", "auth service", auth_pb2_grpc.AuthServiceStub, timeout_s)

    async def _call(self, method: str, request: object) -> object:
        return await self.call(method, request, invalid_status=422)

    async def register(self, request: auth_pb2.RegisterRequest) -> auth_pb2.Session:
        """Create a user and a session. Raises ApiError 409 (email taken), 422 (weak password)."""
        reply: auth_pb2.Session = await self._call("Register", request)
        return reply

    async def login(self, request: auth_pb2.LoginRequest) -> auth_pb2.Session:
        """A session for email + password. Raises ApiError 401, 429 (Retry-After)."""
        reply: auth_pb2.Session = await self._call("Login", request)
        return reply

    async def refresh(self, refresh_token: str) -> auth_pb2.Session:
        """Trade a refresh token for a new session. Raises ApiError 401."""
        reply: auth_pb2.Session = await self._call(
            "Refresh", auth_pb2.RefreshRequest(refresh_token=refresh_token)
        )
        return reply

    async def logout(self, request: auth_pb2.LogoutRequest) -> auth_pb2.LogoutResponse:
        """Revoke a session (and a refresh token's)."""
        reply: auth_pb2.LogoutResponse = await self._call("Logout", request)
        return reply

    async def get_user(self, user_id: str) -> auth_pb2.User:
        """One user's record. Raises ApiError 404."""
        reply: auth_pb2.User = await self._call("GetUser", auth_pb2.GetUserRequest(user_id=user_id))
        return reply

    async def _oauth_call(self, method: str, request: object) -> object:
        # A provider this deployment does not configure is a route that is not there for the
        # client (404 naming the settings), not a server failure: the service says UNIMPLEMENTED.
        try:
            return await self._call(method, request)
        except ApiError as exc:
            if exc.status != 501:
                raise
            raise ApiError(404, "Sign-in provider not enabled", exc.details) from None

    async def start_oauth(self, provider: str, surface: str) -> auth_pb2.StartOAuthResponse:
        """The provider's sign-in URL. Raises ApiError 404 when the provider is not configured."""
        reply: auth_pb2.StartOAuthResponse = await self._oauth_call(
            "StartOAuth", auth_pb2.StartOAuthRequest(provider=provider, surface=surface)
        )
        return reply

    async def complete_oauth(self, request: auth_pb2.CompleteOAuthRequest) -> auth_pb2.Session:
        """Finish an OAuth sign-in with the provider's code and state. Raises ApiError 404 when
        the provider is not configured, 400/401 for a refused code or state."""
        reply: auth_pb2.Session = await self._oauth_call("CompleteOAuth", request)
        return reply

    async def public_keys(self) -> auth_pb2.PublicKeys:
        """The JWKS that verifies access tokens."""
        reply: auth_pb2.PublicKeys = await self._call("GetPublicKeys", auth_pb2.GetPublicKeysRequest())
        return reply

    async def revoked_sessions(self) -> auth_pb2.RevokedSessions:
        """Sessions revoked recently whose access tokens have not expired yet."""
        reply: auth_pb2.RevokedSessions = await self._call(
            "ListRevokedSessions", auth_pb2.ListRevokedSessionsRequest()
        )
        return reply
