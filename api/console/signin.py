"""Who is looking at the console: an API token, from the sign-in cookie or a bearer header.

Signing in posts a tenant API token (any scope: the console only reads);
the token goes back in a cookie the page's scripts cannot read (HttpOnly),
that no other site's request carries (SameSite=Strict), scoped to
``/console`` and Secure over https. Every page looks the token up again
(``api.auth.principal_of``), so revoking it signs the console out at once.
The token is never rendered: pages show the token's name and scope only.

The forms post only to this origin: a POST a browser says came from another
site (``Sec-Fetch-Site``, else ``Origin``) is refused, on top of the cookie's
SameSite.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import Request, Response

from api.auth import bearer_token, principal_of
from api.context import ApiContext
from store.tokens import Principal

COOKIE = "patchbay_console"
COOKIE_PATH = "/console"
COOKIE_MAX_AGE = 12 * 3600
LOGIN_PATH = "/console/login"
HOME_PATH = "/console/palette"
FORM_TYPE = "application/x-www-form-urlencoded"


class SignInFirst(Exception):
    """The request has no valid token: the page answers with a redirect to sign in."""

    def __init__(self, location: str, *, clear_cookie: bool) -> None:
        super().__init__(location)
        self.location = location
        self.clear_cookie = clear_cookie


def viewer(ctx: ApiContext, request: Request) -> Principal:
    """The principal a console page is shown to; ``SignInFirst`` when there is none.

    A bearer header wins over the cookie (a script may read pages with its token).
    """
    token = bearer_token(request) or request.cookies.get(COOKIE)
    found = principal_of(ctx, token) if token else None
    if found is None or not found.allows("read"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInFirst(
            f"{LOGIN_PATH}?{urlencode({'next': target})}",
            clear_cookie=COOKIE in request.cookies,
        )
    return found


def sign_in(response: Response, request: Request, token: str) -> None:
    """Set the console's cookie holding ``token`` on ``response``."""
    response.set_cookie(
        COOKIE,
        token,
        max_age=COOKIE_MAX_AGE,
        path=COOKIE_PATH,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )


def sign_out(response: Response, request: Request) -> None:
    """Clear the console's cookie on ``response``."""
    response.delete_cookie(
        COOKIE,
        path=COOKIE_PATH,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )


def form_fields(content_type: str | None, body: bytes) -> dict[str, str]:
    """The fields of a urlencoded form body (first value of each); {} for anything else."""
    if (content_type or "").split(";", 1)[0].strip().lower() != FORM_TYPE:
        return {}
    try:
        parsed = parse_qs(body.decode("utf-8"), max_num_fields=20, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {name: values[0] for name, values in parsed.items() if values}


def same_origin(request: Request) -> bool:
    """Whether a form post came from this origin (or says nothing of where it came from).

    Browsers say so in ``Sec-Fetch-Site``; under the console's ``no-referrer``
    policy their ``Origin`` is ``null``, so it counts only when it names one.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site.lower() in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    own = f"{request.url.scheme}://{request.url.netloc}"
    return origin.lower() == own.lower()


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a console page of this server (a relative path); else None.

    Where to go after signing in comes from the query string: anything that
    could leave the console (another host, a scheme, ``//``, a backslash) is dropped.
    """
    if not target or len(target) > 2000 or "\\" in target or any(ord(c) < 0x20 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console/"):
        return None
    if parts.path.startswith(LOGIN_PATH) or "/.." in parts.path:
        return None
    return target
