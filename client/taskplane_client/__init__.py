"""Python bindings for the Taskplane API.

`Client` has one typed method per operation; lists come back as `Pages` (iterate for the
items, `.pages()` for whole pages, the cursor followed for you); `Client.wait` polls a job
until it ends and `Client.follow` streams its log lines, resuming where a dropped stream
stopped. An error answer raises `ApiError` carrying the error envelope. Only `requests` is
needed: nothing of the server is imported.
"""

from taskplane_client.client import TERMINAL, Client
from taskplane_client.errors import ApiError, WaitTimeout
from taskplane_client.pages import Pages

__all__ = ["TERMINAL", "ApiError", "Client", "Pages", "WaitTimeout"]
__version__ = "0.1.0"
