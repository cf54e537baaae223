"""The Azure OpenAI data plane, driven by the real ``openai`` and ``azure-identity`` clients over HTTPS."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import jwt
import openai
import pytest
from azure.identity import ManagedIdentityCredential, get_bearer_token_provider
from azure.identity.aio import ManagedIdentityCredential as AsyncManagedIdentityCredential
from azure.identity.aio import get_bearer_token_provider as get_async_bearer_token_provider

from conftest import COGNITIVE_SCOPE
from keyless_lab import Lab
from keyless_lab.errors import DEPLOYMENT_NOT_FOUND_MESSAGE, TOKEN_INVALID_MESSAGE, WRONG_KEY_MESSAGE

CHAT_ACTION = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"
HELLO = [{"role": "user", "content": "Hi"}]


def azure_client(**auth: object) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(
        azure_endpoint=os.environ["AZURE_OPENAI_ENDPOINT"],
        api_version=os.environ["AZURE_OPENAI_API_VERSION"],
        max_retries=0,
        **auth,
    )


def app_provider() -> object:
    return get_bearer_token_provider(ManagedIdentityCredential(), COGNITIVE_SCOPE)


def readme_keyless_snippet() -> str:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, re.DOTALL)
    return next(b for b in blocks if "get_bearer_token_provider" in b and "keyless_lab" not in b)


def test_keyless_snippet_from_readme_gets_a_reply(capsys: pytest.CaptureFixture[str]) -> None:
    """``connect(preset="ready")``, then the README's snippet as written, with nothing lab-specific."""
    from keyless_lab import connect

    target = connect(preset="ready")
    try:
        assert target.lab is not None
        with target.lab.hosted("chat-app"):  # the app's identity holds the role in "ready"
            exec(readme_keyless_snippet(), {})
    finally:
        target.stop()
    assert capsys.readouterr().out == 'Hello from the Go Keyless lab! You said: "Hello"\n'
    assert os.environ.get("AZURE_OPENAI_ENDPOINT") != target.lab.url


def test_token_without_role_gets_permission_denied_then_works_after_grant(lab: Lab) -> None:
    app_id = lab.principal("chat-app")["object_id"]
    with lab.environment(), lab.hosted("chat-app"):
        client = azure_client(azure_ad_token_provider=app_provider())
        with pytest.raises(openai.AuthenticationError) as denied:
            client.chat.completions.create(model="chat", messages=HELLO)
        lab.grant_openai_user("chat-app")
        reply = client.chat.completions.create(model="chat", messages=HELLO)
    assert denied.value.status_code == 401
    assert denied.value.body == {
        "code": "PermissionDenied",
        "message": (
            f"The principal `{app_id}` lacks the required data action `{CHAT_ACTION}` to perform "
            "`POST /openai/deployments/{deployment-id}/chat/completions` operation."
        ),
    }
    assert reply.choices[0].message.content == 'Hello from the Go Keyless lab! You said: "Hi"'
    assert reply.usage is not None and reply.usage.total_tokens == reply.usage.prompt_tokens + 13


def test_chat_streams_and_embeds_on_both_paths(lab: Lab) -> None:
    lab.grant_openai_user("chat-app")
    with lab.environment(), lab.hosted("chat-app"):
        provider = app_provider()
        client = azure_client(azure_ad_token_provider=provider)
        stream = client.chat.completions.create(
            model="chat", messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        vectors = client.embeddings.create(model="embeddings", input=["alpha", "beta", "alpha"])
        v1 = openai.OpenAI(base_url=f"{os.environ['AZURE_OPENAI_ENDPOINT']}/openai/v1/", api_key=provider)
        v1_reply = v1.chat.completions.create(model="chat", messages=HELLO)
        v1_vectors = v1.embeddings.create(model="embeddings", input="alpha", dimensions=8)
    assert text == 'Hello from the Go Keyless lab! You said: "Hi"'
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 13
    assert [len(d.embedding) for d in vectors.data] == [1536] * 3
    assert vectors.data[0].embedding == vectors.data[2].embedding != vectors.data[1].embedding
    assert abs(sum(v * v for v in vectors.data[0].embedding) - 1.0) < 1e-5
    assert v1_reply.choices[0].message.content == text
    assert len(v1_vectors.data[0].embedding) == 8


def test_async_client_with_async_provider(lab: Lab) -> None:
    import asyncio

    lab.grant_openai_user("chat-app")

    async def run() -> str:
        async with AsyncManagedIdentityCredential() as credential:
            provider = get_async_bearer_token_provider(credential, COGNITIVE_SCOPE)
            client = openai.AsyncAzureOpenAI(
                azure_endpoint=os.environ["AZURE_OPENAI_ENDPOINT"],
                api_version=os.environ["AZURE_OPENAI_API_VERSION"],
                azure_ad_token_provider=provider,
            )
            reply = await client.chat.completions.create(model="chat", messages=HELLO)
            await client.close()
            return reply.choices[0].message.content or ""

    with lab.environment(), lab.hosted("chat-app"):
        assert asyncio.run(run()) == 'Hello from the Go Keyless lab! You said: "Hi"'


def _token_for(lab: Lab, principal: str, audience: str, **changes: object) -> str:
    claims = lab.state.issuer.claims_for(lab.state.directory.principals[principal], audience)
    claims.update(changes)
    return lab.state.issuer.sign(claims)


COGNITIVE = "https://cognitiveservices.azure.com"
INVALID_TOKEN = {"statusCode": 401, "message": TOKEN_INVALID_MESSAGE}


def _tampered(token: str) -> str:
    head, payload, signature = token.split(".")
    return f"{head}.{payload}.{signature[:10]}{'A' if signature[10] != 'A' else 'B'}{signature[11:]}"


def _foreign(lab: Lab) -> str:
    tenant = lab.state.directory.foreign_tenant_id
    return _token_for(lab, "learner", COGNITIVE, tid=tenant, iss=f"https://sts.windows.net/{tenant}/")


# One row per Azure behaviour: how the caller authenticates, which deployment, what Azure answers.
REJECTIONS = {
    "wrong key": (
        lambda lab: {"api_key": "0" * 32},
        "chat",
        401,
        lambda lab: {"code": "401", "message": WRONG_KEY_MESSAGE},
    ),
    "token for ARM": (
        lambda lab: {"azure_ad_token": _token_for(lab, "learner", "https://management.azure.com/")},
        "chat",
        401,
        lambda lab: INVALID_TOKEN,
    ),
    "expired token": (
        lambda lab: {"azure_ad_token": _token_for(lab, "learner", COGNITIVE, exp=int(time.time()) - 5)},
        "chat",
        401,
        lambda lab: INVALID_TOKEN,
    ),
    "tampered signature": (
        lambda lab: {"azure_ad_token": _tampered(_token_for(lab, "learner", COGNITIVE))},
        "chat",
        401,
        lambda lab: INVALID_TOKEN,
    ),
    "another tenant": (
        lambda lab: {"azure_ad_token": _foreign(lab)},
        "chat",
        400,
        lambda lab: {
            "code": "Tenant provided in token does not match resource token",
            "message": f"Token tenant {lab.state.directory.foreign_tenant_id} does not match resource tenant.",
        },
    ),
    "unknown deployment": (
        lambda lab: {"azure_ad_token": _token_for(lab, "learner", COGNITIVE)},
        "gpt-does-not-exist",
        404,
        lambda lab: {"code": "DeploymentNotFound", "message": DEPLOYMENT_NOT_FOUND_MESSAGE},
    ),
}


@pytest.mark.parametrize("case", list(REJECTIONS))
def test_rejections_match_azure(lab: Lab, case: str) -> None:
    auth, model, status, body = REJECTIONS[case]
    lab.grant_openai_user("learner")
    with lab.environment():
        client = azure_client(**auth(lab))
        with pytest.raises(openai.APIStatusError) as rejected:
            client.chat.completions.create(model=model, messages=HELLO)
    assert rejected.value.status_code == status
    assert rejected.value.response.json() == (body(lab) if "statusCode" in body(lab) else {"error": body(lab)})


def test_keys_work_until_local_auth_is_disabled(lab: Lab) -> None:
    key1 = lab.state.account.keys()["key1"]
    with lab.environment():
        client = azure_client(api_key=key1)
        assert client.chat.completions.create(model="chat", messages=HELLO).choices[0].message.content
        lab.state.account.disable_local_auth = True
        with pytest.raises(openai.PermissionDeniedError) as refused:
            client.chat.completions.create(model="chat", messages=HELLO)
    assert refused.value.status_code == 403
    assert refused.value.body == {
        "code": "AuthenticationTypeDisabled",
        "message": "Key based authentication is disabled for this resource.",
    }
    callers = [(e.caller, e.status) for e in lab.audit("openai")]
    assert callers == [("key1", 200), ("key1", 403)]


def test_token_claims_are_azures(lab: Lab) -> None:
    learner = lab.state.directory.learner
    issued = lab.state.issuer.issue(learner, "https://cognitiveservices.azure.com")
    claims = jwt.decode(issued.token, options={"verify_signature": False})
    header = jwt.get_unverified_header(issued.token)
    assert header["alg"] == "RS256" and header["kid"] == lab.state.issuer.kid
    assert claims["iss"] == f"https://sts.windows.net/{lab.state.directory.tenant_id}/"
    assert claims["aud"] == "https://cognitiveservices.azure.com"
    assert claims["oid"] == learner.object_id and claims["upn"] == learner.upn
    assert 3600 <= claims["exp"] - claims["iat"] <= 5400
    assert issued.token not in repr(issued)

    app = lab.state.directory.principals["chat-app"]
    app_claims = jwt.decode(
        lab.state.issuer.issue(app, "https://cognitiveservices.azure.com").token, options={"verify_signature": False}
    )
    assert app_claims["idtyp"] == "app" and app_claims["appid"] == app.client_id
    assert app_claims["xms_mirid"].endswith("/providers/Microsoft.Web/sites/chat-app")
    assert app_claims["exp"] - app_claims["iat"] == 86_400
    lab.token_lifetime(7)
    short = jwt.decode(lab.state.issuer.issue(app, "x").token, options={"verify_signature": False})
    assert short["exp"] - short["iat"] == 7
