import pytest

from swarmhub.hub.environments import (
    UnknownEnvironment,
    choose_environment,
    environments_form,
    options_from_form,
    parse_environments,
)

ENVS = [
    {"name": "python", "image": "reg/notebook:1", "description": "Plain <Python>"},
    {"name": "course", "image": "reg/course:1", "mem_limit": 512, "seed_from": "/opt/seed"},
]


def test_first_environment_is_the_default():
    envs = parse_environments(ENVS)
    assert choose_environment(envs, None).name == "python"
    assert choose_environment(envs, "course").seed_from == "/opt/seed"
    assert envs[0].seed_from == "/home/jovyan"


def test_unknown_environment_names_the_choices():
    with pytest.raises(
        UnknownEnvironment, match="no environment 'r'. Choose one of: python, course"
    ):
        choose_environment(parse_environments(ENVS), "r")


@pytest.mark.parametrize(
    "entries, complaint",
    [
        ([], "at least one"),
        ([{"name": "Py", "image": "x"}], "lower-case"),
        ([{"name": "projects", "image": "x"}], "taken"),
        ([{"name": "a", "image": "x"}, {"name": "a", "image": "y"}], "taken"),
        ([{"name": "a", "image": ""}], "must name an image"),
        ([{"name": "a", "image": "x", "seed_from": "rel"}], "absolute"),
    ],
)
def test_bad_environments_are_refused(entries, complaint):
    with pytest.raises(ValueError, match=complaint):
        parse_environments(entries)


def test_form_lists_environments_and_projects_escaped():
    form = environments_form(parse_environments(ENVS), ["thesis", "<x>"])
    assert 'value="course"' in form and "Plain &lt;Python&gt;" in form
    assert 'value="thesis"' in form and "&lt;x&gt;" in form and "<x>" not in form


def test_new_project_wins_over_chosen_one():
    form = {"environment": ["course"], "project": ["a"], "new_project": [" b "]}
    assert options_from_form(form) == {"environment": "course", "project": "b"}
    assert options_from_form({"environment": ["python"], "project": [""]}) == {
        "environment": "python"
    }
