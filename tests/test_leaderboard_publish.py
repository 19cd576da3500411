"""Publishing: markdown table, static HTML (escaping, curves, CSP in a real headless browser),
marl-eval export and the optional wandb mirror. The site's structure: test_leaderboard_site.py."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import types
from html.parser import HTMLParser

import markupsafe
import pytest

from coopbench.leaderboard import (
    SubmissionError,
    WandbError,
    aggregate,
    export_marl_eval,
    mirror_to_wandb,
    render_markdown,
    submission_metas,
    write_html,
)
from coopbench.leaderboard import wandb_mirror as wandb_mod
from leaderboard_fakes import fake_submission

HOSTILE = "<script>document.title='pwned'</script>\"'><img src=x onerror=alert(1)> $\\frac{a$ |"


def _docs(label="algo", n=3, **kw):
    kw.setdefault("curve", None)
    return [
        fake_submission(
            f"{label}-{s}",
            seed=s,
            **{**kw, "curve": kw["curve"] or (lambda t, s=s: t / 100 * (0.8 + 0.1 * s))},
        )
        for s in range(n)
    ]


def _hostile_docs():
    docs = _docs(name=HOSTILE, notes=HOSTILE)
    for d in docs:
        d["policies"]["default"]["label"] = HOSTILE
        d["algorithm"]["config"]["evil"] = HOSTILE
    return docs


def test_markdown_columns_and_conventions():
    heur = {"default": {"label": "heuristic", "centralised": False, "privileged": True}}
    text = render_markdown(_docs() + _docs("h", policies=heur, curve=lambda t: 1.0), reps=100)
    for column in (
        "Task",
        "Algorithm",
        "Seeds",
        "Final score (norm. team return) IQM [95% CI]",
        "AUC (norm. team return) IQM [95% CI]",
        "Env steps to score 0.5 (median)",
        "Absolute metric (norm. team return) IQM [95% CI]",
    ):
        assert f"| {column} |" in text or f"| {column}" in text
    assert "team return = sum over agents and steps" in text
    assert "0 = uniform random policy, 1 = the task's scripted heuristic" in text
    rows = [line for line in text.splitlines() if line.startswith("| spread")]
    assert len(rows) == 2
    algo = next(r for r in rows if "| algo |" in r)
    assert "| 3 | 0.90 [" in algo and "60 (3/3 reached)" in algo
    assert "privileged (uses global state)" in next(r for r in rows if "heuristic" in r)


def test_markdown_escapes_hostile_text_and_censoring():
    docs = _hostile_docs()
    for d in docs:
        for p in d["evaluations"]["default"]:
            p["returns"] = [x - 1000.0 for x in p["returns"]]  # never reaches the threshold
    text = render_markdown(docs, reps=50)
    assert "<script>" not in text and "<img" not in text
    assert "&lt;script&gt;" in text
    (row,) = [line for line in text.splitlines() if line.startswith("| spread")]
    assert row.count("|") - row.count("\\|") == 12  # the label's pipe cannot add a column
    assert ">100 (0/3 reached)" in row


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.inline, self.tag = [], [], None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self.tag = tag

    def handle_endtag(self, tag):
        self.tag = None

    def handle_data(self, data):
        if self.tag in ("script", "style") and data.strip():
            self.inline.append(data)


def _tags(page):
    """Every start tag with its attributes, and any inline script or style text."""
    parser = _Tags()
    parser.feed(page)
    return parser.tags, parser.inline


def _site(docs, out, tasks=None, labels=None):
    board = aggregate(docs, reps=50).select(tasks, labels)
    return write_html(board, out, metas=submission_metas(docs))


def _pages(index):
    return {
        p.relative_to(index.parent).as_posix(): p.read_text() for p in index.parent.rglob("*.html")
    }


def test_html_escapes_everything_and_draws_curves(tmp_path):
    docs = _hostile_docs() + _docs("other", task="pp") + _docs("c", continuous=True)
    index = _site(docs, tmp_path / "site")
    pages = _pages(index)
    assert len(pages) == 1 + 3 + 3  # index, a page per task and action kind, a page per entry
    for name, page in pages.items():
        assert "<script>" not in page and "<img src=x" not in page, name
        assert '<script src="' in page and "sort.js" in page  # the one, static script
        assert "Content-Security-Policy" in page and "script-src 'self'" in page
        assert "unsafe-inline" not in page
        tags, inline = _tags(page)
        assert not [
            (t, a) for t, attrs in tags for a in attrs if a.startswith("on") or a == "style"
        ]
        scripts = [attrs["src"] for t, attrs in tags if t == "script"]
        assert len(scripts) == 1 and scripts[0].endswith("sort.js") and not inline
    hostile = str(markupsafe.escape(HOSTILE))
    assert hostile in pages["index.html"] and hostile in pages["tasks/spread-discrete.html"]
    entry = next(p for n, p in pages.items() if n.startswith("entries/") and hostile in p)
    assert entry.count(hostile) >= 3  # name, label, notes; the config holds it JSON-escaped
    pngs = sorted(p.relative_to(index.parent).as_posix() for p in index.parent.rglob("*.png"))
    assert len(pngs) == 3 + 3  # one curve figure per group, one per-seed figure per entry
    for name in pngs:
        assert (index.parent / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert any(f'src="../{name}"' in page for page in pages.values())
    assert "normalised" in pages["index.html"] and "team return" in pages["index.html"]


def test_publish_a_subset_by_task_and_entry(tmp_path):
    def labelled(label, key, **kw):
        policy = {"default": {"label": label, "centralised": False, "privileged": False}}
        return _docs(key, policies=policy, **kw)

    docs = labelled("a", "a") + labelled("b", "b") + labelled("a", "a-pp", task="pp")
    index = _site(docs, tmp_path / "site", tasks=["spread"], labels=["b"])
    pages = _pages(index)
    assert sorted(n for n in pages if not n.startswith("entries/")) == [
        "index.html",
        "tasks/spread-discrete.html",
    ]
    (entry,) = [p for n, p in pages.items() if n.startswith("entries/")]
    assert "b-0" in entry and "a-0" not in entry and "a-pp-0" not in entry  # runs shown follow
    text = render_markdown(aggregate(docs, reps=50).select(labels=["a"]))
    assert [r.split(" | ")[0] for r in text.splitlines() if "| a |" in r] == ["| pp", "| spread"]
    board = aggregate(docs, reps=50)
    with pytest.raises(ValueError, match=r"no entry named \['c'\].*there are \['a', 'b'\]"):
        board.select(labels=["c"])
    with pytest.raises(ValueError, match=r"no task named \['cn-v1'\]"):
        board.select(tasks=["cn-v1"])
    assert len(board.select().entries) == 3


def test_html_of_empty_store(tmp_path):
    page = _site([], tmp_path).read_text()
    assert "No finished runs yet." in page and "Suite rankings" not in page


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chromium-headless-shell"):
        path = shutil.which(name)
        if path:
            return path
    return None


def browser_or_skip() -> str:
    """The headless browser; a skip without one, a failure when ``COOPBENCH_REQUIRE_BROWSER``
    is set (CI installs Chromium and must run these tests)."""
    browser = _browser()
    if browser is None:
        if os.environ.get("COOPBENCH_REQUIRE_BROWSER"):
            pytest.fail("no headless Chromium on PATH but COOPBENCH_REQUIRE_BROWSER is set")
        pytest.skip("no headless Chromium (apt-get install chromium)")
    return browser


def dump_dom(browser: str, page) -> str:
    """The DOM of ``page`` after its scripts ran, serialised by the browser."""
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout


def test_html_in_headless_browser(tmp_path):
    """The hostile label renders as text and no script runs, with and without the CSP."""
    browser = browser_or_skip()
    index = _site(_hostile_docs(), tmp_path)
    csp = r"<meta http-equiv=\"Content-Security-Policy\"[^>]*>"
    no_csp = tmp_path / "no_csp.html"  # escaping alone must hold: drop the CSP safety net
    no_csp.write_text(re.sub(csp, "", index.read_text()))
    for page in (index, no_csp):
        dom = dump_dom(browser, page)
        assert "<title>coopbench leaderboard</title>" in dom  # the payload would rename it
        assert "<script>" not in dom and '<img src="x"' not in dom
        assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom
    # The check can fail: an injected script does rename the page in this browser ...
    inject = "<script>document.title='pwned'</script><h1>"
    bad = tmp_path / "bad.html"
    bad.write_text(no_csp.read_text().replace("<h1>", inject))
    assert "<title>pwned</title>" in dump_dom(browser, bad)
    # ... unless the site's CSP is there: it forbids inline script.
    bad.write_text(index.read_text().replace("<h1>", inject))
    assert "<title>coopbench leaderboard</title>" in dump_dom(browser, bad)


def test_marl_eval_export(tmp_path):
    docs = _docs() + _docs("c", continuous=True, n=2)
    docs.append(fake_submission("dup", seed=0))  # a repeated seed keeps its own run
    path = export_marl_eval(docs, tmp_path / "marl.json")
    data = json.loads(path.read_text())
    assert list(data) == ["coopbench_quick_100"]
    assert sorted(data["coopbench_quick_100"]) == ["spread", "spread_continuous"]
    runs = data["coopbench_quick_100"]["spread"]["algo"]
    assert sorted(runs) == ["seed_0", "seed_0_2", "seed_1", "seed_2"]
    run = runs["seed_1"]
    assert sorted(run) == ["absolute_metrics", *(f"step_{i}" for i in range(6))]
    assert [run[f"step_{i}"]["step_count"] for i in range(6)] == [0, 20, 40, 60, 80, 100]
    src = next(d for d in docs if d["run_key"] == "algo-1")
    assert run["step_3"]["return"] == src["evaluations"]["default"][3]["returns"]
    assert run["absolute_metrics"]["return"] == src["absolute"]["default"]
    assert len(run["absolute_metrics"]["return"]) == 2 * len(run["step_0"]["return"])
    with pytest.raises(SubmissionError):
        export_marl_eval([dict(docs[0], seed="x")], tmp_path / "bad.json")


class _FakeRun:
    def __init__(self, log):
        self.log_calls, self.summary, self.finished = log, {}, False

    def log(self, row, step):
        self.log_calls.append((step, row))

    def finish(self):
        self.finished = True


def _fake_wandb(monkeypatch):
    calls = []

    def init(**kw):
        run = _FakeRun([])
        calls.append((kw, run))
        return run

    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(init=init))
    return calls


def test_wandb_mirror_offline_by_default(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    calls = _fake_wandb(monkeypatch)
    assert mirror_to_wandb(_docs(n=2), project="p") == 2
    (kw, run), _ = calls
    assert kw["mode"] == "offline" and kw["project"] == "p" and kw["name"] == "algo-0"
    assert kw["config"]["seed"] == 0 and "evaluations" not in kw["config"]
    assert [step for step, _ in run.log_calls] == [0, 20, 40, 60, 80, 100]
    assert run.log_calls[-1][1]["default/normalised_score"] == pytest.approx(0.8)
    assert run.summary["default/absolute_normalised"] == pytest.approx(1.0)
    assert run.finished
    again = _fake_wandb(monkeypatch)
    mirror_to_wandb(_docs(n=1))
    assert again[0][0]["id"] == kw["id"]  # deterministic id: re-mirroring resumes


def test_wandb_mirror_online_when_logged_in(monkeypatch, tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.wandb.ai login user password secret\n")
    netrc.chmod(0o600)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(netrc))
    assert wandb_mod.logged_in()
    calls = _fake_wandb(monkeypatch)
    mirror_to_wandb(_docs(n=1))
    assert calls[0][0]["mode"] == "online"


def test_wandb_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb -> ImportError
    with pytest.raises(WandbError, match=r"pip install 'coopbench\[wandb\]'"):
        mirror_to_wandb(_docs(n=1))
