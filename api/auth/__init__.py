"""Who is asking: API keys and JWT bearer tokens, resolved to a `Principal` with a role.

`Authenticator.authenticate(header)` is what the app calls per request; `KeyStore`
is what `dealgraph keys` manages; `api.graphql.visibility` decides what a
principal may see.
"""

from api.auth.authenticator import Authenticator, AuthError, TooManyFailures
from api.auth.keys import KeyRecord, KeyStore
from api.auth.principal import Principal, Role
from api.auth.throttle import Throttle
from api.auth.tokens import TokenVerifier, mint_token

__all__ = [
    "AuthError", "Authenticator", "KeyRecord", "KeyStore", "Principal", "Role", "Throttle", "TokenVerifier",
    "TooManyFailures", "mint_token",
]
