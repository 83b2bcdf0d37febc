"""The OpenAI-compatible chat API as servers speak it (llama.cpp's server, vLLM, Ollama):
what the worker's server backend and ``tui-chat --list-models`` share. httpx is imported
by the callers that talk to a server, never at start-up."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import httpx

CONNECT_SECONDS = 10.0
"""Longest wait for a connection to the server."""
BETWEEN_CHUNKS_SECONDS = 120.0
"""Longest wait for the next piece of a reply (a long prompt is read before the first)."""


class ServerError(Exception):
    """The server cannot be reached, or answered with an error; the message says which.

    ``transient`` when trying again later may work: no connection, a timeout, or a
    5xx or 429 answer (llama.cpp's server answers 503 while it loads its model); not
    for a refusal such as a wrong key or an unknown address on the server.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True, slots=True)
class ServedModel:
    """A model a server offers."""

    id: str
    context: int = 0
    """Its context size where the listing says (vLLM's ``max_model_len``); 0 if not."""


CONTEXT_FIELDS = ("max_model_len", "context_length", "max_context_length")
"""Where servers put a model's context size in ``/v1/models``: vLLM, OpenRouter and
LM Studio."""


MIN_SECRET_LENGTH = 8
"""Shorter API keys are placeholders ("EMPTY", "x"): not looked for in messages."""


def address_problem(text: str) -> str:
    """What is wrong with a server address, for a person; empty if it is usable."""
    example = "e.g. http://127.0.0.1:8080"
    try:
        parts = urlsplit(text.strip())
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        return f"is not a usable address ({example})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"must be an http:// or https:// address, {example}"
    if parts.username or parts.password:
        return "must not hold a name or password: put the key in the API key variable"
    return ""


def hide(text: str, secret: str) -> str:
    """``text`` without ``secret``, should a server quote the API key back."""
    if len(secret) < MIN_SECRET_LENGTH:
        return text
    return text.replace(secret, "[the API key]")


def sent_key(response: httpx.Response) -> str:
    """The API key the request of ``response`` carried, if any."""
    return response.request.headers.get("authorization", "").removeprefix("Bearer ")


def transient_status(status: int) -> bool:
    """True for an HTTP status that a later attempt may not get (overloaded, loading)."""
    return status >= 500 or status == 429


def client(base: str, api_key: str = "") -> httpx.Client:
    """An HTTP client for the server at ``base`` (TLS verified), with the API key if any."""
    import httpx

    headers = {"Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return httpx.Client(
        base_url=base.rstrip("/"),
        headers=headers,
        timeout=httpx.Timeout(BETWEEN_CHUNKS_SECONDS, connect=CONNECT_SECONDS),
    )


def describe(error: Exception, base: str) -> str:
    """A person's sentence for what went wrong talking to the server."""
    import httpx

    host = urlsplit(base).netloc or base
    match error:
        case httpx.ConnectError() if _certificate_problem(error):
            return (
                f"The TLS certificate of {host} could not be verified "
                f"({_certificate_problem(error)}). If the server has its own certificate "
                "authority, set SSL_CERT_FILE to its certificate"
            )
        case httpx.ConnectTimeout():
            return f"The server {host} did not accept a connection within {CONNECT_SECONDS:g} s"
        case httpx.ConnectError() if "Name or service not known" in str(
            error
        ) or "nodename nor servname" in str(error):
            return f"The server name {urlsplit(base).hostname} could not be found (DNS)"
        case httpx.ConnectError() if "refused" in str(error).lower():
            return f"Nothing answers at {base} (connection refused): is the server running?"
        case httpx.ConnectError():
            return f"Could not connect to {base}: {error}"
        case httpx.ReadTimeout():
            return f"The server {host} sent nothing for {BETWEEN_CHUNKS_SECONDS:g} s"
        case httpx.RemoteProtocolError() | httpx.ReadError():
            return f"The server {host} closed the connection in the middle of the reply"
        case _:
            return f"Talking to {host} failed: {error}"


def transient(error: Exception) -> bool:
    """True if trying again later may get through: no connection, a timeout, a dropped
    connection; not a certificate that cannot be verified or a malformed address."""
    import httpx

    return isinstance(
        error, (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
    ) and not _certificate_problem(error)


def _certificate_problem(error: Exception) -> str:
    """What is wrong with the server's certificate, if that is why the connection failed."""
    text = str(error)
    if "CERTIFICATE_VERIFY_FAILED" not in text:
        return ""
    return text.partition("certificate verify failed: ")[2].split(" (_ssl")[0] or "unknown"


def error_message(body: object, secret: str = "") -> str:
    """The message in an error a server sent (``{"error": {"message": ...}}``, FastAPI's
    ``{"detail": ...}``, or a bare string), at most 300 characters, without ``secret``."""
    if isinstance(body, dict):
        body = body.get("error", body.get("detail", body))
    if isinstance(body, dict):
        body = body.get("message", body)
    return hide(str(body), secret)[:300]


def server_message(response: httpx.Response) -> str:
    """The error message in a server's error answer, if it gives one (never the key)."""
    try:
        body: object = response.json()
    except ValueError:
        body = response.text.strip()
    return error_message(body, sent_key(response))


def status_error(response: httpx.Response) -> str:
    """The status of an error answer, with the server's message."""
    message = server_message(response)
    reason = response.reason_phrase or ""
    said = f": {message}" if message else ""
    return f"The server answered {response.status_code} {reason}{said}".strip()


def sse_data(lines: Iterator[str]) -> Iterator[str]:
    """The data of each server-sent event (``data:`` lines; others are skipped)."""
    for line in lines:
        if line.startswith("data:"):
            yield line[5:].strip()


def list_models(http: httpx.Client, base: str) -> list[ServedModel]:
    """The models the server offers, in its order.

    Raises:
        ServerError: The server cannot be reached or answers with an error.
    """
    import httpx

    try:
        response = http.get("/v1/models")
    except httpx.HTTPError as e:
        raise ServerError(describe(e, base), transient=transient(e)) from None
    if response.status_code >= 400:
        raise ServerError(status_error(response), transient=transient_status(response.status_code))
    try:
        listed = response.json().get("data") or []
        return [
            ServedModel(str(m["id"]), _context(m))
            for m in listed
            if isinstance(m, dict) and "id" in m
        ]
    except (ValueError, AttributeError, TypeError):
        raise ServerError(f"{base}/v1/models did not answer with a list of models") from None


def _context(listed: dict[str, object]) -> int:
    for field in CONTEXT_FIELDS:
        value = listed.get(field)
        if isinstance(value, int) and value > 0:
            return value
    return 0


def context_size(http: httpx.Client) -> int:
    """The context size, where the server says: llama.cpp's ``/props``; 0 if unknown."""
    import httpx

    try:
        response = http.get("/props")
        if response.status_code == 200:
            settings = response.json().get("default_generation_settings") or {}
            return int(settings.get("n_ctx") or 0)
    except (httpx.HTTPError, ValueError, AttributeError, TypeError):
        pass
    return 0
