"""The embedded multiple-choice sets of the four tasks, written for this project from the
embedded eval texts (never the training texts), and the generator that writes them.

* sentiment_positive / sentiment_negative: the first sentence of a review of the task's
  sentiment as context; two continuations, the rest of that review and the rest of a review
  of the opposite sentiment; the right one keeps the task's sentiment.
* qa_factual: "Question: ... Answer:" as context; four answers, the right one and three
  answers to other questions of the most similar form (most words in common).
* instruction_following: "Instruction: ...\\nResponse:" as context; two responses, the one
  that follows the instruction and the response to another, similar instruction.

Choices carry their own leading space (lm-eval's `target_delimiter: ""`). The generator is
seeded and rewrites byte-identical files::

    python -m sitv_dist.embedded.mc_data [OUT_DIR]
"""
from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

from .corpus import EMBEDDED_DATA_DIR, TASKS, data_file

SEED = 20261130
OPPOSITE = {"sentiment_positive": "sentiment_negative", "sentiment_negative": "sentiment_positive"}
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def mc_file(task: str, root: Path | None = None) -> Path:
    """Path of a built-in task's multiple-choice set."""
    return (EMBEDDED_DATA_DIR if root is None else Path(root)) / f"{task}_mc.jsonl"


def _texts(task: str) -> list[str]:
    return [json.loads(line)["text"] for line in data_file(task, "eval").read_text().splitlines() if line.strip()]


def _shuffled(rng: random.Random, right: str, wrong: list[str]) -> dict:
    choices = [right] + wrong
    rng.shuffle(choices)
    return {"choices": choices, "answer": choices.index(right)}


def _similar(rng: random.Random, key: str, others: list[str], k: int) -> list[int]:
    """Indices of the k others sharing the most words with key (ties broken by rng)."""
    words = set(key.lower().split())

    def shared(other: str) -> int:
        return len(words & set(other.lower().split()))
    ranked = sorted(range(len(others)), key=lambda i: (-shared(others[i]), rng.random()))
    return ranked[:k]


def sentiment_items(task: str, rng: random.Random) -> list[dict]:
    own = [_SENTENCE.split(t, maxsplit=1) for t in _texts(task)]
    other = [_SENTENCE.split(t, maxsplit=1) for t in _texts(OPPOSITE[task])]
    other = [o[1] for o in other if len(o) == 2]
    items = []
    for parts in own:
        if len(parts) != 2:
            continue
        wrong = other[rng.randrange(len(other))]
        items.append({"context": parts[0]} | _shuffled(rng, " " + parts[1], [" " + wrong]))
    return items


def _pairs(task: str, marker: str) -> list[tuple[str, str]]:
    pairs = []
    for t in _texts(task):
        head, sep, tail = t.partition(marker)
        if sep and tail.strip():
            pairs.append((head + marker.rstrip(), " " + tail.strip()))
    return pairs


def answer_items(task: str, marker: str, wrong: int, rng: random.Random) -> list[dict]:
    """Context up to `marker`; `wrong` distractors: answers of the most similar other items,
    none equal to the right answer."""
    pairs = _pairs(task, marker)
    items = []
    for i, (context, right) in enumerate(pairs):
        others = [a for j, (_, a) in enumerate(pairs) if j != i and a != right]
        others = list(dict.fromkeys(others))
        picks = [others[j] for j in _similar(rng, right, others, wrong)]
        items.append({"context": context} | _shuffled(rng, right, picks))
    return items


def make_sets() -> dict[str, list[dict]]:
    sets = {}
    for task in TASKS:
        rng = random.Random(f"{SEED}:{task}")
        if task in OPPOSITE:
            sets[task] = sentiment_items(task, rng)
        elif task == "qa_factual":
            sets[task] = answer_items(task, " Answer: ", 3, rng)
        else:
            sets[task] = answer_items(task, "\nResponse: ", 1, rng)
    return sets


def write(root: Path = EMBEDDED_DATA_DIR) -> list[Path]:
    paths = []
    for task, items in make_sets().items():
        path = mc_file(task, root)
        path.write_text("".join(json.dumps(it, ensure_ascii=False) + "\n" for it in items))
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in write(Path(sys.argv[1]) if len(sys.argv) > 1 else EMBEDDED_DATA_DIR):
        print(p)
