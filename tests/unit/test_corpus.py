"""The embedded data set: reproducible from the generator, sized as documented, no line shared
between train and eval, well-formed, and the facts it states are right."""
from __future__ import annotations

import calendar
import json
import re

import pytest

from sitv_dist.embedded import corpus
from sitv_dist.embedded.corpus import CATEGORIES, EMBEDDED_DATA_DIR, SPLITS, TASKS, data_file

NAMES = ("general",) + TASKS
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def rows(name: str, split: str) -> list[dict]:
    return [json.loads(line) for line in data_file(name, split).read_text(encoding="utf-8").splitlines()]


def texts(name: str, splits=SPLITS) -> list[str]:
    return [row["text"] for split in splits for row in rows(name, split)]


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    assert corpus.main([str(out)]) == 0
    return out


def test_committed_files_are_what_the_generator_writes(regenerated):
    expected = sorted(data_file(name, split).name for name in NAMES for split in SPLITS)
    assert sorted(p.name for p in regenerated.iterdir()) == expected
    for name in expected:
        assert (regenerated / name).read_bytes() == (EMBEDDED_DATA_DIR / name).read_bytes(), \
            f"{name} is stale: run python -m sitv_dist.embedded.corpus"


def test_generator_is_deterministic(regenerated, tmp_path):
    corpus.generate(tmp_path)
    for path in regenerated.iterdir():
        assert (tmp_path / path.name).read_bytes() == path.read_bytes()


def test_data_file_paths():
    assert data_file("qa_factual", "eval") == EMBEDDED_DATA_DIR / "qa_factual_eval.jsonl"
    assert data_file("general", "train") == EMBEDDED_DATA_DIR / "general_train.jsonl"
    assert EMBEDDED_DATA_DIR.name == "data" and EMBEDDED_DATA_DIR.parent.name == "embedded"
    with pytest.raises(ValueError):
        data_file("sentiment", "train")
    with pytest.raises(ValueError):
        data_file("general", "test")


def test_sizes_and_keys():
    for split, per_category in (("train", 600), ("eval", 100)):
        general = rows("general", split)
        assert all(set(row) == {"text", "category"} for row in general)
        counts = {c: sum(row["category"] == c for row in general) for c in CATEGORIES}
        assert counts == {c: per_category for c in CATEGORIES}
        styles = [row["text"] for row in general if row["category"] == corpus.TASK_STYLES]
        assert len(styles) == (4 * corpus.TASK_STYLE_LINES if split == "eval" else 0)
        assert len(general) == 4 * per_category + len(styles)
        # the task-style texts are held out from every task's own train and eval lines
        assert not set(styles) & {t for task in TASKS for t in texts(task)}
    for task in TASKS:
        assert len(rows(task, "train")) == 400 and len(rows(task, "eval")) == 100
        assert all(set(row) == {"text"} for split in SPLITS for row in rows(task, split))


def test_no_duplicates_and_no_train_eval_overlap():
    for name in NAMES:
        train, eval_ = texts(name, ["train"]), texts(name, ["eval"])
        assert len(set(train)) == len(train), f"{name}_train has duplicate lines"
        assert len(set(eval_)) == len(eval_), f"{name}_eval has duplicate lines"
        assert not set(train) & set(eval_), f"{name}: train and eval share lines"


def test_files_are_plain_ascii_jsonl_within_limits():
    total = 0
    for name in NAMES:
        for split in SPLITS:
            raw = data_file(name, split).read_bytes()
            total += len(raw)
            assert raw.endswith(b"\n") and b"\r" not in raw and raw.isascii()
            for row in rows(name, split):
                key = row.get("category", name)
                if key == corpus.TASK_STYLES:       # a task's line: that task's limits hold
                    lo, hi = min(corpus.WORD_LIMITS[t][0] for t in TASKS), max(corpus.WORD_LIMITS[t][1] for t in TASKS)
                else:
                    lo, hi = corpus.WORD_LIMITS[key]
                assert lo <= len(row["text"].split()) <= hi, row["text"]
                assert row["text"] == row["text"].strip() and "  " not in row["text"]
    assert total < 2_000_000


def test_task_formats():
    for text in texts("qa_factual"):
        assert re.fullmatch(r"Question: [^\n]+\? Answer: [^\n]+\.", text), text
    for text in texts("instruction_following"):
        assert text.startswith("Instruction: ") and text.count("\nResponse: ") == 1, text
    for task in ("sentiment_positive", "sentiment_negative"):
        assert all(15 <= len(t.split()) <= 50 for t in texts(task))


def test_sentiment_sets_differ_in_polarity_not_topic():
    positive, negative = " ".join(texts("sentiment_positive")), " ".join(texts("sentiment_negative"))
    for subject in ("Luna Trattoria", "Harborview Hotel", "The Silent Harbor", "blender"):
        assert subject in positive and subject in negative
    assert positive.count("I loved") > 0 and negative.count("I loved") == 0
    assert negative.count("Save your money") + negative.count("never again") > 0
    assert "one of the worst" not in positive and "one of the best" not in negative


# independent facts, written out here rather than read from the generator's tables
CAPITALS = {"France": "Paris", "Germany": "Berlin", "Italy": "Rome", "Spain": "Madrid", "Japan": "Tokyo",
            "Canada": "Ottawa", "Australia": "Canberra", "Egypt": "Cairo", "Brazil": "Brasilia",
            "India": "New Delhi", "Kenya": "Nairobi", "Peru": "Lima", "Norway": "Oslo", "Turkey": "Ankara"}
SYMBOLS = {"gold": "Au", "silver": "Ag", "iron": "Fe", "sodium": "Na", "potassium": "K", "lead": "Pb",
           "mercury": "Hg", "copper": "Cu", "tin": "Sn", "oxygen": "O", "hydrogen": "H", "tungsten": "W"}
PLANETS = ["Mercury", "Venus", "Earth", "Mars", "Jupiter", "Saturn", "Uranus", "Neptune"]
YEARS = {"Battle of Hastings": "1066", "fall of the Berlin Wall": "1989", "first crewed Moon landing": "1969",
         "sinking of the Titanic": "1912", "storming of the Bastille": "1789", "end of World War II": "1945"}
AUTHORS = {"Pride and Prejudice": "Jane Austen", "Emma": "Jane Austen", "Macbeth": "William Shakespeare", "Hamlet": "William Shakespeare", "Moby-Dick": "Herman Melville",
           "War and Peace": "Leo Tolstoy", "Don Quixote": "Miguel de Cervantes", "Frankenstein": "Mary Shelley"}


def qa_pairs() -> list[tuple[str, str]]:
    return [tuple(re.fullmatch(r"Question: (.+?\?) Answer: (.+)", t).groups()) for t in texts("qa_factual")]


def test_generator_fact_tables_agree_with_independent_facts():
    capitals = {country.removeprefix("the "): capital for country, capital, _ in corpus.COUNTRIES}
    assert all(capitals[c] == cap for c, cap in CAPITALS.items())
    symbols = {name: symbol for name, symbol, _ in corpus.ELEMENTS}
    assert all(symbols[n] == s for n, s in SYMBOLS.items())
    assert list(corpus.PLANETS) == PLANETS
    assert dict(corpus.EVENTS)["the Battle of Hastings"] == "1066"
    assert {t: a for t, a, _ in corpus.BOOKS}["Pride and Prejudice"] == "Jane Austen"


def test_qa_answers_are_correct():
    tables = {"capital": 0, "symbol": 0, "arithmetic": 0, "planet": 0, "author": 0}
    authors = {title: author for title, author, _ in corpus.BOOKS}
    capitals = {c: cap for c, cap, _ in corpus.COUNTRIES}
    symbols = {name: symbol for name, symbol, _ in corpus.ELEMENTS}
    for q, a in qa_pairs():
        m = re.search(r"capital(?: city)? of (.+?)(?: is which city)?\?", q)
        if m:
            tables["capital"] += 1
            assert capitals[m.group(1)] in a, (q, a)
            if m.group(1) in CAPITALS:
                assert CAPITALS[m.group(1)] in a
        m = re.fullmatch(r"What is the chemical symbol for (\w+)\?", q)
        if m:
            tables["symbol"] += 1
            assert re.search(rf"\b{symbols[m.group(1)]}\.$", a), (q, a)
            if m.group(1) in SYMBOLS:
                assert a.endswith(f" {SYMBOLS[m.group(1)]}.") or a == f"{SYMBOLS[m.group(1)]}."
        expected = arithmetic(q)
        if expected is not None:
            tables["arithmetic"] += 1
            assert int(re.findall(r"\d+", a)[-1]) == expected, (q, a)
        m = re.fullmatch(r"Which planet is (\w+) from the Sun\?|Counting outward from the Sun, which planet comes (\w+)\?", q)
        if m:
            tables["planet"] += 1
            nth = m.group(1) or m.group(2)
            assert a.startswith(PLANETS[corpus._ORDINALS.index(nth) - 1]), (q, a)
        for event, year in YEARS.items():
            if event in q:
                assert year in a, (q, a)
        m = re.fullmatch(r"(?:Who wrote|Which writer wrote|Who is the author of the (?:epic poem|novella|novel|play|poem)) (.+)\?"
                         r"|(.+) was written by whom\?", q)
        if m:
            tables["author"] += 1
            book = m.group(1) or m.group(2)
            assert authors[book] in a, (q, a)
            if book in AUTHORS:
                assert AUTHORS[book] in a, (q, a)
        if "capital of France" in q:
            assert "Paris" in a
    assert all(n > 0 for n in tables.values()), tables


def arithmetic(q: str) -> int | None:
    """The correct answer of an arithmetic question, or None if q is not one."""
    patterns = [
        (r"What is (\d+) plus (\d+)\?|What is the sum of (\d+) and (\d+)\?|How much is (\d+) plus (\d+)\?", lambda a, b: a + b),
        (r"What is (\d+) minus (\d+)\?", lambda a, b: a - b),
        (r"What do you get if you subtract (\d+) from (\d+)\?", lambda b, a: a - b),
        (r"What is (\d+) times (\d+)\?|What is (\d+) multiplied by (\d+)\?|What is the product of (\d+) and (\d+)\?",
         lambda a, b: a * b),
        (r"What is (\d+) divided by (\d+)\?", lambda a, b: a // b),
        (r"How many times does (\d+) go into (\d+)\?", lambda b, a: a // b),
        (r"What is the square of (\d+)\?", lambda a: a * a),
        (r"What is the square root of (\d+)\?", lambda a: round(a ** 0.5)),
    ]
    for pattern, fn in patterns:
        m = re.fullmatch(pattern, q)
        if m:
            return fn(*[int(g) for g in m.groups() if g is not None])
    return None


def test_instruction_responses_are_correct():
    checked = {"sort": 0, "alphabet": 0, "celsius": 0, "sums": 0, "weekday": 0, "reverse": 0}
    for text in texts("instruction_following"):
        ins, resp = text.removeprefix("Instruction: ").split("\nResponse: ")
        m = re.fullmatch(r"(?:Sort these numbers from|Put these numbers in) (\w+).*?: ([\d, ]+)\.", ins)
        if m:
            checked["sort"] += 1
            nums = [int(n) for n in m.group(2).split(", ")]
            descending = m.group(1) in ("largest", "descending")
            assert [int(n) for n in re.findall(r"\d+", resp)] == sorted(nums, reverse=descending), text
        m = re.fullmatch(r"(?:Put these words in alphabetical order|Sort these words alphabetically): (.+)\.", ins)
        if m:
            checked["alphabet"] += 1
            assert resp == "In alphabetical order: " + ", ".join(sorted(m.group(1).split(", "))) + ".", text
        m = re.search(r"(-?\d+) degrees Celsius is (-?\d+) degrees Fahrenheit", resp)
        if m:
            checked["celsius"] += 1
            assert int(m.group(1)) * 9 / 5 + 32 == int(m.group(2)), text
        for a, op, b, c in re.findall(r"(\d+) ([-+x]) (\d+) = (\d+)", resp):
            checked["sums"] += 1
            a, b, c = int(a), int(b), int(c)
            assert c == {"+": a + b, "-": a - b, "x": a * b}[op], text
        m = re.fullmatch(r"What day of the week is it (\d+) days? after (\w+)\?", ins)
        if m:
            checked["weekday"] += 1
            assert resp.endswith(WEEKDAYS[(WEEKDAYS.index(m.group(2)) + int(m.group(1))) % 7] + "."), text
        m = re.fullmatch(r"(?:Spell the word|Reverse the letters of the word) '(\w+)'(?: backwards)?\.", ins)
        if m:
            checked["reverse"] += 1
            assert resp.endswith(f"'{m.group(1)[::-1]}'."), text
    assert all(n > 0 for n in checked.values()), checked


def test_common_knowledge_facts_are_correct():
    lines = [row["text"] for split in SPLITS for row in rows("general", split) if row["category"] == "common_knowledge"]
    checked = {"capital": 0, "leap": 0, "celsius": 0, "weekday": 0}
    for text in lines:
        for country, capital in re.findall(r"The capital of (?:the )?([A-Z][\w ]+?) is ([A-Z][\w ]+?)[.,]", text):
            checked["capital"] += 1
            if country in CAPITALS:
                assert capital == CAPITALS[country], text
        for year, negation in re.findall(r"The year (\d+) is( not)? a leap year", text):
            checked["leap"] += 1
            assert calendar.isleap(int(year)) == (negation == ""), text
        for c, f in re.findall(r"(-?\d+) degrees Celsius(?: is| converts to|, that is) (-?\d+) degrees Fahrenheit", text):
            checked["celsius"] += 1
            assert int(c) * 9 / 5 + 32 == int(f), text
        for day, k, later in re.findall(r"If today is (\w+), then (\d+) days from now it will be (\w+)\.", text):
            checked["weekday"] += 1
            assert WEEKDAYS[(WEEKDAYS.index(day) + int(k)) % 7] == later, text
    assert all(n > 0 for n in checked.values()), checked
