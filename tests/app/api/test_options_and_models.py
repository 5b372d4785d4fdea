"""Option validation at submit time and the models listing (no worker needed)."""

from fastapi.testclient import TestClient

from tests.app.api.test_jobs_routes import assert_error, submit


def test_all_options_are_accepted_and_echoed(client: TestClient) -> None:
    response = submit(
        client,
        task="translate",
        language="DE",
        multilingual="false",
        beam_size="2",
        best_of="3",
        patience="1.5",
        temperature="0,0.4",
        condition_on_previous_text="false",
        hotwords="Kennedy",
        no_speech_threshold="0.5",
        log_prob_threshold="-2",
        compression_ratio_threshold="2.2",
        hallucination_silence_threshold="1.5",
        vad_filter="true",
        vad_threshold="0.3",
        vad_min_silence_ms="400",
        vad_speech_pad_ms="100",
        channels="split",
        batched="true",
        initial_prompt="Hello.",
    )
    assert response.status_code == 202, response.text
    options = response.json()["options"]
    assert options["language"] == "de"
    assert options["temperature"] == [0.0, 0.4]
    # hallucination_silence_threshold needs word timings, so they are turned on
    assert options["word_timestamps"] is True
    assert options["channels"] == "split" and options["batched"] == "true"
    assert options["vad_min_silence_ms"] == 400 and options["hotwords"] == "Kennedy"


def test_single_temperature(client: TestClient) -> None:
    assert submit(client, temperature="0.2").json()["options"]["temperature"] == [0.2]


def test_bad_values_are_invalid_request(client: TestClient) -> None:
    for form in (
        {"temperature": "hot"},
        {"temperature": "0,1.5"},
        {"best_of": "0"},
        {"patience": "0"},
        {"no_speech_threshold": "2"},
        {"log_prob_threshold": "1"},
        {"hallucination_silence_threshold": "-1"},
        {"vad_threshold": "0.5"},  # without vad_filter
        {"vad_filter": "true", "vad_threshold": "1.5"},
        {"channels": "left"},
        {"batched": "sometimes"},
    ):
        assert_error(submit(client, **form), 422, "invalid_request")


def test_english_only_model_refuses_translation_and_other_languages(client: TestClient) -> None:
    assert_error(submit(client, model="tiny.en", task="translate"), 422, "model_not_multilingual")
    assert_error(submit(client, model="tiny.en", language="de"), 422, "model_not_multilingual")
    ok = submit(client, model="tiny.en", language="en")
    assert ok.status_code == 202 and ok.json()["options"]["model"] == "tiny.en"


def test_detect_language_alone_needs_no_language_and_a_multilingual_model(
    client: TestClient,
) -> None:
    assert_error(submit(client, task="detect_language", language="de"), 422, "invalid_request")
    assert_error(submit(client, task="detect_language", model="tiny.en"), 422, "invalid_request")
    ok = submit(client, task="detect_language")
    assert ok.status_code == 202 and ok.json()["options"]["task"] == "detect_language"


def test_models_listing(client: TestClient) -> None:
    body = client.get("/v1/models").json()
    assert body["object"] == "list"
    models = {m["id"]: m for m in body["data"]}
    assert list(models) == ["base", "tiny.en", "whisper-1"]
    assert models["base"]["multilingual"] is True and models["base"]["default"] is True
    assert "de" in models["base"]["languages"] and len(models["base"]["languages"]) == 100
    assert models["tiny.en"] == {
        "id": "tiny.en",
        "object": "model",
        "created": 1663718400,
        "owned_by": "whisper-jobs",
        "multilingual": False,
        "languages": ["en"],
        "source": "bundled",
        "default": False,
        "alias_of": None,
    }
    assert models["whisper-1"]["alias_of"] == "base" and models["whisper-1"]["multilingual"]
    assert client.get("/v1/models/whisper-1").json() == models["whisper-1"]
    missing = client.get("/v1/models/gpt-4")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {
            "message": "The model 'gpt-4' does not exist.",
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    }


def test_unknown_job_events_is_404(client: TestClient) -> None:
    assert_error(client.get("/v1/jobs/nope/events"), 404, "not_found")


def test_an_unknown_form_field_is_refused_by_name(client: TestClient) -> None:
    response = submit(client, langauge="de")
    assert_error(response, 422, "invalid_request")
    assert "'langauge'" in response.json()["error"]["message"]
    assert submit(client, language="de").status_code == 202


def first_event(client: TestClient, job_id: str) -> tuple[str, dict]:
    import json

    with client.stream("GET", f"/v1/jobs/{job_id}/events") as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        kind = next(lines).removeprefix("event: ")
        data = json.loads(next(lines).removeprefix("data: "))
    return kind, data


def test_a_queued_job_streams_queued_with_its_place_first(client: TestClient) -> None:
    first = submit(client).json()["id"]
    second = submit(client).json()["id"]
    other_model = submit(client, model="tiny.en").json()["id"]
    assert first_event(client, first) == ("queued", {"position": 1})
    assert first_event(client, second) == ("queued", {"position": 2})
    assert first_event(client, other_model) == ("queued", {"position": 1})  # its own queue


def test_split_channels_of_a_mono_upload_is_refused_at_submit(client: TestClient) -> None:
    from tests.conftest import DATA

    mono = submit(client, (DATA / "de.wav").read_bytes(), channels="split")
    assert_error(mono, 422, "invalid_request")
    assert mono.json()["error"]["message"] == (
        "channels=split needs a stereo recording; this one has 1 channel."
    )
    assert submit(client, (DATA / "stereo.wav").read_bytes(), channels="split").status_code == 202


def test_options_that_multiply_decoding_cost_are_capped(client: TestClient) -> None:
    # Every fallback forced: beam 10 × patience 10 at 0, plus best_of 10 at 9 more temperatures.
    temperatures = "0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9"
    worst = {"beam_size": "10", "best_of": "10", "patience": "10", "temperature": temperatures}
    response = submit(client, **worst)
    assert_error(response, 422, "invalid_request")
    assert "190 hypotheses" in response.json()["error"]["message"]
    # The widest that fits: 10 + 10 × 5 = 60 with the default temperatures.
    assert submit(client, beam_size="10", best_of="10").status_code == 202
    assert submit(client).status_code == 202  # the defaults cost 30
