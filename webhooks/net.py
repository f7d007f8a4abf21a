"""Where a webhook may be sent, and sending it there (SSRF guard).

Only http(s) URLs. Unless WEBHOOKS_ALLOW_PRIVATE is on (tests, a lab), the
host must resolve to public addresses only: loopback, private, link-local
(cloud metadata at 169.254.169.254), shared, reserved and multicast ranges
are refused. The check runs at registration and again at every delivery,
and the connection goes to the very address that was checked, so a DNS
answer that changes between the check and the connect (DNS rebinding)
cannot steer a delivery inside the network. Redirects are not followed.
"""

import http.client
import ipaddress
import socket
import ssl
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext

SCHEMES = {"http": 80, "https": 443}
MAX_RESPONSE_BYTES = 64 * 1024


class UnsafeAddress(Exception):
    """The URL's host resolves to an address webhooks may not reach."""


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _split(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValidationError({"url": gettext("Only http:// and https:// URLs can receive webhooks.")})
    try:
        port = parts.port or SCHEMES[parts.scheme]
    except ValueError:
        raise ValidationError({"url": gettext("The port in this URL is not a number from 1 to 65535.")}) from None
    if not parts.hostname:
        raise ValidationError({"url": gettext("Enter a URL with a host name, e.g. https://psa.example.com/hooks.")})
    return parts.scheme, parts.hostname, port


def resolve(host: str, port: int) -> list[str]:
    """The host's addresses; only public ones unless WEBHOOKS_ALLOW_PRIVATE."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnsafeAddress(gettext("The host %(host)s cannot be resolved.") % {"host": host}) from error
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not settings.WEBHOOKS_ALLOW_PRIVATE and not all(_is_public(address) for address in addresses):
        # All, not any: a name with one public and one private address could be steered to the private one.
        raise UnsafeAddress(
            gettext("%(host)s resolves to a private, loopback or link-local address; webhooks go to public hosts only.")
            % {"host": host}
        )
    return addresses


def url_check(url: str) -> None:
    """At registration: a ValidationError on `url` if webhooks may not go there."""
    scheme, host, port = _split(url)
    try:
        resolve(host, port)
    except UnsafeAddress as error:
        raise ValidationError({"url": str(error)}) from None


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # The certificate is checked against the host name, not the address connected to.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> int:
    """POST to the URL's checked address; the response's status code.

    Raises UnsafeAddress, OSError (refused, timed out) or http.client.HTTPException.
    """
    scheme, host, port = _split(url)
    address = resolve(host, port)[0]
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    cls = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    connection = cls(host, port, address, timeout)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        return response.status
    finally:
        connection.close()
