"""schemathesis, run the way CI runs it: its command line against a live server of the API.

It generates requests from the OpenAPI schema and checks every response against it: no server
error, and every status code, content type and body as documented.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from pollsystem.polls.tests.factories import PollFactory
from pollsystem.users.tests.factories import UserFactory

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.mark.django_db(transaction=True)
def test_the_api_matches_its_schema(live_server, tmp_path):
    polls = [PollFactory() for _ in range(2)]
    token = RefreshToken.for_user(UserFactory()).access_token
    env = {**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""}
    env.pop("SCHEMATHESIS_HOOKS")
    result = subprocess.run(
        [str(SCHEMATHESIS), "run", f"{live_server.url}/api/schema/?format=json",
         "--checks", "all", "--max-examples", "20", "--seed", "7",
         # A request can fit the schema and still break a business rule (a common password, an
         # option of another poll): such 400s are correct, so that one check is left out.
         "--exclude-checks", "positive_data_acceptance",
         "--header", f"Authorization: Bearer {token}"],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "No issues found" in report or "passed" in report.lower(), report
    assert polls  # the generated requests ran against real rows
