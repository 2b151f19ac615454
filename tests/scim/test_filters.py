"""Queries: every operator, logic, value paths, case rules, sorting, paging, projection."""
from __future__ import annotations

from urllib.parse import quote

import pytest

from .conftest import ENTERPRISE, assert_error


@pytest.fixture
def people(scim):
    def mk(user_name, **kw):
        return scim.user(user_name, **kw)["id"]
    ids = {
        "ann": mk("Ann@Acme.test", externalId="A-1", title="Engineer", displayName="Ann Archer",
                  name={"givenName": "Ann", "familyName": "Archer"},
                  emails=[{"value": "ann@acme.test", "type": "work", "primary": True},
                          {"value": "ann@home.test", "type": "home"}],
                  **{ENTERPRISE: {"department": "R&D", "employeeNumber": "100"}}),
        "bob": mk("bob@acme.test", externalId="B-2", title="Manager", displayName="Bob Baker",
                  name={"givenName": "Bob", "familyName": "Baker"},
                  emails=[{"value": "bob@x.test", "type": "work"}],
                  **{ENTERPRISE: {"department": "Sales", "employeeNumber": "200"}}),
        "cy": mk("cy@acme.test", externalId="c-3", displayName="Cy Cole", active=False,
                 name={"givenName": "Cy", "familyName": "Cole"},
                 phoneNumbers=[{"value": "+1 555 0100", "type": "mobile"}]),
    }
    ids["_scim"] = scim
    return ids


def names(scim, flt, extra=""):
    r = scim.get(f"/Users?filter={quote(flt)}{extra}")
    assert r.status_code == 200, r.get_json()
    return sorted(u["userName"].split("@")[0].lower() for u in r.get_json()["Resources"])


OPERATOR_CASES = [
    ('userName eq "ann@acme.test"', ["ann"]),          # userName is case-insensitive
    ('USERNAME eq "BOB@ACME.TEST"', ["bob"]),           # so is the attribute name
    ('userName ne "ann@acme.test"', ["bob", "cy"]),
    ('userName co "O"', ["bob"]),
    ('userName sw "c"', ["cy"]),
    ('userName ew "@acme.test"', ["ann", "bob", "cy"]),
    ('title pr', ["ann", "bob"]),
    ('employeeNumber gt "100"', ["bob"]),
    ('employeeNumber ge "100"', ["ann", "bob"]),
    ('employeeNumber lt "200"', ["ann"]),
    ('employeeNumber le "200"', ["ann", "bob"]),
    ('externalId eq "c-3"', ["cy"]),
    ('externalId eq "C-3"', []),                        # externalId is caseExact
    ('displayName eq "ann archer"', ["ann"]),           # displayName is not
    ('active eq false', ["cy"]),
    ('active eq true', ["ann", "bob"]),
    ('name.familyName sw "ba"', ["bob"]),
    ('emails.value ew "@x.test"', ["bob"]),
    ('emails co "home"', ["ann"]),
    ('emails[type eq "work" and value co "@acme"]', ["ann"]),
    ('emails[type eq "work" and value co "@home"]', []),
    ('emails[type eq "work"].value eq "bob@x.test"', ["bob"]),
    ('phoneNumbers[type eq "mobile"]', ["cy"]),
    ('title eq "Engineer" or title eq "Manager"', ["ann", "bob"]),
    ('title pr and not (title eq "Engineer")', ["bob"]),
    ('(userName sw "a" or userName sw "b") and active eq true', ["ann", "bob"]),
    ('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "r&d"', ["ann"]),
    ('meta.created gt "2000-01-01T00:00:00Z"', ["ann", "bob", "cy"]),
    ('meta.lastModified lt "2000-01-01T00:00:00Z"', []),
]


def test_filter_operators_logic_value_paths_and_case_rules(people):
    # One set of people for every case (each case is a separate assertion message).
    for flt, expected in OPERATOR_CASES:
        assert names(people["_scim"], flt) == expected, flt


def test_filter_by_id_and_group_membership(people):
    scim = people["_scim"]
    assert names(scim, f'id eq "{people["bob"]}"') == ["bob"]
    g = scim.group("Sales", [people["bob"]])
    assert names(scim, f'groups.value eq "{g["id"]}"') == ["bob"]
    assert names(scim, 'groups.display eq "sales"') == ["bob"]


BAD_FILTERS = [
    'bogus eq "x"', 'name.nope eq "x"', 'userName eq "a" and nope pr', 'userName eq',
    'userName zz "x"', 'emails[nope eq "x"]', '(userName eq "a"', 'active gt true',
    'urn:example:custom:User:badge eq "1"', 'title[value eq "x"]',
]


def test_unknown_attribute_or_bad_syntax_is_400_invalid_filter(people):
    # The parser alone would drop an unknown attribute and match everyone: never.
    for flt in BAD_FILTERS:
        assert_error(people["_scim"].get(f"/Users?filter={quote(flt)}"), 400, "invalidFilter")


def test_group_filters(scim):
    u = scim.user("m@acme.test")
    g = scim.group("Engineers", [u["id"]], externalId="G-1")
    scim.group("Sales")
    q = lambda f: [x["displayName"] for x in scim.get(  # noqa: E731
        f"/Groups?filter={quote(f)}").get_json()["Resources"]]
    assert q('displayName eq "engineers"') == ["Engineers"]
    assert q('externalId eq "G-1"') == ["Engineers"]
    assert q(f'members[value eq "{u["id"]}"]') == ["Engineers"]
    assert q(f'members.value eq "{u["id"]}"') == ["Engineers"]
    assert q(f'id eq "{g["id"]}"') == ["Engineers"]
    bad = quote('userName eq "x"')
    assert_error(scim.get(f"/Groups?filter={bad}"), 400, "invalidFilter")


def test_sort_and_stable_pages(scim):
    for i in range(7):
        scim.user(f"u{i}@acme.test", title=["b", "a"][i % 2])
    r = scim.get("/Users?sortBy=title&sortOrder=descending&count=100").get_json()
    titles = [u["title"] for u in r["Resources"]]
    assert titles == sorted(titles, reverse=True)
    pages = []
    for start in (1, 3, 5, 7):
        page = scim.get(f"/Users?sortBy=title&startIndex={start}&count=2").get_json()
        assert page["startIndex"] == start and page["totalResults"] == 7
        pages += [u["id"] for u in page["Resources"]]
    assert len(pages) == len(set(pages)) == 7
    assert_error(scim.get("/Users?sortBy=emails"), 400, "invalidValue")
    assert_error(scim.get("/Users?sortOrder=sideways"), 400, "invalidValue")


def test_count_zero_returns_only_total(scim):
    scim.user("a@acme.test")
    r = scim.get("/Users?count=0").get_json()
    assert r["totalResults"] == 1 and r["Resources"] == [] and r["itemsPerPage"] == 0


def test_start_index_below_one_is_one_and_beyond_end_is_empty(scim):
    scim.user("a@acme.test")
    assert scim.get("/Users?startIndex=0").get_json()["startIndex"] == 1
    r = scim.get("/Users?startIndex=5").get_json()
    assert r["totalResults"] == 1 and r["Resources"] == []


def test_attributes_and_excluded_attributes(scim):
    scim.user("p@acme.test", title="T", name={"givenName": "P", "familyName": "Q"})
    r = scim.get("/Users?attributes=userName,name.givenName").get_json()["Resources"][0]
    assert set(r) == {"schemas", "id", "meta", "userName", "name"}
    assert r["name"] == {"givenName": "P"}
    r = scim.get("/Users?excludedAttributes=title,groups,name.familyName").get_json()["Resources"][0]
    assert "title" not in r and "groups" not in r and r["name"] == {"givenName": "P"}


def test_post_search_takes_the_query_in_the_body(scim):
    scim.user("a@acme.test")
    scim.user("b@acme.test")
    r = scim.post("/Users/.search", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": 'userName sw "b"', "attributes": ["userName"], "startIndex": 1, "count": 10})
    body = r.get_json()
    assert r.status_code == 200 and body["totalResults"] == 1
    assert set(body["Resources"][0]) == {"schemas", "id", "meta", "userName"}
    assert_error(scim.post("/Users/.search", {"filter": "x"}), 400, "invalidSyntax")


def test_root_search_spans_users_and_groups(scim):
    scim.user("ann@acme.test", displayName="Ann")
    scim.user("bob@acme.test", displayName="Bob")
    scim.group("Admins")
    req = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}
    r = scim.post("/.search", {**req, "count": 2}).get_json()
    assert r["totalResults"] == 3 and len(r["Resources"]) == 2
    r = scim.post("/.search", {**req, "startIndex": 3}).get_json()
    assert [x["meta"]["resourceType"] for x in r["Resources"]] == ["Group"]
    # displayName exists on both types; userName only on Users.
    r = scim.post("/.search", {**req, "filter": 'displayName sw "a"'}).get_json()
    assert sorted(x["displayName"] for x in r["Resources"]) == ["Admins", "Ann"]
    r = scim.post("/.search", {**req, "filter": 'userName eq "bob@acme.test"'}).get_json()
    assert r["totalResults"] == 1
    assert_error(scim.post("/.search", {**req, "filter": 'nope eq "x"'}), 400, "invalidFilter")
