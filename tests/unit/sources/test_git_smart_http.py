"""One-request ``ls-remote`` over HTTPS (sources/git/smart_http.py): the parser, git's
pattern rule, and when it steps aside for git."""

from __future__ import annotations

import ssl

import pytest

from helm_enterprise.sources.git import smart_http
from helm_enterprise.sources.git.refs import parse_ls_remote, select_ref

A, B, C = "a" * 40, "b" * 40, "c" * 40
URL = "https://git.example.com/charts.git"


def pkt(text: str) -> bytes:
    data = text.encode()
    return b"%04x" % (len(data) + 4) + data


def advertisement(*lines: str) -> bytes:
    return pkt("# service=git-upload-pack\n") + b"0000" + b"".join(map(pkt, lines)) + b"0000"


BODY = advertisement(
    f"{A} HEAD\0multi_ack side-band-64k symref=HEAD:refs/heads/main\n",
    f"{A} refs/heads/main\n",
    f"{B} refs/heads/release/main\n",
    f"{B} refs/tags/v1\n",
    f"{C} refs/tags/v1^{{}}\n",
)


def test_parses_refs_and_drops_capabilities() -> None:
    assert smart_http.parse_advertisement(BODY) == [
        (A, "HEAD"),
        (A, "refs/heads/main"),
        (B, "refs/heads/release/main"),
        (B, "refs/tags/v1"),
        (C, "refs/tags/v1^{}"),
    ]


def test_an_empty_repository_has_no_refs() -> None:
    body = advertisement(f"{'0' * 40} capabilities^{{}}\0agent=git/2.39\n")
    assert smart_http.parse_advertisement(body) == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        pkt("# service=git-receive-pack\n") + b"0000" + b"0000",
        advertisement(f"{A} HEAD\n")[:-4],  # no closing flush
        b"zzzz",
        pkt("# service=git-upload-pack\n")[:-3],
    ],
)
def test_anything_else_is_refused(body: bytes) -> None:
    with pytest.raises(ValueError):
        smart_http.parse_advertisement(body)


def test_patterns_match_as_git_ls_remote_matches_them() -> None:
    names = [n for _, n in smart_http.parse_advertisement(BODY)]
    pick = lambda *p: [n for n in names if smart_http.matches(n, p)]  # noqa: E731
    assert pick("refs/heads/main") == ["refs/heads/main"]
    assert pick("main") == ["refs/heads/main", "refs/heads/release/main"]  # a tail, at a "/"
    assert pick("ain") == []
    assert pick("refs/tags/v1") == ["refs/tags/v1"]  # the peeled line only by its name
    assert pick("refs/tags/v1", "refs/tags/v1^{}") == ["refs/tags/v1", "refs/tags/v1^{}"]
    assert pick() == names


def test_the_listing_resolves_like_ls_remote() -> None:
    listing = "".join(f"{s}\t{n}\n" for s, n in smart_http.parse_advertisement(BODY))
    advertised = parse_ls_remote(listing)
    assert select_ref("main", advertised) == select_ref("refs/heads/main", advertised)
    assert select_ref("v1", advertised)[1] == C  # an annotated tag's commit


def env(*pairs: tuple[str, str], **extra: str) -> dict[str, str]:
    out = {"GIT_CONFIG_COUNT": str(len(pairs)), **extra}
    for i, (k, v) in enumerate(pairs):
        out[f"GIT_CONFIG_KEY_{i}"], out[f"GIT_CONFIG_VALUE_{i}"] = k, v
    return out


def test_the_request_carries_what_git_would_send() -> None:
    header = (f"http.{URL}.extraHeader", "Authorization: Basic dG9rZW4=")
    settings = smart_http._request_settings(URL, env(("credential.helper", ""), header))
    assert settings is not None
    headers, verify = settings
    assert headers["Authorization"] == "Basic dG9rZW4="
    assert headers["User-Agent"].startswith("git/")
    assert isinstance(verify, ssl.SSLContext)
    assert smart_http._request_settings(URL, env(GIT_SSL_NO_VERIFY="1")) == (
        {"User-Agent": smart_http.USER_AGENT},
        False,
    )


@pytest.mark.parametrize(
    "git_env",
    [
        env(("http.proxy", "http://proxy:3128")),
        env(("http.https://other.example.com/.extraHeader", "X: y")),
        env(("http." + URL + ".extraHeader", "no colon")),
        env(GIT_SSL_CERT="/client.pem"),
        env(GIT_HTTP_USER_AGENT="custom"),
        env(GIT_CONFIG_PARAMETERS="'http.sslverify'='false'"),
    ],
)
def test_settings_it_does_not_reproduce_leave_it_to_git(git_env: dict[str, str]) -> None:
    assert smart_http._request_settings(URL, git_env) is None


def test_steps_aside_for_other_transports_and_configured_git(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_network(*_a: object, **_k: object) -> None:
        raise AssertionError("no request expected")

    monkeypatch.setattr(smart_http.httpx, "get", no_network)
    assert smart_http.ls_remote("ssh://git@host/repo.git", [], {}, 5) is None
    assert smart_http.ls_remote("file:///srv/repo.git", [], {}, 5) is None
    monkeypatch.setattr(smart_http, "git_config_is_plain", lambda: False)
    assert smart_http.ls_remote(URL, [], {}, 5) is None


def test_a_request_error_or_a_dumb_server_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    monkeypatch.setattr(smart_http, "git_config_is_plain", lambda: True)
    answers = iter(
        [
            httpx.Response(200, content=BODY, headers={"content-type": smart_http.CONTENT_TYPE}),
            httpx.Response(401),
            httpx.Response(
                200, content=b"ref: refs/heads/main", headers={"content-type": "text/plain"}
            ),
        ]
    )
    monkeypatch.setattr(smart_http.httpx, "get", lambda *a, **k: next(answers))
    assert smart_http.ls_remote(URL, ["refs/heads/main"], {}, 5) == f"{A}\trefs/heads/main\n"
    assert smart_http.ls_remote(URL, [], {}, 5) is None
    assert smart_http.ls_remote(URL, [], {}, 5) is None

    def refused(*_a: object, **_k: object) -> None:
        raise httpx.ConnectError("refused")

    monkeypatch.setattr(smart_http.httpx, "get", refused)
    assert smart_http.ls_remote(URL, [], {}, 5) is None
