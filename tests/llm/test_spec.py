"""`make_model` builds every backend from a string or dict and rejects bad specs clearly."""

from __future__ import annotations

import pytest

from sim.llm import ModelNotFoundError, UnknownModelSpecError, make_model
from sim.llm.fake import FakeModel
from sim.llm.openai_compatible import OpenAICompatibleModel


def test_string_specs():
    assert isinstance(make_model("fake"), FakeModel)
    model = make_model("openai:qwen2.5-7b@http://127.0.0.1:8000/v1")
    assert isinstance(model, OpenAICompatibleModel)
    assert (model.backend, model.model_id) == ("openai", "qwen2.5-7b")
    model.close()


def test_dict_specs_pass_backend_arguments():
    model = make_model({"backend": "fake", "seed": 7, "responses": ["x"]})
    assert model.seed == 7 and model.generate([{"messages": "a"}])[0].text == "x"


def test_a_model_object_passes_through():
    model = FakeModel()
    assert make_model(model) is model


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("gpt", "valid forms: fake, local, local:PATH_OR_NAME, openai:MODEL@BASE_URL"),
        ("openai:model-without-url", "openai:MODEL@BASE_URL"),
        ("openai:m@ftp://host", "http(s)"),
        ({"backend": "vllm"}, "valid backends: ['fake', 'local', 'openai']"),
        ({"backend": "fake", "temperature": 1}, "unknown field(s) ['temperature']"),
        ({"backend": "fake", "retry": 3}, "'retry' expects a dict"),
        (42, "expected a string or a dict"),
    ],
)
def test_bad_specs_list_what_is_valid(spec, expected):
    with pytest.raises(UnknownModelSpecError) as info:
        make_model(spec)
    assert expected in str(info.value)


def test_missing_local_model_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("MERCATO_CACHE", str(tmp_path))
    with pytest.raises(ModelNotFoundError, match="run `mercato models pull`"):
        make_model("local")
    with pytest.raises(ModelNotFoundError, match="no transformers folder"):
        make_model(f"local:{tmp_path / 'nowhere'}")
