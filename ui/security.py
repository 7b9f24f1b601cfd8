"""Rules every face follows when it listens on the network (not a face itself: faces import it).

Nothing is exposed beyond loopback without a token, unless a loudly named override is given.

Example::

    >>> require_token_off_loopback(settings, "127.0.0.1", "the API")     # fine
    >>> require_token_off_loopback(settings, "0.0.0.0", "the API")       # ConfigError without RAG_API_TOKEN
"""
from __future__ import annotations

import ipaddress
import logging

from index.errors import ConfigError
from ui.settings import Settings

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_token_off_loopback(settings: Settings, host: str, what: str, flag: str = "", overridden: bool = False) -> None:
    """Refuse to expose ``what`` beyond loopback without ``api_token``, unless the loudly named
    override ``flag`` was given (then warn)."""
    if is_loopback(host) or settings.api_token:
        return
    if flag and overridden:
        log.warning("%s listens on %s WITHOUT ANY CREDENTIAL (%s): anyone who can reach this address can use it", what, host, flag)
        return
    how = "clients then send Authorization: Bearer …" if not flag else f"it becomes the password; or pass {flag} to expose it to anyone"
    raise ConfigError(f"refusing to listen on {host} without a token: set RAG_API_TOKEN ({how})")
