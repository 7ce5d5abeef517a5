"""Opening a pull request through GitHub's REST API with a token (`GITHUB_TOKEN`), with urllib."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from orchestra.errors import MergeFailed
from orchestra_github.pull_request import PullRequest


class GitHubAPI:
    def __init__(self, api_url: str, repository: str, token: str, timeout: float) -> None:
        self.api_url = api_url.rstrip("/")
        self.repository = repository
        self.token = token
        self.timeout = timeout

    def open(self, head: str, base: str, title: str, body: str) -> PullRequest:
        """POST /repos/{owner}/{name}/pulls; one already open for `head` is returned as it is."""
        payload = {"title": title, "head": head, "base": base, "body": body}
        status, answer = self._request("POST", f"/repos/{self.repository}/pulls", payload)
        if status == 201:
            return PullRequest(number=answer["number"], url=answer["html_url"])
        if status == 422 and "already exists" in _details(answer):
            existing = self.find(head, base)
            if existing is not None:
                return existing
        raise MergeFailed(self._refusal(status, answer, head, base))

    def find(self, head: str, base: str) -> PullRequest | None:
        """The open pull request from `head` into `base`, if there is one."""
        owner = self.repository.split("/")[0]
        query = urllib.parse.urlencode({"head": f"{owner}:{head}", "base": base, "state": "open"})
        status, answer = self._request("GET", f"/repos/{self.repository}/pulls?{query}")
        if status != 200:
            raise MergeFailed(self._refusal(status, answer, head, base))
        for pull in answer if isinstance(answer, list) else []:
            return PullRequest(number=pull["number"], url=pull["html_url"], existed=True)
        return None

    def _refusal(self, status: int, answer: Any, head: str, base: str) -> str:
        where = f"{self.repository} at {self.api_url}"
        if status == 401:
            return (
                "GitHub refused the token in GITHUB_TOKEN (401, bad credentials): it is wrong or expired; "
                "export a valid one, or log in with `gh auth login`."
            )
        if status == 403:
            return (
                f"GitHub did not let the token in GITHUB_TOKEN open a pull request on {where} (403: "
                f"{_details(answer)}); it needs write access to pull requests, or the rate limit is used up."
            )
        if status == 404:
            return (
                f"GitHub has no repository {where} that the token in GITHUB_TOKEN can see (404); check "
                "[plugins.github] repository, or the remote's URL, and the token's access."
            )
        if status == 422:
            return f"GitHub did not open a pull request from {head} into {base} on {where}: {_details(answer)}."
        return (
            f"GitHub answered {status} when asked for a pull request on {where}: {_details(answer)}; try again later."
        )

    def _request(self, method: str, path: str, payload: dict[str, Any] | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(
            self.api_url + path,
            method=method,
            data=None if payload is None else json.dumps(payload).encode(),
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
                "User-Agent": "claude-orchestra",
                "X-GitHub-Api-Version": "2022-11-28",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, _json(response.read())
        except urllib.error.HTTPError as error:
            return error.code, _json(error.read())
        except urllib.error.URLError as error:
            if isinstance(error.reason, (socket.timeout, TimeoutError)):
                raise self._timed_out() from None
            raise MergeFailed(
                f"cannot reach the GitHub API at {self.api_url}: {error.reason}; check the network "
                "and [plugins.github] api_url."
            ) from None
        except TimeoutError:
            raise self._timed_out() from None

    def _timed_out(self) -> MergeFailed:
        return MergeFailed(
            f"the GitHub API at {self.api_url} did not answer within {self.timeout:g} seconds; try again later, "
            "or raise [plugins.github] timeout."
        )


def _json(data: bytes) -> Any:
    try:
        return json.loads(data) if data else None
    except ValueError:
        return data.decode(errors="replace")[:200]


def _details(answer: Any) -> str:
    """GitHub's own words: its `message` and each of its `errors`."""
    if not isinstance(answer, dict):
        return str(answer or "no details").strip()
    words = [str(answer.get("message") or "").strip()]
    for error in answer.get("errors") or []:
        if isinstance(error, dict):
            words.append(error.get("message") or " ".join(str(error.get(k, "")) for k in ("field", "code")).strip())
        else:
            words.append(str(error))
    return "; ".join(w for w in words if w) or "no details"
