"""API server messages reach findings and errors with the values they quote hidden."""

from __future__ import annotations

import json

from kubernetes.client.exceptions import ApiException

from helm_enterprise.kube.client import api_message, hide_values

SECRET = "hunter2-s3cr3t"


def test_object_values_are_hidden_and_the_rest_kept() -> None:
    message = (
        'Deployment.apps "web" is invalid: spec.template.spec.containers[0].securityContext: '
        f'Invalid value: {{"Privileged":true,"Env":"{SECRET}","Nested":{{"a":[1,2]}}}}: '
        "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"
    )
    hidden = hide_values(message)
    assert SECRET not in hidden and "Privileged" not in hidden
    assert hidden.startswith('Deployment.apps "web" is invalid: spec.template.spec.containers[0]')
    assert "Invalid value: [hidden]: cannot set `allowPrivilegeEscalation`" in hidden


def test_quoted_plain_and_truncated_values() -> None:
    assert hide_values(f'env[0].value: Invalid value: "{SECRET}": too long') == (
        "env[0].value: Invalid value: [hidden]: too long"
    )
    assert hide_values("replicas: Invalid value: -1: must be >= 0") == (
        "replicas: Invalid value: [hidden]: must be >= 0"
    )
    cut = hide_values(f'x: Invalid value: {{"a":"{SECRET}…')  # truncated by the server
    assert SECRET not in cut and cut.endswith("[hidden]")
    two = hide_values(f'a: Invalid value: "{SECRET}": bad, b: Invalid value: "{SECRET}": bad')
    assert SECRET not in two and two.count("[hidden]") == 2


def test_api_message_reads_the_status_body() -> None:
    err = ApiException(status=422, reason="Unprocessable Entity")
    err.body = json.dumps({"kind": "Status", "message": f'f: Invalid value: "{SECRET}": no'})
    assert api_message(err) == "f: Invalid value: [hidden]: no"
    err.body = "not json"
    assert api_message(err) == ""
