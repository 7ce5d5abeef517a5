"""Bad input through the dashboard: refused with 400 and one sentence, nothing made."""

from __future__ import annotations

from support import branches, statuses


def test_a_task_with_a_nul_byte_is_refused_with_400(client, orchestra, repo):
    refused = client.post("/api/spawn", json={"task": "fix\u0000it", "agent": "demo", "name": "nul"})
    assert refused.status_code == 400, refused.text
    assert "NUL byte" in refused.json()["error"]
    assert statuses(orchestra) == {}
    assert branches(repo) == ["main"]


def test_a_base_with_a_nul_byte_is_refused_with_400(client, orchestra, repo):
    """It reached git's argv, and the server answered 500."""
    refused = client.post("/api/spawn", json={"task": "fix it", "agent": "demo", "base": "main\u0000"})
    assert refused.status_code == 400, refused.text
    assert "is not a git revision" in refused.json()["error"]
    assert statuses(orchestra) == {}
    assert branches(repo) == ["main"]
