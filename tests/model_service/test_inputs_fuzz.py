"""Whatever a client sends, the answer is a 2xx or a JSON 4xx: never a 5xx."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FIELDS = st.sampled_from(["sl", "sw", "pl", "pw", "key", "x", "", "sl[]", "SL"])
TEXT = st.text(max_size=12)
JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True, allow_infinity=True) | st.integers() | TEXT,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(FIELDS | TEXT, children, max_size=5),
    max_leaves=20,
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def check(response):
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        error = response.get_json()["error"]
        assert error["status"] == response.status_code and error["message"]


@FUZZ
@given(params=st.lists(st.tuples(FIELDS, TEXT | st.floats().map(str)), max_size=8))
def test_query_strings(client, keys, params):
    check(client.get("/api/v1/classify", query_string=params, headers={"X-API-Key": keys["user"]}))


@FUZZ
@given(body=JSON)
def test_json_bodies(client, keys, body):
    headers = {"X-API-Key": keys["user"]}
    check(client.post("/api/v1/classify", json=body, headers=headers))
    check(client.post("/api/v1/predict", json={"instances": body}, headers=headers))
    check(client.post("/api/v1/predict", json=body, headers=headers))


@FUZZ
@given(raw=st.binary(max_size=200), content_type=st.sampled_from(
    ["application/json", "application/x-www-form-urlencoded", "text/plain", "", "application/json; charset=latin-1"]))
def test_raw_bodies(client, keys, raw, content_type):
    check(client.post("/api/v1/classify", data=raw, content_type=content_type, headers={"X-API-Key": keys["user"]}))
