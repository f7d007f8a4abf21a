"""A localstripe server (a stateful fake of the Stripe API) for the payments
tests, on a free port of its own, started once per test process.

localstripe pickles its whole store to a fixed /tmp file after every write;
the launcher below turns that off, so parallel servers never share state or
write the same file. It also teaches localstripe Stripe's `customer` filter
on the PaymentIntent list (nothing else of its behaviour changes). Without the package or when it cannot start, the tests
that need it skip, except with CI=true or BLOCKHOURS_REQUIRE_SERVERS=true,
where that is a failure.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

# localstripe refuses `mandate_data` (a SEPA debit confirmed server-side must
# carry it at Stripe). The launcher teaches its PaymentIntent confirm to take
# it as Stripe does: online acceptance with an IP address and a user agent,
# else 400; the fake keeps it on the intent as `mandate_data`, so the tests
# read back what was sent.
LAUNCHER = (
    "import sys\n"
    "import localstripe.resources as resources\n"
    "from localstripe.errors import UserError\n"
    "resources.Store.dump_to_disk = lambda self: None\n"
    "confirm = resources.PaymentIntent._api_confirm\n"
    "def confirm_with_mandate(id, mandate_data=None, **kwargs):\n"
    "    if mandate_data is not None:\n"
    "        try:\n"
    "            acceptance = mandate_data['customer_acceptance']\n"
    "            assert acceptance['type'] == 'online'\n"
    "            assert acceptance['online']['ip_address'] and acceptance['online']['user_agent']\n"
    "            int(acceptance.get('accepted_at', 0))\n"
    "        except (AssertionError, KeyError, TypeError, ValueError):\n"
    "            raise UserError(400, 'Invalid mandate_data') from None\n"
    "    obj = confirm(id, **kwargs)\n"
    "    if mandate_data is not None:\n"
    "        obj.mandate_data = mandate_data\n"
    "    return obj\n"
    "resources.extra_apis[:] = [(m, u, confirm_with_mandate if f == confirm else f) for m, u, f in resources.extra_apis]\n"
    # Stripe filters a list of PaymentIntents by customer; localstripe refuses
    # the parameter. The auto-reload charge looks its intent up that way.
    "_list_intents = resources.PaymentIntent._api_list_all.__func__\n"
    "def _list_intents_of(cls, url, customer=None, **kwargs):\n"
    "    found = _list_intents(cls, url, **kwargs)\n"
    "    if customer is not None:\n"
    "        found._list = [i for i in found._list if i.customer == customer]\n"
    "    return found\n"
    "resources.PaymentIntent._api_list_all = classmethod(_list_intents_of)\n"
    "from localstripe import server\n"
    "sys.argv = ['localstripe', '--port', sys.argv[1], '--from-scratch']\n"
    "server.start()\n"
)


def _required() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get("BLOCKHOURS_REQUIRE_SERVERS") == "true"


def _unavailable(reason: str) -> None:
    if _required():
        pytest.fail(f"localstripe is required here (CI / BLOCKHOURS_REQUIRE_SERVERS) but {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def localstripe_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a running localstripe server (http://127.0.0.1:PORT)."""
    try:
        import localstripe  # noqa: F401
    except ImportError:
        _unavailable("the localstripe package is not installed (pip install -r requirements-dev.txt)")
    port = free_port()
    folder = tmp_path_factory.mktemp("localstripe")
    log = (folder / "localstripe.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", LAUNCHER, str(port)], cwd=folder, stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                _unavailable(f"localstripe did not start on port {port} (see {folder / 'localstripe.log'})")
            time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
