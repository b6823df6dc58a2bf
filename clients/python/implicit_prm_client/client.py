"""HTTP client of the implicit-prm service, standard library only (urllib + json).

RL pipelines run it inside trainer processes where adding dependencies is a chore, so it needs
nothing beyond Python 3.8. It adds what each caller would otherwise rewrite: the API key header,
a timeout, and retries of overload answers (429/503) that honour Retry-After.

    prm = PrmClient("http://localhost:8080", api_key=os.environ.get("PRM_API_KEY"))
    result = prm.score_steps("48+27-39*2", ["48+27=75", "75-39=36", "36*2=72", "Answer: 72"])
    result["score"], [s["reward"] for s in result["steps"]]
"""
from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from typing import Any, Dict, List, Optional, Sequence

AGGREGATES = ("min", "sum", "last", "mean")


class PrmError(Exception):
    """An error answer of the service (its ``code``, e.g. ``EMPTY_STEP``), or a failure to reach
    it (``status`` 0 and code ``NETWORK`` or ``TIMEOUT``)."""

    def __init__(self, status: int, code: str, message: str, retry_after: Optional[float] = None):
        super().__init__(f"{code}: {message}" if status == 0 else f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Overload, not ready, or a failed connection: worth sending again after a pause."""
        return self.status in (429, 503) or self.code == "NETWORK"


class PrmClient:
    """Client of one service.

    base_url: where it listens. api_key: sent as ``Authorization: Bearer <key>`` (needed when the
    service sets API_KEYS). timeout: seconds per HTTP call. max_retries: retries of 429/503 answers
    and failed connections (0 disables). max_retry_delay: longest pause between retries, seconds.
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080",
        api_key: Optional[str] = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        max_retry_delay: float = 10.0,
    ):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key or None
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_delay = max_retry_delay

    # ---- API -------------------------------------------------------------------------------
    def score(
        self,
        items: Sequence[Dict[str, Any]],
        model: Optional[str] = None,
        aggregate: Optional[str] = None,
        token_rewards: Optional[bool] = None,
        beta: Optional[float] = None,
        partial: Optional[bool] = None,
    ) -> Dict[str, Any]:
        """POST /v1/score. ``items``: dicts with ``prompt`` and ``steps`` (list of str) or
        ``response`` (str, split by the model's step separator), optionally ``id``. Returns the
        response: ``{"model", "results": [{"id", "score", "outcome_reward", "steps", ...}], "usage"}``."""
        options = {
            k: v
            for k, v in (("aggregate", aggregate), ("token_rewards", token_rewards), ("beta", beta), ("partial", partial))
            if v is not None
        }
        body: Dict[str, Any] = {"items": list(items)}
        if model is not None:
            body["model"] = model
        if options:
            body["options"] = options
        return self._request("POST", "/v1/score", body)

    def score_steps(self, prompt: str, steps: Sequence[str], **options: Any) -> Dict[str, Any]:
        """Scores one trace; returns its result (``score``, ``outcome_reward``, ``steps``, ...)."""
        return self.score([{"prompt": prompt, "steps": list(steps)}], **options)["results"][0]

    def get_reward(
        self,
        query: Sequence[str],
        prompts: Optional[Sequence[str]] = None,
        labels: Optional[Sequence[Any]] = None,
        **extra: Any,
    ) -> Dict[str, Any]:
        """POST /get_reward, the OpenRLHF remote reward model protocol: ``query[i]`` is prompt +
        response, ``prompts[i]`` its prompt. Returns ``{"rewards", "scores", "extra_logs", "step_rewards",
        "errors"}``: every sample gets a reward; ``errors[i]`` names why one got the fallback."""
        body: Dict[str, Any] = {"query": list(query)}
        if prompts is not None:
            body["prompts"] = list(prompts)
        if labels is not None:
            body["labels"] = list(labels)
        body.update({k: v for k, v in extra.items() if v is not None})
        return self._request("POST", "/get_reward", body)

    def models(self) -> Dict[str, Any]:
        """GET /v1/models: ``{"default_model", "models": [{"name", "beta", "step_separator", ...}]}``."""
        return self._request("GET", "/v1/models")

    def readiness(self) -> Dict[str, Any]:
        """GET /health/ready as data: ``{"ready": bool, "models": {...}, "degraded": [...]}``."""
        try:
            return self._request("GET", "/health/ready", retries=0)
        except PrmError as err:
            if err.code == "NOT_READY" and isinstance(getattr(err, "body", None), dict):
                return err.body  # type: ignore[attr-defined]
            raise

    def wait_until_ready(self, timeout: float = 60.0, poll: float = 0.25) -> Dict[str, Any]:
        """Blocks until the service is ready; raises PrmError(TIMEOUT) after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            try:
                state = self.readiness()
                if state.get("ready"):
                    return state
                last = state
            except PrmError as err:
                last = err
            if time.monotonic() >= deadline:
                raise PrmError(0, "TIMEOUT", f"service at {self.base_url} not ready after {timeout} s: {last}")
            time.sleep(poll)

    # ---- transport -------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: Any = None, retries: Optional[int] = None) -> Any:
        retries = self.max_retries if retries is None else retries
        attempt = 0
        while True:
            try:
                return self._once(method, path, body)
            except PrmError as err:
                if not err.retryable or attempt >= retries:
                    raise
                # Retry-After when the service gave one, else exponential backoff from 0.25 s.
                wait = err.retry_after if err.retry_after is not None else 0.25 * 2**attempt
                time.sleep(min(wait, self.max_retry_delay))
                attempt += 1

    def _once(self, method: str, path: str, body: Any) -> Any:
        url = self.base_url + path
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as res:
                return json.loads(res.read().decode("utf-8"))
        except urllib.error.HTTPError as res:
            raw = res.read().decode("utf-8", "replace")
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            error = parsed.get("error") if isinstance(parsed, dict) else None
            code = error.get("code") if isinstance(error, dict) else f"HTTP_{res.code}"
            message = error.get("message") if isinstance(error, dict) else (raw[:200] or res.reason)
            err = PrmError(res.code, code, message, _retry_after(res.headers.get("Retry-After")))
            err.body = parsed  # type: ignore[attr-defined]
            raise err from None
        except (socket.timeout, TimeoutError) as exc:
            raise PrmError(0, "TIMEOUT", f"{method} {url}: no answer within {self.timeout} s") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (socket.timeout, TimeoutError)):
                raise PrmError(0, "TIMEOUT", f"{method} {url}: no answer within {self.timeout} s") from exc
            raise PrmError(0, "NETWORK", f"{method} {url}: {exc.reason}") from exc
        except ConnectionError as exc:
            raise PrmError(0, "NETWORK", f"{method} {url}: {exc}") from exc


def _retry_after(value: Optional[str]) -> Optional[float]:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to backoff
