"""Hooks for .ci/schemathesis: what the document cannot know about the caller and the data.

The OpenAPI document states every field rule, and the cross-field rules it can as JSON
Schema. What is left is state and two rules over values JSON Schema cannot compare:

- The districts that exist and that the caller is assigned to (ST_DISTRICTS, set per run):
  a registration, a pre-screening or a user's assignments name such districts, so the
  district fields are narrowed to them, as a client would pick from GET /api/v1/districts.
- No ID number twice in one household, and a password that does not contain the user name
  or repeat one character: generated bodies that break these are dropped, not rewritten.
- The schemes that run today (ST_SCHEMES), and whether a household is eligible for them:
  a referral names running schemes and gives an override_reason, as a client that has not
  screened the household must.
- An Idempotency-Key is new for each new request: positive cases get a fresh one.

Nothing here changes what the server checks; a body it drops is one the document describes
in words as refused.
"""

import os
import uuid

import schemathesis

DISTRICTS = os.environ.get("ST_DISTRICTS", "peshawar").split(",")
SCHEMES = [s for s in os.environ.get("ST_SCHEMES", "").split(",") if s]
USERNAME = os.environ.get("ST_USERNAME", "")


@schemathesis.hook
def before_load_schema(context, raw_schema):
    schemas = raw_schema["components"]["schemas"]
    schemas["HouseholdRegistration"]["properties"]["district"] = {"enum": DISTRICTS}
    schemas["RescreenRequest"]["properties"]["district"] = {"enum": [*DISTRICTS, None]}
    raw_schema["paths"]["/api/v1/households/{id}/referrals"]["post"]["requestBody"]["required"] = True
    refer = schemas["ReferRequest"]
    refer["required"] = ["schemes", "override_reason"]
    refer["properties"]["schemes"] = {"type": "array", "items": {"enum": SCHEMES}, "minItems": 1, "uniqueItems": True}
    refer["properties"]["override_reason"] = {"type": "string", "maxLength": 500, "pattern": r"^[^\x00]*\S[^\x00]*$"}
    for name in ("CreateUserRequest", "UpdateUserRequest"):
        districts = schemas[name]["properties"]["districts"]
        districts["items"] = {"enum": DISTRICTS}
        districts["uniqueItems"] = True


def _id_numbers_unique(body):
    numbers = [
        m["id_number"].replace("-", "")
        for m in body.get("members") or []
        if isinstance(m, dict) and isinstance(m.get("id_number"), str)
    ]
    return len(numbers) == len(set(numbers))


def _password_ok(password, username):
    if not isinstance(password, str) or not password:
        return True
    if len(set(password)) == 1:
        return False
    return not (isinstance(username, str) and username and username.lower() in password.lower())


def _positive(case):
    return case.meta is None or case.meta.generation.mode.is_positive


@schemathesis.hook
def filter_case(context, case):
    # Only documented-valid requests are dropped; negative ones are meant to break rules.
    body = case.body
    if not _positive(case) or not isinstance(body, dict):
        return True
    return (
        _id_numbers_unique(body)
        and _password_ok(body.get("password"), body.get("username"))
        and _password_ok(body.get("new_password"), USERNAME)
    )


@schemathesis.hook
def map_case(context, case):
    # A client sends a fresh Idempotency-Key with each new request (a key sent again with
    # another body is refused with 422, as the key's contract says); the document can ask for
    # the key's shape, not for it to be new.
    if _positive(case) and case.headers:
        for name in list(case.headers):
            if name.lower() == "idempotency-key":
                case.headers[name] = str(uuid.uuid4())
    return case
