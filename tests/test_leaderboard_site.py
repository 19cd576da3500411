"""The HTML site's structure: pages, links, figures, downloads, reproduction commands, and
screenshots of a realistic site in headless Chromium (index, a task page, an entry page)."""

from __future__ import annotations

import gzip
import json
import re
import shlex
import subprocess

import markupsafe
import pytest
from PIL import Image, ImageStat

from coopbench.leaderboard import aggregate, submission_metas, write_html
from coopbench.leaderboard.site.figures import chunks
from coopbench.leaderboard.site.reproduce import reproduce_command
from leaderboard_fakes import fake_meta, fake_submission
from test_leaderboard_publish import browser_or_skip, dump_dom

HOSTILE = "<b>bold</b> \"quoted\" 'x' & $\\alpha$"
CROWDED = 8  # entries on spread: more than one figure's worth


def _runs(label, seeds, level, **kw):
    policy = {"default": {"label": label, "centralised": False, "privileged": False}}
    return [
        fake_submission(
            f"{label}-{kw.get('task', 'spread')}-{s}",
            curve=lambda t, s=s: level * t / 100 * (0.9 + 0.05 * s),
            seed=s,
            name=label,
            policies=policy,
            **kw,
        )
        for s in seeds
    ]


def _realistic_docs():
    """3 tasks: a crowded spread panel, pp with a hostile label, cn-v1 with odd seeds."""
    docs = []
    for i in range(CROWDED):
        docs += _runs(f"algo-{i}", range(3), 0.2 + 0.1 * i)
    docs += _runs("mappo", range(3), 0.9, task="pp") + _runs(HOSTILE, range(2), 0.4, task="pp")
    odd_seeds = _runs("maddpg", (1, 4, 7), 0.6, task="cn-v1", continuous=True)
    for d in odd_seeds:
        d["provenance"] = {"git_dirty": False, "torch_threads": 1}
    return docs + odd_seeds


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    docs = _realistic_docs()
    out = tmp_path_factory.mktemp("site")

    def write_submissions(keys, path):
        path.write_bytes(
            gzip.compress(json.dumps([d for d in docs if d["run_key"] in keys]).encode())
        )

    suite = markupsafe.Markup('<section class="suite"><h3>CTEDD suite</h3></section>')
    board = aggregate(docs, reps=50)
    index = write_html(
        board,
        out,
        metas=submission_metas(docs),
        write_submissions=write_submissions,
        suite_sections=[suite],
    )
    return index, board


def _links(page: str) -> list[str]:
    return re.findall(r'(?:href|src)="([^"#]+)"', page)


def test_pages_and_links(site):
    index, board = site
    root = index.parent
    tasks = sorted(p.name for p in (root / "tasks").glob("*.html"))
    assert tasks == ["cn-v1-continuous.html", "pp-discrete.html", "spread-discrete.html"]
    entries = sorted((root / "entries").iterdir())
    assert len(entries) == 2 * len(board.entries)  # a page and a submission file each
    assert all(re.fullmatch(r"[0-9a-f]{12}(-\d+)?\.(html|json\.gz)", p.name) for p in entries)
    pages = [index, *(root / "tasks").glob("*.html"), *(root / "entries").glob("*.html")]
    for page in pages:
        for link in _links(page.read_text()):
            assert (page.parent / link).resolve().is_file(), f"{page.name}: {link}"
    front = index.read_text()
    assert "Suite rankings" in front and '<section class="suite"><h3>CTEDD suite' in front
    assert front.count('href="entries/') == 5 + 2 + 1  # top 5 of the crowded panel only
    assert "all 8 entries" in front


def test_task_page_ranks_every_entry_and_splits_its_curves(site):
    index, board = site
    page = (index.parent / "tasks/spread-discrete.html").read_text()
    rows = re.findall(r'<a href="../entries/[0-9a-f]+\.html">([^<]+)</a>', page)
    best_first = sorted(
        (e for e in board.entries if e.task == "spread"), key=lambda e: -e.final.point
    )
    assert rows == [e.label for e in best_first]  # all of them, best final IQM first
    figures = re.findall(r'<img src="../(img/curves-\d+\.png)"', page)
    assert len(figures) == 2 and "ranks 1-6 of 8" in page and "ranks 7-8 of 8" in page
    assert chunks(best_first)[1][1] == best_first[6:]


def test_entry_page_details_and_download(site):
    index, board = site
    (entry,) = [e for e in board.entries if e.label == "maddpg"]
    pages = [
        p for p in (index.parent / "entries").glob("*.html") if ">maddpg</h1>" in p.read_text()
    ]
    (page,) = pages
    text = page.read_text()
    assert "for s in 1 4 7; do coopbench train --task cn-v1 --algo tests.fake:maddpg" in text
    assert "--continuous" in text and "--set lr=0.001" in text
    for seed in (1, 4, 7):
        assert f"maddpg-cn-v1-{seed}" in text
    assert "&#34;lr&#34;: 0.001" in text and "&#34;cores&#34;: 2" in text  # config, hardware
    assert "&#34;torch_threads&#34;: 1" in text  # the provenance mapping
    download = page.with_suffix(".json.gz")
    runs = json.loads(gzip.decompress(download.read_bytes()))
    assert sorted(d["run_key"] for d in runs) == sorted(r.run_key for r in entry.runs)
    assert f'href="{download.name}"' in text


def test_missing_meta_is_one_clear_error(tmp_path):
    docs = _runs("a", range(2), 0.5)
    metas = submission_metas(docs[:1])
    with pytest.raises(ValueError, match=r"no meta for run 'a-spread-1'"):
        write_html(aggregate(docs, reps=20), tmp_path, metas=metas)


def test_reproduce_command_relative_to_the_preset():
    from coopbench.algorithms.registry import get_algorithm
    from coopbench.harness.config import build_config, config_dict

    preset = config_dict(build_config(get_algorithm("mappo"), "pp", "standard", {}))
    changed = {**preset, "lr": preset["lr"] * 2}
    metas = []
    for seed in range(3):
        meta = fake_meta(task="pp", seed=seed, tier="standard", budget=1_000_000)
        meta["algorithm"].update(name="mappo", path="coopbench.baselines.mappo:MAPPO")
        meta["algorithm"]["config"] = changed
        metas.append(meta)
    command = reproduce_command(metas)
    assert command == (
        f"coopbench bench --tasks pp --algos mappo --seeds 3 --tier standard "
        f"--set lr={json.dumps(changed['lr'])}"
    )
    metas[0]["protocol"]["budget"] = 5000
    assert "--budget 5000" in reproduce_command(metas)


def test_reproduce_command_quotes_user_text():
    meta = fake_meta(name="evil", seed=0)
    meta["algorithm"]["path"] = "my pkg; rm -rf /:Algo"
    meta["algorithm"]["config"] = {"note": "$(reboot) 'x'", "hidden": [64, 64], "flag": True}
    words = shlex.split(reproduce_command([meta]))
    assert words[:8] == [
        "coopbench",
        "bench",
        "--tasks",
        "spread",
        "--algos",
        meta["algorithm"]["path"],
        "--seeds",
        "1",
    ]
    sets = [words[i + 1] for i, w in enumerate(words) if w == "--set"]
    assert sets == ["flag=true", "hidden=[64,64]", "note=$(reboot) 'x'"]


def _screenshot(browser, page, path):
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--screenshot={path}",
        "--window-size=1280,2000",
        page.as_uri(),
    ]
    subprocess.run(cmd, capture_output=True, timeout=120, check=True)
    return Image.open(path).convert("RGB")


def test_site_renders_in_headless_browser(site, tmp_path):
    """Screenshots are not blank and styled (the stylesheet loads under the CSP); the DOM has
    every entry's row, and the sort script works on a real click."""
    browser = browser_or_skip()
    root = site[0].parent
    entry = next(p for p in (root / "entries").glob("*.html") if "&lt;b&gt;bold" in p.read_text())
    for name, page in (
        ("index", root / "index.html"),
        ("task", root / "tasks/spread-discrete.html"),
        ("entry", entry),
    ):
        shot = _screenshot(browser, page, tmp_path / f"{name}.png")
        assert shot.size == (1280, 2000)
        assert max(ImageStat.Stat(shot.convert("L")).stddev) > 10, name  # not one colour
        assert len(shot.getcolors(1 << 20) or range(1 << 20)) > 50, name  # text, images
        assert shot.getpixel((5, 5)) == (0x17, 0x32, 0x4F), name  # style.css's header
    dom = dump_dom(browser, root / "tasks/spread-discrete.html")
    assert "<h1>spread (discrete actions)</h1>" in dom
    assert len(re.findall(r'<td class="name"><a href="../entries/', dom)) == CROWDED
    dom = dump_dom(browser, entry)
    assert "&lt;b&gt;bold&lt;/b&gt;" in dom and "<b>" not in dom
    # sort.js: a click on "Final score" sorts ascending, worst first (script-src 'self').
    click, clicked = root / "click.js", root / "tasks/clicked.html"
    click.write_text('document.querySelectorAll("table.sortable thead th")[5].click();')
    task = (root / "tasks/spread-discrete.html").read_text()
    clicked.write_text(task.replace("</body>", '<script src="../click.js" defer></script></body>'))
    try:
        ranks = re.findall(r'<tr>\s*<td class="num">(\d+)</td>', dump_dom(browser, clicked))
    finally:
        click.unlink()
        clicked.unlink()
    assert ranks == [str(r) for r in range(CROWDED, 0, -1)]


def test_cli_writes_the_site_with_importable_downloads(tmp_path, capsys):
    from coopbench.cli import main
    from coopbench.results import Store

    docs = _runs("a", range(2), 0.5) + _runs("b", range(2), 0.7, task="pp")
    with Store(tmp_path / "a.db") as store:
        store.import_submissions(docs)
    out = tmp_path / "site"
    assert main(["leaderboard", "html", "--db", str(tmp_path / "a.db"), "--out", str(out)]) == 0
    assert "index.html" in capsys.readouterr().out
    files = sorted((out / "entries").glob("*.json.gz"))
    assert len(files) == 2
    imported = [str(f) for f in files]
    assert main(["leaderboard", "import", "--db", str(tmp_path / "b.db"), *imported]) == 0
    with Store(tmp_path / "b.db") as store:
        assert store.submissions() == sorted(docs, key=lambda d: d["run_key"])


def test_policies_of_the_same_runs_share_one_export(tmp_path):
    policies = {
        name: {"label": name, "centralised": name == "G", "privileged": False} for name in "GL"
    }
    docs = [fake_submission(f"two-{s}", seed=s, policies=policies) for s in range(2)]
    calls = []

    def write_submissions(keys, path):
        calls.append(list(keys))
        path.write_bytes(gzip.compress(json.dumps(keys).encode()))

    board = aggregate(docs, reps=20)
    index = write_html(
        board, tmp_path, metas=submission_metas(docs), write_submissions=write_submissions
    )
    assert [e.label for e in board.entries] == ["G", "L"]
    assert calls == [["two-0", "two-1"]]  # written once ...
    files = sorted((index.parent / "entries").glob("*.json.gz"))
    assert len(files) == 2 and files[0].read_bytes() == files[1].read_bytes()  # ... offered twice


def test_write_site_ranks_the_suites_whose_tasks_are_all_on_the_board(tmp_path):
    """``write_site`` adds the ``ctedd`` ranking (all its tasks ran) but not ``all`` (spread
    is missing); the index shows the ranking table and its figures, which exist."""
    from coopbench.leaderboard import write_site
    from coopbench.results import Store

    docs = []
    for task in ("cn-v1", "cn-v2", "pf", "pp"):
        docs += _runs("strong", range(3), 0.8, task=task) + _runs("weak", range(3), 0.3, task=task)
    with Store(tmp_path / "s.db") as store:
        store.import_submissions(docs)
        index = write_site(store, tmp_path / "site")
    html = index.read_text()
    assert "Suite rankings" in html and "Suite ctedd" in html and "Suite all" not in html
    ranking = html[html.index("suite-ranking") :]
    assert ranking.index("strong") < ranking.index("weak")  # ranked by IQM
    images = re.findall(r'<img src="([^"]+)"', html)
    assert any(src.startswith("suite-ctedd") for src in images)
    for src in images:
        assert (index.parent / src).stat().st_size > 0
