"""The console end to end in Chromium: submit through the page, watch the job go queued ->
processing -> completed, read the transcript, seek the player from a segment, download the SRT;
hostile names and metadata render as text; the key prompt; the service view; a phone-sized
screen; a path prefix behind a reverse proxy."""

from __future__ import annotations

import json
from pathlib import Path

import srt
from playwright.sync_api import BrowserContext, expect

from tests.conftest import JFK
from tests.e2e.conftest import Cluster
from tests.e2e.console.conftest import KEY, OTHER_KEY, SHOTS, Watched, sign_in
from tests.e2e.console.prefix_proxy import prefix_proxy
from tests.speaker_turns import TWO_SPEAKERS
from tests.transcripts import normalize, wer

LONG = 180_000  # ms: a job on the real model, on 2 CPU cores

# Records every text #job-status shows while the page lives (devtools evaluation: not subject
# to the page's CSP, and not part of the console).
WATCH_STATUS = """() => {
  window.__statuses = [];
  new MutationObserver(() => {
    const el = document.getElementById("job-status");
    const text = el ? el.textContent : null;
    if (text && window.__statuses.at(-1) !== text) window.__statuses.push(text);
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def test_submit_watch_it_decode_read_seek_and_download(
    cluster: Cluster, watched: Watched, long_speech: Path, jfk_text: str
) -> None:
    page = watched.page
    sign_in(page, cluster.url)
    expect(page.get_by_role("heading", name="Jobs", exact=True)).to_be_visible()
    # Keep the worker busy, so the page's job waits in the queue first.
    busy = cluster.submit(long_speech)["id"]
    cluster.wait(busy, until={"processing"}, timeout=60)
    page.evaluate(WATCH_STATUS)

    page.set_input_files("#files", JFK)
    page.get_by_role("button", name="Transcribe", exact=True).click()
    expect(page.locator("#job-status")).to_have_text("completed", timeout=LONG)
    statuses = page.evaluate("window.__statuses")
    assert statuses[:1] == ["queued"] and statuses[-1] == "completed", statuses
    assert "processing" in statuses, statuses
    job_id = page.url.rsplit("/", 1)[-1]
    job = cluster.http.get(f"/v1/jobs/{job_id}").json()

    # The transcript on the page is the job's, and the job's is the model's.
    segments = page.locator("ol.transcript > li")
    expect(segments).to_have_count(len(job["result"]["segments"]))
    shown = " ".join(page.locator("ol.transcript .text").all_inner_texts())
    assert normalize(shown) == normalize(job["result"]["text"])
    assert wer(jfk_text, shown) <= 0.1, shown
    expect(page.locator("#language")).to_contain_text("en (probability")
    expect(page.get_by_role("img", name="Language detection, top 5: en")).to_be_visible()

    with page.expect_download() as download:
        page.locator("button[data-format='srt']").click()
    assert download.value.suggested_filename == "jfk.srt"
    cues = list(srt.parse(Path(download.value.path()).read_text()))
    assert [c.index for c in cues] == list(range(1, len(cues) + 1)) and cues
    assert wer(job["result"]["text"], " ".join(c.content for c in cues)) == 0.0
    # The server's subtitle defaults, then the limits typed beside the buttons.
    assert all(len(line) <= 42 for c in cues for line in c.content.split("\n"))
    page.get_by_label("Characters a line").fill("16")
    page.get_by_label("Seconds a cue").fill("3")
    with page.expect_download() as narrow:
        page.locator("button[data-format='srt']").click()
    narrow_cues = list(srt.parse(Path(narrow.value.path()).read_text()))
    assert len(narrow_cues) > len(cues)
    assert all(len(line) <= 16 for c in narrow_cues for line in c.content.split("\n"))
    assert all((c.end - c.start).total_seconds() <= 3.0 for c in narrow_cues)
    assert wer(job["result"]["text"], " ".join(c.content for c in narrow_cues)) == 0.0

    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "job.png"), full_page=True)
    assert watched.errors == [] and watched.dialogs == []
    cluster.wait(busy)


def test_clicking_a_segment_or_a_word_seeks_the_player(
    cluster: Cluster, watched: Watched, long_speech: Path
) -> None:
    """44 s of speech: more than one 30-s window, so more than one segment on any CPU."""
    page = watched.page
    sign_in(page, cluster.url)
    page.get_by_text("Options").click()
    page.get_by_label("Model").select_option("tiny.en")
    page.get_by_label("Word timestamps").check()
    page.set_input_files("#files", long_speech)
    page.get_by_role("button", name="Transcribe", exact=True).click()
    expect(page.locator("#job-status")).to_have_text("completed", timeout=LONG)
    job = cluster.http.get(f"/v1/jobs/{page.url.rsplit('/', 1)[-1]}").json()
    assert job["options"]["model"] == "tiny.en" and job["options"]["word_timestamps"] is True
    second = job["result"]["segments"][1]
    segments = page.locator("ol.transcript > li")
    segments.nth(1).get_by_role("button").click()
    position = page.evaluate("document.getElementById('player').currentTime")
    assert abs(position - second["start"]) < 0.3, (position, second["start"])
    expect(segments.nth(1)).to_have_attribute("aria-current", "true")
    expect(segments.nth(0)).not_to_have_attribute("aria-current", "true")

    word = second["words"][2]
    segments.nth(1).locator(".word").nth(2).click()
    position = page.evaluate("document.getElementById('player').currentTime")
    assert abs(position - word["start"]) < 0.3, (position, word["start"])
    expect(segments.nth(1).locator(".word.current")).to_have_text(word["word"])
    assert watched.errors == []


HOSTILE_NAME = "<img src=x onerror=alert(1)>.wav"
HOSTILE_METADATA = {"note": "<script>alert(2)</script>", "<b onclick=alert(3)>": "x"}


def test_hostile_names_and_metadata_render_as_text_and_run_nothing(
    cluster: Cluster, watched: Watched
) -> None:
    page = watched.page
    sign_in(page, cluster.url)
    page.get_by_text("Options").click()
    page.get_by_label("Metadata").fill(json.dumps(HOSTILE_METADATA))
    page.set_input_files(
        "#files", {"name": HOSTILE_NAME, "mimeType": "audio/wav", "buffer": JFK.read_bytes()}
    )
    page.get_by_role("button", name="Transcribe", exact=True).click()
    expect(page.locator("#job-title")).to_have_text(HOSTILE_NAME)
    expect(page.locator("#metadata")).to_contain_text("<script>alert(2)</script>")
    expect(page.locator("#metadata")).to_contain_text("<b onclick=alert(3)>")
    page.goto(cluster.url + "/#/jobs")
    expect(page.get_by_role("link", name=HOSTILE_NAME).first).to_be_visible()
    assert page.locator("main img, main script, main b").count() == 0
    assert watched.dialogs == [] and watched.errors == []


def test_without_a_key_the_page_asks_for_one_and_lists_nothing(
    cluster: Cluster, watched: Watched
) -> None:
    page = watched.page
    response = page.goto(cluster.url + "/")
    assert (
        response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    )
    expect(page.get_by_role("heading", name="API key")).to_be_visible()
    expect(page.locator("#access")).to_have_text("Keys required: enter yours to see your jobs.")
    assert page.locator("table").count() == 0
    assert not [url for url in watched.requests if "/v1/jobs" in url]

    page.get_by_label("Key").fill("wj_not-a-key")
    page.get_by_role("button", name="Use this key").click()
    expect(page.locator("#key-error")).to_contain_text("That key was not accepted (unauthorized)")
    assert page.locator("table").count() == 0
    assert page.evaluate("sessionStorage.length") == 0  # a refused key is not kept


def test_another_key_sees_none_of_these_jobs(cluster: Cluster, watched: Watched) -> None:
    mine = cluster.submit(JFK)["id"]
    page = watched.page
    sign_in(page, cluster.url, OTHER_KEY)
    expect(page.locator("p.empty")).to_be_visible()
    assert page.locator(f"tr[data-id='{mine}']").count() == 0
    assert KEY not in page.url and OTHER_KEY not in page.url


def test_the_service_view_shows_workers_and_charts(cluster: Cluster, watched: Watched) -> None:
    cluster.wait(cluster.submit(JFK)["id"])  # a completed job: the real-time factor has buckets
    page = watched.page
    sign_in(page, cluster.url)
    page.get_by_role("link", name="Service").click()
    expect(page.get_by_text("base: a live worker")).to_be_visible()
    expect(page.get_by_role("img", name="Jobs by status")).to_be_visible()
    expect(page.get_by_role("img", name="Messages waiting per queue")).to_be_visible()
    rtf = page.get_by_role("img", name="Completed jobs by real-time factor")
    expect(rtf).to_be_visible()
    # Its axis labels do not overlap (one bucket per histogram bound: a dozen narrow columns).
    spans = rtf.evaluate(
        "c => [...c.querySelectorAll('text.tick')].map(t => t.getBoundingClientRect())"
        ".map(r => [r.left, r.right])"
    )
    assert spans and all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False)), spans
    page.screenshot(path=str(SHOTS / "service.png"), full_page=True)


def test_a_phone_sized_screen_needs_no_sideways_scrolling(
    cluster: Cluster, context: BrowserContext
) -> None:
    page = context.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, cluster.url)
    expect(page.get_by_role("heading", name="Jobs", exact=True)).to_be_visible()
    expect(page.locator("table.jobs tbody tr").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.locator("table.jobs tbody tr a").first.click()
    expect(page.locator("#job-status")).to_have_text("completed", timeout=LONG)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_console_works_under_a_path_prefix(cluster: Cluster, watched: Watched) -> None:
    with prefix_proxy(cluster.url, "/whisper") as proxied:
        page = watched.page
        sign_in(page, proxied + "/whisper")
        expect(page.locator("table.jobs tbody tr").first).to_be_visible()
        page.locator("table.jobs tbody tr a").first.click()
        expect(page.locator("#job-status")).not_to_be_empty()
    own = [u for u in watched.requests if u.startswith(proxied)]
    assert own and all(u.startswith(proxied + "/whisper/") for u in own), own


def test_a_malformed_job_link_says_not_found(cluster: Cluster, watched: Watched) -> None:
    page = watched.page
    sign_in(page, cluster.url)
    page.goto(cluster.url + "/#/jobs/%E0%A4%A")  # not valid percent-encoding
    expect(page.get_by_role("alert")).to_contain_text("not_found")
    assert watched.errors == [] or all("404" in e for e in watched.errors)


def test_a_diarized_job_shows_each_speaker_in_a_colour_and_a_name_given_in_place(
    cluster: Cluster, watched: Watched
) -> None:
    page = watched.page
    sign_in(page, cluster.url)
    page.get_by_text("Options").click()
    page.get_by_label("Who spoke (diarize)").check()
    page.set_input_files("#files", TWO_SPEAKERS)
    page.get_by_role("button", name="Transcribe", exact=True).click()
    expect(page.locator("#job-status")).to_have_text("completed", timeout=LONG)
    job = cluster.http.get(f"/v1/jobs/{page.url.rsplit('/', 1)[-1]}").json()
    assert job["options"]["diarize"] is True
    segments = job["result"]["segments"]
    labels = page.locator("ol.transcript .speaker")
    expect(labels).to_have_count(len(segments))
    assert labels.all_inner_texts() == [f"Speaker {s['speaker']}" for s in segments]
    colour = "el => getComputedStyle(el).borderLeftColor"
    a = page.locator("ol.transcript li[data-speaker='A']").first.evaluate(colour)
    b = page.locator("ol.transcript li[data-speaker='B']").first.evaluate(colour)
    assert a != b

    page.locator("ol.transcript li[data-speaker='B'] .speaker").first.click()
    name = page.get_by_label("A name for Speaker B")
    name.fill("Sheila")
    name.press("Enter")
    expect(page.locator("ol.transcript li[data-speaker='B'] .speaker")).to_have_text(
        ["Sheila"] * sum(s["speaker"] == "B" for s in segments)
    )
    expect(page.locator("ol.transcript li[data-speaker='A'] .speaker").first).to_have_text(
        "Speaker A"
    )
    assert watched.errors == [] and watched.dialogs == []
