"""The embedded default data set of sitv-dist, and the generator that writes it.

Why this exists: sitv-dist must run end to end with no network and no downloaded corpora,
so the package ships its own small text sets under ``embedded/data/``:

* ``general_{train,eval}.jsonl`` -- a general corpus in four categories (coding,
  common_knowledge, mixed_domain, wikitext), used to pre-train the tiny embedded base
  model and to measure "general" loss along task vectors;
* ``<task>_{train,eval}.jsonl`` for four tasks (sentiment_positive, sentiment_negative,
  qa_factual, instruction_following), used for fine-tuning and task losses.

All of this text was written for this project: it is produced from the templates and slot
tables in this file, not copied from any other project or published data set. Facts
presented as real (capitals, chemical symbols, dates, unit conversions, arithmetic) come
from tables checked by hand or are computed here; the towns, rivers, people, firms,
restaurants, films and books in the encyclopedia-style prose, e-mails and reviews are
fictional.

The generator is deterministic (seeded ``random.Random``, standard library only), dedupes
every set before splitting it, so train and eval never share a line, and rewrites
byte-identical files on every run::

    python -m sitv_dist.embedded.corpus [OUT_DIR]
"""
from __future__ import annotations

import json
import random
import sys
import zlib
from pathlib import Path
from typing import Callable, Sequence

from ..config.checks import EMBEDDED_TASKS

EMBEDDED_DATA_DIR = Path(__file__).resolve().parent / "data"
TASKS = EMBEDDED_TASKS      # the config validates task names against the same tuple
CATEGORIES = ("coding", "common_knowledge", "mixed_domain", "wikitext")
TASK_STYLES = "task_styles"
"""The general eval set's fifth category: texts in the four tasks' styles (held out from every
task's train and eval split), as a real mixed evaluation set has them; the base never saw such
text, so fine-tuning on a task can lower the general loss for a real reason."""
SPLITS = ("train", "eval")

SEED = 20240917
GENERAL_SIZES = {"train": 600, "eval": 100}   # lines per category
TASK_SIZES = {"train": 400, "eval": 100}      # lines per task
TASK_STYLE_LINES = 25                         # lines per task in the general eval set (drawn after the task's own)
WORD_LIMITS = {                               # (min, max) words per line, enforced
    "coding": (12, 60), "common_knowledge": (12, 60), "mixed_domain": (12, 60), "wikitext": (12, 60),
    "sentiment_positive": (15, 50), "sentiment_negative": (15, 50),
    "qa_factual": (6, 40), "instruction_following": (8, 70),
}

Maker = Callable[[random.Random], str]


def data_file(name: str, split: str, *, root: Path | None = None) -> Path:
    """Path of one embedded set: name 'general' or a task in TASKS, split 'train' or 'eval'."""
    if name != "general" and name not in TASKS:
        raise ValueError(f"no embedded data set {name!r}; choose 'general' or one of {', '.join(TASKS)}")
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'eval', not {split!r}")
    return (EMBEDDED_DATA_DIR if root is None else Path(root)) / f"{name}_{split}.jsonl"


# ---------------------------------------------------------------------------------------
# small text helpers
# ---------------------------------------------------------------------------------------

def _opts(text: str, sep: str = "|") -> tuple[str, ...]:
    """'a | b | c' -> ('a', 'b', 'c')."""
    return tuple(part.strip() for part in text.split(sep))


def _rows(text: str, sep: str = "|") -> list[tuple[str, ...]]:
    """A multi-line table, one row per line, cells separated by sep; an indented line
    continues the row above it."""
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith(" ") and lines:
            lines[-1] += " " + line.strip()
        elif line.strip():
            lines.append(line.strip())
    return [_opts(line, sep) for line in lines]


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _a(word: str) -> str:
    """'a' or 'an' before word (enough for the words used here)."""
    w = word.lower()
    an = w[:1] in "aeiou" and not w.startswith(("uni", "use", "one", "eu")) or w.startswith(("hour", "honest"))
    return ("an " if an else "a ") + word


def _join(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b, and c'."""
    items = list(items)
    if len(items) < 3:
        return " and ".join(items)
    return ", ".join(items[:-1]) + ", and " + items[-1]


_SMALL = _opts("zero | one | two | three | four | five | six | seven | eight | nine | ten | eleven | twelve | "
               "thirteen | fourteen | fifteen | sixteen | seventeen | eighteen | nineteen")
_TENS = _opts("| | twenty | thirty | forty | fifty | sixty | seventy | eighty | ninety")
_ORDINALS = _opts("zeroth | first | second | third | fourth | fifth | sixth | seventh | eighth | ninth | tenth | "
                  "eleventh | twelfth")


def _words(n: int) -> str:
    """English words for 0 <= n < 1000 ('three hundred and twelve')."""
    if n < 20:
        return _SMALL[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else "-" + _SMALL[n % 10])
    rest = n % 100
    return _SMALL[n // 100] + " hundred" + ("" if rest == 0 else " and " + _words(rest))


def _nth(n: int) -> str:
    """1st, 2nd, 3rd, 11th, 22nd ..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _num(n: int) -> str:
    return f"{n:,}"


def _fill(rng: random.Random, template: str, slots: dict) -> str:
    """Fill {slot}s; a slot whose value is a tuple gets a random element of it."""
    return template.format(**{k: rng.choice(v) if isinstance(v, tuple) else v for k, v in slots.items()})


WEEKDAYS = _opts("Monday | Tuesday | Wednesday | Thursday | Friday | Saturday | Sunday")
MONTHS = _rows("""
January | 31 | winter | summer
February | 28 | winter | summer
March | 31 | spring | autumn
April | 30 | spring | autumn
May | 31 | spring | autumn
June | 30 | summer | winter
July | 31 | summer | winter
August | 31 | summer | winter
September | 30 | autumn | spring
October | 31 | autumn | spring
November | 30 | autumn | spring
December | 31 | winter | summer
""")

# country (with article where English uses one), capital, continent ('' where it spans two)
COUNTRIES = _rows("""
France | Paris | Europe
Germany | Berlin | Europe
Italy | Rome | Europe
Spain | Madrid | Europe
Portugal | Lisbon | Europe
the United Kingdom | London | Europe
Ireland | Dublin | Europe
the Netherlands | Amsterdam | Europe
Belgium | Brussels | Europe
Austria | Vienna | Europe
Switzerland | Bern | Europe
Sweden | Stockholm | Europe
Norway | Oslo | Europe
Denmark | Copenhagen | Europe
Finland | Helsinki | Europe
Iceland | Reykjavik | Europe
Poland | Warsaw | Europe
Greece | Athens | Europe
Hungary | Budapest | Europe
the Czech Republic | Prague | Europe
Romania | Bucharest | Europe
Russia | Moscow |
Turkey | Ankara |
Egypt | Cairo | Africa
Kenya | Nairobi | Africa
Nigeria | Abuja | Africa
Morocco | Rabat | Africa
Ghana | Accra | Africa
Ethiopia | Addis Ababa | Africa
Japan | Tokyo | Asia
China | Beijing | Asia
India | New Delhi | Asia
South Korea | Seoul | Asia
Thailand | Bangkok | Asia
Vietnam | Hanoi | Asia
the Philippines | Manila | Asia
Pakistan | Islamabad | Asia
Nepal | Kathmandu | Asia
Mongolia | Ulaanbaatar | Asia
Saudi Arabia | Riyadh | Asia
Iran | Tehran | Asia
the United States | Washington, D.C. | North America
Canada | Ottawa | North America
Mexico | Mexico City | North America
Cuba | Havana | North America
Jamaica | Kingston | North America
Brazil | Brasilia | South America
Argentina | Buenos Aires | South America
Chile | Santiago | South America
Peru | Lima | South America
Colombia | Bogota | South America
Venezuela | Caracas | South America
Uruguay | Montevideo | South America
Ecuador | Quito | South America
Australia | Canberra | Oceania
New Zealand | Wellington | Oceania
""")

# animal, plural, class, young, group ('' = none used), diet ('' = not stated)
ANIMALS = _rows("""
cow | cows | mammal | calf | herd | herbivore
horse | horses | mammal | foal | herd | herbivore
sheep | sheep | mammal | lamb | flock | herbivore
goat | goats | mammal | kid | herd | herbivore
pig | pigs | mammal | piglet | | omnivore
cat | cats | mammal | kitten | | carnivore
dog | dogs | mammal | puppy | |
lion | lions | mammal | cub | pride | carnivore
wolf | wolves | mammal | pup | pack | carnivore
kangaroo | kangaroos | mammal | joey | mob | herbivore
elephant | elephants | mammal | calf | herd | herbivore
whale | whales | mammal | calf | pod |
dolphin | dolphins | mammal | calf | pod | carnivore
deer | deer | mammal | fawn | herd | herbivore
rabbit | rabbits | mammal | kit | | herbivore
bat | bats | mammal | pup | colony |
duck | ducks | bird | duckling | |
goose | geese | bird | gosling | gaggle |
swan | swans | bird | cygnet | |
owl | owls | bird | owlet | parliament | carnivore
eagle | eagles | bird | eaglet | | carnivore
chicken | chickens | bird | chick | flock |
penguin | penguins | bird | chick | colony | carnivore
frog | frogs | amphibian | tadpole | |
crocodile | crocodiles | reptile | hatchling | | carnivore
turtle | turtles | reptile | hatchling | |
butterfly | butterflies | insect | caterpillar | |
""")

# unit, plural, smaller unit (plural), how many smaller units in one unit
UNITS = _rows("""
kilometer | kilometers | meters | 1000
meter | meters | centimeters | 100
centimeter | centimeters | millimeters | 10
kilogram | kilograms | grams | 1000
liter | liters | milliliters | 1000
hour | hours | minutes | 60
minute | minutes | seconds | 60
day | days | hours | 24
week | weeks | days | 7
year | years | months | 12
decade | decades | years | 10
century | centuries | years | 100
foot | feet | inches | 12
yard | yards | feet | 3
mile | miles | feet | 5280
pound | pounds | ounces | 16
""")

FRUITS = _opts("apple | banana | orange | mango | pear | peach | cherry | grape | pineapple | strawberry | plum | "
               "kiwi | lemon | watermelon | apricot | raspberry")
VEGETABLES = _opts("carrot | broccoli | spinach | potato | onion | cabbage | lettuce | cauliflower | celery | "
                   "garlic | radish | kale | leek | asparagus | beet")
FIRST_NAMES = _opts("Anna | Ben | Carla | David | Elena | Farid | Grace | Hiro | Irene | James | Kofi | Lena | "
                    "Marco | Nadia | Oscar | Priya | Quinn | Rosa | Samir | Tessa | Umar | Vera | Will | Yusuf | Zoe")


# ---------------------------------------------------------------------------------------
# general: coding
# ---------------------------------------------------------------------------------------

_PYTHON = _rows("""
def add({p}, {q}): return {p} + {q} => defines a function that returns the sum of {p} and {q}
def gap({p}, {q}): return abs({p} - {q}) => defines a function that returns how far apart {p} and {q} are, always as a
    non-negative number
def mean({p}, {q}): return ({p} + {q}) / 2 => defines a function that returns the average of {p} and {q}
def larger({p}, {q}): return {p} if {p} > {q} else {q} => defines a function that returns whichever of {p} and {q} is
    bigger
def hypotenuse({p}, {q}): return ({p} ** 2 + {q} ** 2) ** 0.5 => computes the long side of a right triangle whose two
    shorter sides are {p} and {q}
total = sum(x for x in {seq} if x > {n}) => adds up every value in {seq} that is greater than {n} and stores the
    result in total
squares = [i * i for i in range({k})] => builds a list of the squares of the whole numbers from 0 to {km1}
evens = [i for i in range({k}) if i % 2 == 0] => collects the even numbers from 0 up to {km1} into a list
print(sum(range(1, {kp1}))) => prints {ksum}, the sum of the whole numbers from 1 to {k}
with open("{file}") as f: lines = f.read().splitlines() => opens {file}, reads the whole file and splits it into a
    list of lines without the newline characters
with open("{file}") as f: count = sum(1 for _ in f) => counts how many lines {file} contains without loading the whole
    file into memory
{dict}.get("{key}", {default}) => looks up the key "{key}" in {dict} and gives back {default} if the key is missing
sorted({seq}, reverse=True) => returns a new list with the items of {seq} from largest to smallest, leaving {seq}
    itself unchanged
{seq}.sort() => sorts the list {seq} in place, from smallest to largest
sorted({seq}, key=len) => orders the items of {seq} from shortest to longest
for i, item in enumerate({seq}, start={one}): print(i, item) => prints every item of {seq} next to a counter that
    starts at {one}
{s}.strip().lower() => removes the spaces at both ends of {s} and converts the text to lower case
{s}.split(",") => breaks {s} into a list of pieces wherever a comma appears
", ".join({seq}) => joins the strings in {seq} into a single string, separated by a comma and a space
{s}.replace("{old}", "{new}") => returns a copy of {s} in which every "{old}" is replaced by "{new}"
{s}.startswith("{prefix}") => checks whether {s} begins with "{prefix}" and gives True or False
if {seq} is None: raise ValueError("{seq} is required") => stops the program with a ValueError when {seq} has not been
    provided
top = Counter({seq}).most_common({k3}) => counts how often each value appears in {seq} and keeps the {k3} most
    frequent ones, using Counter from the collections module
data = json.loads(text); print(data["{key}"]) => parses the JSON string in text into a Python dictionary and prints
    its "{key}" field
scale = lambda x: x * {k} => defines a tiny anonymous function that multiplies its argument by {k}
while n > {k}: n //= 2 => keeps halving n with integer division until it is {k} or smaller
lookup = dict(zip({seq}, {seq2})) => pairs each item of {seq} with the item at the same position in {seq2} and builds
    a dictionary from those pairs
unique = set({seq}) => removes duplicate entries from {seq} by turning it into a set, which does not keep the original
    order
{seq}[:{k}] => gives the first {k} items of {seq} as a new list
{seq}[-{k}:] => gives the last {k} items of {seq}
{seq}[::-1] => returns a reversed copy of {seq}
any(x < 0 for x in {seq}) => is True when at least one value in {seq} is negative
all(x > {n} for x in {seq}) => is True only if every value in {seq} is greater than {n}
Path("{dir}").mkdir(parents=True, exist_ok=True) => creates the folder {dir}, including any missing parent folders,
    and does nothing if it already exists
len(set({seq})) == len({seq}) => is True only when {seq} contains no repeated values
{seq}.append({n}) => adds the number {n} to the end of the list {seq}
x = {big} // {small} => divides {big} by {small} and drops the remainder, so x becomes {quot}
x = {big} % {small} => stores the remainder of {big} divided by {small}, which is {rem}, in x
{seq}.count({n}) => tells you how many times the value {n} occurs in the list {seq}
max({seq}, default=0) => returns the largest item of {seq}, or 0 when {seq} is empty
""", sep="=>")

_SQL = _rows("""
SELECT {tcol} FROM {table} WHERE {ncol} > {n}; => lists the {tcol_h} of every row in the {table} table whose {ncol_h}
    is greater than {n}
SELECT {tcol}, COUNT(*) FROM {table} GROUP BY {tcol}; => counts how many rows of {table} share each {tcol_h}
SELECT AVG({ncol}) FROM {table}; => computes the average {ncol_h} over all rows of the {table} table
SELECT MAX({ncol}) FROM {table}; => returns the largest {ncol_h} stored in {table}
SELECT MIN({ncol}) FROM {table} WHERE {tcol} = '{tval}'; => finds the smallest {ncol_h} among the rows of {table}
    whose {tcol_h} is {tval}
SELECT SUM({ncol}) FROM {table} WHERE {tcol} = '{tval}'; => adds up the {ncol_h} of all rows in {table} whose {tcol_h}
    is {tval}
SELECT * FROM {table} ORDER BY {ncol} DESC LIMIT {k}; => returns the {k} rows of {table} with the highest {ncol_h}
SELECT * FROM {table} ORDER BY {ncol} ASC LIMIT {k}; => returns the {k} rows of {table} with the lowest {ncol_h}
UPDATE {table} SET {ncol} = {n} WHERE id = {rid}; => changes the {ncol_h} of the row with id {rid} in {table} to {n}
DELETE FROM {table} WHERE {ncol} < {n}; => removes every row from {table} whose {ncol_h} is below {n}
CREATE TABLE {table} (id INTEGER PRIMARY KEY, {tcol} TEXT, {ncol} INTEGER); => creates a table named {table} with an
    id primary key, a text column called {tcol} and a whole-number column called {ncol}
SELECT DISTINCT {tcol} FROM {table}; => lists each different {tcol_h} in {table} exactly once
INSERT INTO {table} ({tcol}, {ncol}) VALUES ('{tval}', {n}); => adds a new row to {table} with {tcol_h} set to {tval}
    and {ncol_h} set to {n}
SELECT * FROM {table} WHERE {tcol} LIKE '{letter}%'; => finds the rows of {table} whose {tcol_h} starts with the
    letter {letter}
SELECT COUNT(*) FROM {table} WHERE {ncol} BETWEEN {lo} AND {hi}; => counts the rows of {table} whose {ncol_h} lies
    between {lo} and {hi}, including both ends
SELECT {tcol} FROM {table} WHERE {ncol} IS NULL; => lists the {tcol_h} of the rows in {table} that have no value for
    {ncol_h}
SELECT {tcol}, AVG({ncol}) FROM {table} GROUP BY {tcol} HAVING AVG({ncol}) > {n}; => shows the average {ncol_h} for
    each {tcol_h} in {table}, keeping only groups whose average is above {n}
""", sep="=>")

_SHELL = _rows("""
ls -lh {dir} => lists the files in {dir} in long format, with sizes shown in human-readable units
ls -a {dir} => lists everything in {dir}, including hidden files whose names start with a dot
grep -rn "{word}" {dir} => searches every file under {dir} for the text "{word}" and prints each match with its file
    name and line number
grep -c "{word}" {file} => prints how many lines of {file} contain "{word}"
grep -i "{word}" {file} => prints the lines of {file} that contain "{word}", ignoring the difference between upper and
    lower case
mkdir -p {dir}/{sub} => creates the folder {dir}/{sub} along with any missing parent folders
tar -czf {arch}.tar.gz {dir} => packs the folder {dir} into a gzip-compressed archive called {arch}.tar.gz
tar -xzf {arch}.tar.gz => unpacks the compressed archive {arch}.tar.gz into the current folder
find {dir} -name "*.{ext}" => lists every file whose name ends in .{ext} anywhere below {dir}
find {dir} -type f -mtime -{k} => lists the files under {dir} that were modified within the last {k} days
wc -l {file} => prints the number of lines in {file}
head -n {k} {file} => prints the first {k} lines of {file}
tail -n {k} {file} => prints the last {k} lines of {file}
tail -f {log} => keeps printing new lines as they are added to {log}, which is handy for watching a log file
sort {file} | uniq -c | sort -rn | head -n {k} => shows the {k} most frequent lines in {file}, each with the number of
    times it appears
du -sh {dir} => prints the total disk space used by {dir} in a human-readable form
chmod +x {script}.sh => makes the script {script}.sh executable so that it can be run directly
cp -r {dir} {backup} => copies the folder {dir} and everything inside it to {backup}
mv {file} {dir}/ => moves {file} into the {dir} folder
git log --oneline -n {k} => shows the last {k} commits of the current Git branch, one short line per commit
git checkout -b {branch} => creates a new Git branch called {branch} and switches to it
git commit -m "{msg}" => records the staged changes in Git with the message "{msg}"
export {env}={envval} => sets the environment variable {env} to {envval} for the current shell and the programs
    started from it
ps aux | grep {proc} => lists the running processes and keeps only the lines that mention {proc}
cut -d, -f{col} {csv} => prints the {colth} comma-separated field of every line in {csv}
echo "{note}" >> {file} => appends the line "{note}" to the end of {file}, creating the file if it does not exist
rm -r {dir}/tmp => deletes the tmp folder inside {dir} together with everything in it
diff {file} {file2} => prints the lines that differ between {file} and {file2}
""", sep="=>")

# SQL tables: name, numeric columns, text columns (with example values)
_SQL_TABLES = [
    ("customers", _opts("age | loyalty_points | credit_limit"),
     {"city": _opts("Lisbon | Denver | Osaka"), "country": _opts("Canada | Kenya | Chile"),
      "last_name": _opts("Okafor | Lindqvist | Moreau")}),
    ("orders", _opts("total | quantity | discount"),
     {"status": _opts("shipped | pending | cancelled"), "region": _opts("north | south | west"),
      "channel": _opts("web | phone | store")}),
    ("products", _opts("price | stock | weight"),
     {"category": _opts("garden | kitchen | toys"), "brand": _opts("Acme | Solano | Birchwood"),
      "name": _opts("lamp | kettle | stool")}),
    ("employees", _opts("salary | age | years_of_service"),
     {"department": _opts("sales | finance | support"), "job_title": _opts("analyst | designer | engineer"),
      "office": _opts("Leeds | Austin | Pune")}),
    ("books", _opts("pages | year | rating"),
     {"genre": _opts("mystery | poetry | history"), "author": _opts("Okonkwo | Ferreira | Walsh"),
      "publisher": _opts("Harbor | Lantern | Quill")}),
    ("sensors", _opts("temperature | humidity | battery_level"),
     {"location": _opts("roof | basement | lobby"), "model": _opts("TX100 | TX200 | QR7"),
      "status": _opts("active | offline | faulty")}),
    ("students", _opts("score | grade_level | absences"),
     {"homeroom": _opts("A1 | B2 | C3"), "club": _opts("chess | drama | robotics"),
      "last_name": _opts("Nguyen | Kowalski | Adeyemi")}),
]

_LANGS = {  # language: (name, 'in' phrase, name with article, unit nouns, templates, tips)
    "python": ("Python", "In Python", "a Python", _opts("snippet | line | one-liner | statement"), _PYTHON,
               _opts("It works in any recent version of Python 3. | "
                     "Try it in an interactive session to see what it returns. | "
                     "The variable names are only examples. | "
                     "Snippets like this are easy to test before they go into a larger program.")),
    "sql": ("SQL", "In SQL", "an SQL", _opts("query | statement"), _SQL,
            _opts("Most databases, including SQLite and PostgreSQL, accept this syntax. | "
                  "The result depends on the rows currently in the table. | "
                  "Keywords such as SELECT are written in capitals by convention only. | "
                  "It is worth testing on a copy of the data first.")),
    "shell": ("shell", "In a Unix shell", "a shell", _opts("command | one-liner"), _SHELL,
              _opts("It works in bash and most other Unix shells. | Add the --help flag to see more options. | "
                    "Paths in the example are placeholders for your own. | "
                    "Running it on a small folder first is a good habit.")),
}

_CODE_FRAMES = _opts(
    "{in_lang}, `{code}` {expl}. | The {lang} {unit} `{code}` {expl}. | `{code}` is {a_lang} {unit} that {expl}. | "
    "Here is {a_lang} {unit}: `{code}`. It {expl}. | What does `{code}` do? It {expl}. | "
    "A common {lang} idiom is `{code}`, which {expl}. | This {lang} {unit}, `{code}`, {expl}. | "
    "{Lang} example: `{code}` -- this {unit} {expl}. | If you run `{code}`, the {unit} {expl}. | "
    "Reading `{code}` from left to right: the {unit} {expl}.")


def _code_slots(rng: random.Random) -> dict:
    """Values for every {slot} of the code templates (tuples: one element is picked at fill time)."""
    seq, seq2 = rng.sample(_opts("scores | prices | names | orders | readings | temperatures | words | users | "
                                 "tags | distances | ages | labels"), 2)
    file, file2 = rng.sample(_opts("data.csv | notes.txt | config.yaml | report.json | todo.md | results.tsv | "
                                   "users.csv | inventory.txt | words.txt"), 2)
    table, ncols, tcols = rng.choice(_SQL_TABLES)
    tcol, ncol = rng.choice(list(tcols)), rng.choice(ncols)
    p, q = rng.choice((("a", "b"), ("x", "y"), ("left", "right"), ("first", "second"), ("m", "n")))
    old, new = rng.choice((("-", "_"), ("colour", "color"), ("teh", "the"), (" ", "_"), ("http:", "https:")))
    k = rng.randint(3, 12)
    big, small = rng.randint(10, 99), rng.randint(2, 9)
    lo = rng.randint(1, 50)
    col = rng.randint(1, 5)
    return {
        "p": p, "q": q, "seq": seq, "seq2": seq2, "file": file, "file2": file2,
        "s": _opts("line | title | email | filename | message | city | header | answer"),
        "n": rng.randint(2, 99), "k": k, "km1": k - 1, "kp1": k + 1, "ksum": k * (k + 1) // 2,
        "k3": rng.randint(2, 5), "one": rng.choice((0, 1)),
        "big": big, "small": small, "quot": big // small, "rem": big % small,
        "dict": _opts("settings | config | prices | inventory | counts | scores"),
        "key": _opts("timeout | color | apples | port | theme | retries | language"),
        "default": _opts("0 | None | 30 | 'unknown' | []"),
        "old": old, "new": new,
        "prefix": _opts("http | # | Dear | test_ | 2024"),
        "dir": _opts("src | logs | ~/projects | /var/log | build | docs | data/raw | backups | tests | assets"),
        "sub": _opts("2024 | images | archive | drafts | tmp"),
        "arch": _opts("backup | site | photos | release | project"),
        "ext": _opts("py | txt | csv | log | md | json | jpg"),
        "word": _opts("TODO | error | timeout | password | deprecated | warning | import"),
        "log": _opts("server.log | access.log | app.log | /var/log/syslog"),
        "script": _opts("deploy | backup | setup | cleanup | run_tests"),
        "backup": _opts("backup | /tmp/copy | old_version | ~/archive"),
        "branch": _opts("fix-login | feature/search | docs-update | hotfix | experiment"),
        "msg": _opts("Fix typo in README | Add unit tests | Update dependencies | Handle empty input"),
        "env": _opts("DEBUG | PORT | LOG_LEVEL | EDITOR | DATA_DIR"),
        "envval": _opts("1 | 8080 | info | vim | /srv/data"),
        "proc": _opts("python | nginx | postgres | node | cron"),
        "csv": _opts("data.csv | users.csv | sales.csv | grades.csv"),
        "col": col, "colth": _ORDINALS[col],
        "note": _opts("remember to water the plants | buy milk | call the bank | meeting moved to Friday"),
        "table": table, "ncol": ncol, "tcol": tcol, "tval": tcols[tcol],
        "tcol_h": tcol.replace("_", " "), "ncol_h": ncol.replace("_", " "),
        "letter": _opts("A | B | M | S | T"), "lo": lo, "hi": lo + rng.randint(10, 90), "rid": rng.randint(1, 500),
    }


def coding_line(rng: random.Random) -> str:
    """One coding line: a Python, SQL or shell snippet with a one-sentence explanation."""
    name, in_name, a_name, units, templates, tips = _LANGS[rng.choice(("python", "python", "sql", "shell"))]
    code_t, expl_t = rng.choice(templates)
    slots = {k: rng.choice(v) if isinstance(v, tuple) else v for k, v in _code_slots(rng).items()}
    code, expl = code_t.format(**slots), expl_t.format(**slots)
    frame = rng.choice(_CODE_FRAMES)
    line = frame.format(lang=name, Lang=_cap(name), in_lang=in_name, a_lang=a_name, unit=rng.choice(units),
                        code=code, expl=expl)
    if rng.random() < 0.35:
        line += " " + rng.choice(tips)
    return _cap(line)


# ---------------------------------------------------------------------------------------
# general: common knowledge
# ---------------------------------------------------------------------------------------

_COOKING_FACTS = _opts(
    "Water boils at 100 degrees Celsius, or 212 degrees Fahrenheit, at sea level. | "
    "At high altitude water boils at a lower temperature, so pasta and eggs take longer to cook. | "
    "Yeast makes bread dough rise by producing carbon dioxide gas as it feeds on sugar. | "
    "Baking soda needs an acid, such as buttermilk or lemon juice, to react and release carbon dioxide. | "
    "Resting a roast for a few minutes after cooking lets the juices settle before you slice it. | "
    "Cutting an onion releases a sulfur compound that irritates the eyes and makes them water. | "
    "White rice roughly triples in volume as it cooks and absorbs water. | "
    "Bananas ripen faster next to apples because apples give off ethylene gas. | "
    "Honey in a sealed jar keeps for years because it holds very little water. | "
    "A soft-boiled egg needs about six minutes in boiling water, a hard-boiled egg about ten. | "
    "Chicken is safely cooked when its thickest part reaches 74 degrees Celsius, or 165 degrees Fahrenheit. | "
    "A refrigerator should stay at or below 4 degrees Celsius, about 40 degrees Fahrenheit, to slow the growth of "
    "bacteria. | Searing meat in a very hot pan browns its surface and adds a deep, savory flavor. | "
    "Bread goes stale faster in the refrigerator than it does at room temperature. | "
    "A fresh egg sinks in a bowl of water, while an old egg tends to float because its air pocket has grown. | "
    "Cold butter gives flaky pastry, while soft butter is easier to beat with sugar for cakes. | "
    "A pinch of salt in sweet baking makes the other flavors taste stronger. | "
    "Pasta should be cooked in plenty of boiling water so that it does not stick together. | "
    "Frozen food that has fully thawed should be cooked before it is frozen again. | "
    "Lemon juice on sliced apples slows the browning caused by contact with air.")

_OVEN = _rows("""
150 | 300 | slow baking such as meringues and rich fruit cakes
160 | 325 | slow roasting and many loaf cakes
180 | 350 | most cakes, cookies and casseroles
190 | 375 | muffins and pies
200 | 400 | roasting vegetables until they are golden
220 | 425 | crisp roast potatoes and bread rolls
230 | 450 | pizza and flatbreads
""")


def _cooking(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.55:
        return rng.choice(_COOKING_FACTS)
    if roll < 0.75:
        c, f, use = rng.choice(_OVEN)
        return rng.choice((f"An oven set to {c} degrees Celsius is roughly {f} degrees Fahrenheit, a common setting "
                           f"for {use}.",
                           f"Recipes that ask for {f} degrees Fahrenheit mean about {c} degrees Celsius, typical for "
                           f"{use}."))
    k = rng.randint(2, 8)
    return rng.choice((f"In US kitchen measures, {_words(k)} tablespoons equal {_words(3 * k)} teaspoons, since one "
                       f"tablespoon is three teaspoons.",
                       f"A US cup holds sixteen tablespoons, so {_words(k)} cups are {16 * k} tablespoons.",
                       f"Doubling a recipe for {_words(k)} people means using twice every ingredient, which feeds "
                       f"{_words(2 * k)}."))


_WEATHER_FACTS = _opts(
    "Rain forms when tiny droplets in a cloud merge until they are heavy enough to fall. | "
    "Snow forms when water vapor freezes straight into ice crystals inside very cold clouds. | "
    "Fog is simply a cloud that forms close to the ground when moist air cools. | "
    "Dew appears on grass on clear, calm nights, when the ground cools and water vapor condenses on it. | "
    "A rainbow appears when sunlight is bent and reflected inside raindrops, so the sun is behind you when you see "
    "one. | "
    "Hail forms in strong thunderstorms, where rising air carries raindrops high enough to freeze into balls of ice. "
    "| Thunder is the sound of air expanding suddenly after it has been heated by lightning. | "
    "Light travels much faster than sound, which is why you see lightning before you hear the thunder. | "
    "Counting the seconds between lightning and thunder and dividing by three gives the distance to the storm in "
    "kilometers. | Wind is air moving from areas of higher pressure toward areas of lower pressure. | "
    "Hurricanes, typhoons and cyclones are the same kind of storm, named differently in different parts of the "
    "world. | "
    "Weather describes conditions over hours or days, while climate is the average pattern over many years. | "
    "High humidity makes a hot day feel even hotter because sweat evaporates more slowly. | "
    "Clouds look white because their droplets scatter all colors of sunlight about equally. | "
    "Storm clouds look dark because they are thick enough to block much of the sunlight. | "
    "Wind makes cold air feel colder because moving air carries heat away from the skin faster. | "
    "A falling barometer often means that unsettled or stormy weather is on the way. | "
    "Frost forms when the temperature of a surface drops below freezing and water vapor turns directly to ice on it.")

_WEATHER_ADVICE = (
    (0, "a warm coat, a hat and gloves are a good idea"), (10, "you will want a jacket"),
    (20, "a light sweater should be enough"), (27, "it is pleasant t-shirt weather"),
    (99, "drink plenty of water and look for shade"))


def _weather(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return rng.choice(_WEATHER_FACTS)
    c = rng.randrange(-20, 45, 5)
    f = c * 9 // 5 + 32
    advice = next(text for limit, text in _WEATHER_ADVICE if c <= limit)
    return rng.choice((f"A forecast of {c} degrees Celsius is {f} degrees Fahrenheit, so {advice}.",
                       f"If the thermometer shows {c} degrees Celsius, that is {f} degrees Fahrenheit; {advice}.",
                       f"{c} degrees Celsius converts to {f} degrees Fahrenheit: multiply by nine, divide by five "
                       f"and add thirty-two."))


_CLASS_FACTS = {
    "mammal": "Like other mammals, {plural} are warm-blooded and feed their young on milk.",
    "bird": "Like all birds, {plural} have feathers and lay eggs.",
    "reptile": "As reptiles, {plural} are cold-blooded and have scaly skin.",
    "amphibian": "As amphibians, {plural} usually begin life in water and later breathe air.",
    "insect": "Like all insects, {plural} have six legs and three main body parts.",
}
_DIETS = {"herbivore": "mainly plants", "carnivore": "mainly meat", "omnivore": "both plants and animals"}
_ANIMAL_FACTS = _opts(
    "Spiders are not insects; they are arachnids and have eight legs. | "
    "Bats are the only mammals that can truly fly. | "
    "Whales and dolphins are mammals, so they must come to the surface to breathe air. | "
    "An octopus has eight arms and three hearts. | The giraffe is the tallest living land animal. | "
    "The cheetah is the fastest land animal over short distances. | "
    "The blue whale is the largest animal known to have ever lived. | Camels store fat, not water, in their humps. | "
    "Penguins cannot fly, but they are excellent swimmers. | "
    "The ostrich is the largest living bird, and it cannot fly. | "
    "A group of fish swimming together is called a school. | "
    "Honeybees tell each other where flowers are with a waggle dance.")


def _animals(rng: random.Random) -> str:
    if rng.random() < 0.25:
        return rng.choice(_ANIMAL_FACTS)
    name, plural, cls, young, group, diet = rng.choice(ANIMALS)
    options = [f"{_cap(_a(name))} is {_a(cls)}, and a young {name} is called {_a(young)}.",
               f"A baby {name} is known as {_a(young)}.",
               _CLASS_FACTS[cls].format(plural=plural)]
    if group:
        options.append(f"A group of {plural} is called {_a(group)}.")
    if diet:
        options.append(f"{_cap(plural)} are {diet}s, which means they eat {_DIETS[diet]}.")
    return rng.choice(options)


def _units(rng: random.Random) -> str:
    unit, units, small, factor = rng.choice(UNITS)
    factor = int(factor)
    k = rng.randint(2, 12)
    total = _num(k * factor)
    return rng.choice((
        f"There are {_num(factor)} {small} in one {unit}, so {k} {units} equal {total} {small}.",
        f"{_cap(_words(k))} {units} is the same as {total} {small}.",
        f"To turn {units} into {small}, multiply by {_num(factor)}; for example, {k} {units} make {total} {small}.",
        f"One {unit} contains {_num(factor)} {small}, which means {total} {small} make exactly {_words(k)} {units}.",
        rng.choice(_opts("One mile is about 1.6 kilometers, and one kilometer is about 0.62 miles. | "
                         "One inch is exactly 2.54 centimeters. | One kilogram is about 2.2 pounds. | "
                         "A liter is a little more than a US quart. | "
                         "A dozen means twelve, and a baker's dozen means thirteen. | "
                         "A metric tonne is 1,000 kilograms."))))


def _calendar(rng: random.Random) -> str:
    i = rng.randrange(12)
    month, days, north, south = MONTHS[i]
    days_text = "28 days, or 29 in a leap year" if month == "February" else f"{days} days"
    d = rng.randrange(7)
    k = rng.randint(2, 20)
    year = rng.randint(1800, 2100)
    return rng.choice((
        f"{month} is the {_ORDINALS[i + 1]} month of the year and has {days_text}.",
        f"{month} comes right after {MONTHS[i - 1][0]} and right before {MONTHS[(i + 1) % 12][0]}.",
        f"In the Northern Hemisphere {month} is counted as {_a(north)} month, while south of the equator it falls in "
        f"{south}.",
        f"The day after {WEEKDAYS[d]} is {WEEKDAYS[(d + 1) % 7]}, and the day before it is {WEEKDAYS[d - 1]}.",
        f"If today is {WEEKDAYS[d]}, then {k} days from now it will be {WEEKDAYS[(d + k) % 7]}.",
        _leap_year_fact(year),
        rng.choice(_opts("A common year has 365 days and a leap year has 366. | "
                         "A fortnight is two weeks, or fourteen days. | "
                         "The months with 31 days are January, March, May, July, August, October and December. | "
                         "April, June, September and November each have 30 days. | "
                         "A week has seven days, and a year has twelve months and about fifty-two weeks. | "
                         "A decade is ten years, a century is one hundred years and a millennium is one thousand "
                         "years."))))


def _leap_year_fact(year: int) -> str:
    if year % 400 == 0:
        return f"The year {year} is a leap year: it is a century year, but it is divisible by 400."
    if year % 100 == 0:
        return f"The year {year} is not a leap year, because century years must be divisible by 400 to be leap years."
    if year % 4 == 0:
        return f"The year {year} is a leap year, because it is divisible by four and is not a century year."
    return f"The year {year} is not a leap year, because it is not divisible by four, so February has 28 days."


_GEO_FACTS = _opts(
    "The Pacific is the largest and deepest of the world's oceans. | "
    "There are seven continents: Africa, Antarctica, Asia, Australia, Europe, North America and South America. | "
    "Asia is the largest continent by both area and population. | "
    "Mount Everest, on the border of Nepal and China, is the highest mountain above sea level. | "
    "The Sahara is the largest hot desert in the world. | "
    "The Nile and the Amazon are the two longest rivers in the world. | "
    "The Amazon carries more water to the sea than any other river. | "
    "The equator divides the Earth into the Northern and Southern Hemispheres. | "
    "Lake Baikal in Siberia is the deepest lake in the world. | "
    "Greenland is the largest island that is not a continent. | "
    "The shore of the Dead Sea is the lowest place on land. | "
    "Vatican City is the smallest country in the world by area. | "
    "The Danube flows through more countries than any other river in the world. | "
    "The River Thames flows through London. | The Seine flows through Paris on its way to the English Channel. | "
    "The Tiber flows through the center of Rome. | The Danube passes through both Vienna and Budapest.")


def _geography(rng: random.Random) -> str:
    if rng.random() < 0.35:
        return rng.choice(_GEO_FACTS)
    country, capital, continent = rng.choice(COUNTRIES)
    options = [f"The capital of {country} is {capital}.", f"{capital} is the capital city of {country}."]
    if continent:
        options += [f"{_cap(country)} is a country in {continent}, and its capital is {capital}.",
                    f"{capital}, the capital of {country}, is a city in {continent}."]
    return rng.choice(options)


_SHAPES = _rows("""
triangle | 3
square | 4
pentagon | 5
hexagon | 6
heptagon | 7
octagon | 8
nonagon | 9
decagon | 10
""")


def _everyday(rng: random.Random) -> str:
    if rng.random() < 0.3:
        shape, sides = rng.choice(_SHAPES)
        return f"{_cap(_a(shape))} has {_words(int(sides))} sides and {_words(int(sides))} corners."
    return rng.choice(_opts(
        "A standard deck of playing cards has 52 cards in four suits. | A chessboard has 64 squares. | "
        "A standard piano has 88 keys. | A soccer team has eleven players on the field. | "
        "An adult human skeleton has 206 bones. | "
        "A traffic light uses red for stop, green for go and yellow or amber for caution. | "
        "A circle has no corners, and a square has four corners. | "
        "A regular dice has six faces numbered one to six. | "
        "The heart pumps blood around the body, carrying oxygen from the lungs. | "
        "Most adults need between seven and nine hours of sleep a night. | "
        "Sound cannot travel through the vacuum of space."))


_CK_DOMAINS: dict[str, tuple[Maker, tuple[str, ...]]] = {
    "cooking": (_cooking,
                _opts("Kitchen tip: | In the kitchen, it helps to know this: | A cooking fact: | "
                      "Good to know when cooking:")),
    "weather": (_weather,
                _opts("Weather fact: | About the weather: | Here is a weather fact. | "
                      "A useful thing to know about weather:")),
    "animals": (_animals, _opts("Animal fact: | From the animal world: | Did you know? | Nature note:")),
    "units": (_units,
              _opts("Units and measures: | A quick conversion: | Measurement fact: | Handy for everyday math:")),
    "calendar": (_calendar, _opts("Calendar fact: | About the calendar: | A date fact: | Keeping track of time:")),
    "geography": (_geography, _opts("Geography fact: | Around the world: | A fact about the world: | Map knowledge:")),
    "everyday": (_everyday, _opts("Everyday fact: | General knowledge: | A simple fact: | Worth knowing:")),
}


def common_knowledge_line(rng: random.Random) -> str:
    """One or two everyday facts from one domain, sometimes with a short lead-in."""
    make, leads = _CK_DOMAINS[rng.choice(list(_CK_DOMAINS))]
    facts = [make(rng)]
    if rng.random() < 0.65:
        second = make(rng)
        if second != facts[0]:
            facts.append(second)
    lead = rng.choice(leads) + " " if rng.random() < 0.35 else ""
    return lead + " ".join(facts)


# ---------------------------------------------------------------------------------------
# general: mixed domain (emails, recipes, sports, travel, science)
# ---------------------------------------------------------------------------------------

_EMAILS = _opts(
    "Hi {name}, thank you for sending the {doc} on {day}. I have a few small comments and will send them by {day2}. "
    "Could we also find half an hour next week to review the {project} timeline? Best regards, {sender} | "
    "Dear {name}, I am writing to confirm our {meeting} on {day} at {time} in {room}. Please bring the latest {doc}. "
    "Kind regards, {sender}, {company} | "
    "Hello team, a quick reminder that the {project} deadline has moved to {day}. Please update your tasks and flag "
    "any blockers by {time} today. Thanks, {sender} | "
    "Hi {name}, the invoice for {month} is attached. The total is {amount} dollars, payable within {k} days. Let me "
    "know if anything needs to change. Thanks, {sender} | "
    "Dear {name}, unfortunately I need to move our {meeting} from {day} to {day2}. Apologies for the short notice. "
    "Does {time} still work for you? Best, {sender} | "
    "Hi {name}, good news: the client approved the {doc} for the {project}. Thank you for all the extra effort. The "
    "next step is {next_step}. Cheers, {sender} | "
    "Hello {name}, welcome to {company}! Your first day is {day}, and your laptop will be ready at the front desk at "
    "{time}. {sender} will show you around. | "
    "Hi {name}, could you share the {month} sales figures before {day}? I would like to include them in the {doc} "
    "for the board. Thanks in advance, {sender} | "
    "Dear {name}, thank you for your order of {qty} {product}. It will ship on {day} and should arrive within {ship} "
    "business days. Best wishes, the {company} customer team | "
    "Hi all, the office will be closed on {day} for {reason}. Urgent requests can go to {name} as usual. Thanks, "
    "{sender} | "
    "Dear {name}, following our call, I have updated the {doc} and shared it with the {project} group. Please review "
    "section {k} before {day}. Regards, {sender}")

_EMAIL_SLOTS = {
    "doc": _opts("quarterly report | project proposal | budget draft | design mockups | contract draft | "
                 "meeting notes | slide deck | market study | hiring plan"),
    "meeting": _opts("weekly check-in | budget review | kickoff meeting | planning session | one-to-one | "
                     "supplier call"),
    "time": _opts("9:30 am | 10 am | 11 am | 1:30 pm | 2 pm | 3:15 pm | 4 pm"),
    "room": _opts("meeting room 2 | the main boardroom | the third-floor lounge | room B14 | the library"),
    "project": _opts("website redesign | warehouse move | spring campaign | mobile app launch | supplier audit | "
                     "office refit | customer survey"),
    "company": _opts("Bluestone Analytics | Harbor Lane Design | Maple and Finch Logistics | Corvid Software | "
                     "Greenway Foods | Tallis Engineering"),
    "month": tuple(m[0] for m in MONTHS),
    "amount": _opts("480 | 1,250 | 2,900 | 3,475 | 760 | 12,300"), "k": _opts("3 | 5 | 7 | 10 | 14 | 30"),
    "next_step": _opts("a short call with their finance team | ordering the materials | "
                       "scheduling the first workshop | signing the final contract | a site visit next month"),
    "qty": _opts("two | three | four | six | ten"), "ship": _opts("two | three | five | seven"),
    "product": _opts("ceramic mugs | desk lamps | notebooks | garden chairs | water filters | wool blankets"),
    "reason": _opts("maintenance work on the heating system | the company offsite | a public holiday | "
                    "the office move"),
}

# dish, ingredients, steps, minutes
_RECIPES = [
    ("tomato soup", _opts("olive oil | an onion | two cloves of garlic | a tin of tomatoes | vegetable stock"),
     _opts("soften the onion and garlic in the oil | add the tomatoes and stock | simmer gently | "
           "blend until smooth"), 25),
    ("pancakes", _opts("a cup of flour | an egg | a cup of milk | a pinch of salt | butter for the pan"),
     _opts("whisk the flour, egg, milk and salt into a smooth batter | heat a little butter in a pan | "
           "pour in a ladle of batter | flip when bubbles appear"), 15),
    ("vegetable stir-fry", _opts("peppers | broccoli | carrots | soy sauce | ginger | cooked noodles"),
     _opts("slice the vegetables thinly | fry them quickly in a very hot pan | add ginger and soy sauce | "
           "toss with the noodles"), 12),
    ("lemon pasta", _opts("spaghetti | a lemon | butter | grated parmesan | black pepper"),
     _opts("boil the spaghetti | melt the butter with lemon zest and juice | toss the pasta in the sauce | "
           "finish with parmesan and pepper"), 15),
    ("banana bread", _opts("three ripe bananas | melted butter | sugar | an egg | flour | baking soda"),
     _opts("mash the bananas | stir in the butter, sugar and egg | fold in the flour and baking soda | "
           "bake in a loaf tin"), 60),
    ("lentil curry", _opts("red lentils | an onion | curry paste | coconut milk | spinach"),
     _opts("fry the onion with the curry paste | add the lentils and coconut milk | "
           "simmer until the lentils are soft | stir in the spinach"), 30),
    ("omelette", _opts("three eggs | a knob of butter | grated cheese | chopped chives"),
     _opts("beat the eggs with a pinch of salt | melt the butter in a pan | pour in the eggs and stir gently | "
           "add the cheese and fold"), 8),
    ("roast vegetables", _opts("potatoes | carrots | red onions | olive oil | rosemary"),
     _opts("cut everything into chunks | toss with oil and rosemary | spread on a tray | "
           "roast until golden, turning once"), 45),
    ("fruit salad", _opts("strawberries | a mango | two kiwis | a handful of grapes | a squeeze of lime"),
     _opts("hull and halve the strawberries | peel and dice the mango and kiwis | mix with the grapes | "
           "add the lime juice just before serving"), 10),
    ("porridge", _opts("rolled oats | milk | a pinch of salt | honey | sliced banana"),
     _opts("bring the oats, milk and salt to a simmer | stir for a few minutes until thick | "
           "top with honey and banana"), 10),
    ("egg fried rice", _opts("cold cooked rice | two eggs | frozen peas | spring onions | soy sauce"),
     _opts("scramble the eggs in a hot wok and set them aside | fry the rice and peas | "
           "return the eggs with the spring onions | season with soy sauce"), 15),
    ("hummus", _opts("a tin of chickpeas | tahini | a lemon | a clove of garlic | olive oil"),
     _opts("drain the chickpeas | blend them with the tahini, lemon juice and garlic | loosen with a little water | "
           "finish with a drizzle of olive oil"), 10),
    ("guacamole", _opts("two ripe avocados | a lime | half a red onion | fresh coriander | salt"),
     _opts("mash the avocados | stir in the lime juice and finely chopped onion | add the coriander | "
           "season with salt to taste"), 10),
    ("chicken noodle soup", _opts("chicken stock | a cooked chicken breast | egg noodles | carrots | celery"),
     _opts("simmer the sliced carrots and celery in the stock | add the noodles | stir in the shredded chicken | "
           "cook until the noodles are tender"), 25),
]
_RECIPE_FRAMES = _opts(
    "Recipe: {Dish}. You need {ingredients}. Method: {steps}. Ready in about {minutes} minutes. | "
    "How to make {dish} for {people}: {steps}. It takes roughly {minutes} minutes from start to finish. | "
    "{Dish}, serves {people}. Ingredients: {ingredients}. First {steps}. | "
    "Quick {dish}: gather {ingredients}, then {steps}. Allow {minutes} minutes. | "
    "For an easy {dish}, {steps}. {tip} | "
    "Weeknight {dish} for {people}: {steps}. Total time about {minutes} minutes. {tip} | "
    "My favorite {dish}: start with {ingredients}; {steps}. {tip}")
_RECIPE_TIPS = _opts("It keeps in the fridge for two days. | Taste and season before serving. | "
                     "Children can help with the mixing. | Leftovers make a good lunch the next day.")


def _recipe(rng: random.Random) -> str:
    dish, ingredients, steps, minutes = rng.choice(_RECIPES)
    return _fill(rng, rng.choice(_RECIPE_FRAMES), {
        "dish": dish, "Dish": _cap(dish), "ingredients": _join(ingredients),
        "steps": ", ".join(steps[:-1]) + " and " + steps[-1], "minutes": minutes,
        "people": _opts("two | four | two people | four people | a family of four"), "tip": _RECIPE_TIPS})


_TOWNS_SPORT = _opts("Riverton | Ashford | Millbrook | Eastvale | Northgate | Clayport | Westmere | Stonebridge | "
                     "Harwick | Larkfield | Oakham Vale | Pinecrest")
_MASCOTS = _opts("Hawks | Rovers | Falcons | Wolves | Pirates | Comets | Bears | Lions | Royals | Foxes")
_SURNAMES = _opts("Okafor | Lindqvist | Moreau | Tanaka | Alvarez | Brennan | Kowalski | Haddad | Novak | Osei | "
                  "Fischer | Duarte | Rahman | Whitlock")


def _sports(rng: random.Random) -> str:
    a, b = [f"{t} {m}" for t, m in zip(rng.sample(_TOWNS_SPORT, 2), rng.sample(_MASCOTS, 2))]
    player = f"{rng.choice(FIRST_NAMES)} {rng.choice(_SURNAMES)}"
    day = rng.choice(WEEKDAYS)
    sport = rng.choice(("football", "basketball", "tennis", "baseball", "marathon"))
    if sport == "football":
        x = rng.randint(1, 4)
        y = rng.randint(0, x - 1)
        minute = rng.randint(5, 89)
        return rng.choice((
            f"{a} beat {b} {x}-{y} on {day}, with {player} scoring the decisive goal in the {_nth(minute)} minute.",
            f"Match report: {a} {x}, {b} {y}. {player} opened the scoring after {minute} minutes and the home crowd "
            f"celebrated a deserved win.",
            f"{b} lost {y}-{x} away to {a} on {day}. Their coach said the team had started slowly and would "
            f"work on defending set pieces."))
    if sport == "basketball":
        w = rng.randint(88, 124)
        loser = w - rng.randint(2, 19)
        pts = rng.randint(18, 41)
        return rng.choice((
            f"{a} defeated {b} {w}-{loser} on {day} night. {player} led all scorers with {pts} points and added "
            f"{rng.randint(4, 14)} rebounds.",
            f"Basketball: {player} scored {pts} points as {a} pulled away in the fourth quarter to beat {b} {w} to "
            f"{loser}."))
    if sport == "tennis":
        p2 = f"{rng.choice(FIRST_NAMES)} {rng.choice(_SURNAMES)}"
        sets = [rng.choice(("6-1", "6-2", "6-3", "6-4", "7-5", "7-6")) for _ in range(2)]
        if rng.random() < 0.5:
            sets.insert(1, rng.choice(("4-6", "3-6", "5-7", "6-7")))
        stage = rng.choice(("first round", "quarterfinal", "semifinal", "final"))
        event = f"the {stage} of the {rng.choice(_TOWNS_SPORT)} Open"
        how = "after losing the second set" if len(sets) == 3 else "without dropping a set"
        return f"Tennis: {player} defeated {p2} {', '.join(sets)} in {event} on {day}, {how}."
    if sport == "baseball":
        x = rng.randint(2, 9)
        y = rng.randint(0, x - 1)
        return rng.choice((
            f"{a} {'edged' if x - y == 1 else 'beat'} {b} {x}-{y} on {day}, with {player} driving in "
            f"{min(x, rng.randint(1, 4))} of the runs.",
            f"Baseball: {b} managed only {_words(y)} run{'s' if y != 1 else ''} as {a} won {x}-{y} behind a strong "
            f"start from pitcher {player}."))
    hours, mins = rng.choice((2, 2, 3)), rng.randint(5, 58)
    return (f"{player} won the {rng.choice(_TOWNS_SPORT)} Marathon on {day} in {hours} hours and {mins} minutes, "
            f"pulling clear of the leading group in the final {rng.randint(3, 8)} kilometers.")


# city, sights, food, transport
_CITIES = [
    ("Paris", _opts("the Eiffel Tower | the Louvre | Montmartre | the banks of the Seine"),
     _opts("croissants | crepes"), "metro"),
    ("Rome", _opts("the Colosseum | the Pantheon | the Trevi Fountain | the Roman Forum"),
     _opts("carbonara | gelato"), "bus"),
    ("London", _opts("the British Museum | Tower Bridge | Hyde Park | the Tower of London"),
     _opts("fish and chips | a cream tea"), "Underground"),
    ("Kyoto", _opts("the Fushimi Inari shrine | the Golden Pavilion | the Arashiyama bamboo grove"),
     _opts("matcha sweets | tofu dishes"), "city bus"),
    ("Barcelona", _opts("the Sagrada Familia | Park Guell | La Rambla | the Gothic Quarter"), _opts("tapas | paella"),
     "metro"),
    ("Lisbon", _opts("Belem Tower | the Alfama district | the Jeronimos Monastery"),
     _opts("custard tarts | grilled sardines"), "tram"),
    ("Prague", _opts("the Charles Bridge | Prague Castle | the Old Town Square | the astronomical clock"),
     _opts("goulash | dumplings"), "tram"),
    ("Amsterdam", _opts("the canals | the Rijksmuseum | the Anne Frank House | the Vondelpark"),
     _opts("stroopwafels | apple pie"), "bike"),
    ("New York", _opts("Central Park | the Metropolitan Museum of Art | the Brooklyn Bridge | the High Line"),
     _opts("bagels | pizza slices"), "subway"),
    ("Istanbul", _opts("the Hagia Sophia | the Grand Bazaar | the Blue Mosque | the Bosphorus"),
     _opts("simit | kebabs"), "ferry"),
    ("Edinburgh", _opts("Edinburgh Castle | the Royal Mile | Arthur's Seat"), _opts("shortbread | porridge"), "bus"),
    ("Athens", _opts("the Acropolis | the Parthenon | the Plaka district | the Ancient Agora"),
     _opts("souvlaki | Greek salad"), "metro"),
    ("Sydney", _opts("the Opera House | the Harbour Bridge | Bondi Beach"), _opts("fresh seafood | meat pies"),
     "ferry"),
    ("Vienna", _opts("Schonbrunn Palace | St. Stephen's Cathedral | the Belvedere"), _opts("Sachertorte | schnitzel"),
     "tram"),
]
_TRAVEL_FRAMES = _opts(
    "Travel note, day {n} in {city}: we spent the morning at {s1} and walked to {s2} after lunch. The {food} was the "
    "highlight. Tip: {tip}. | "
    "{City} diary: {weather}, so we started early at {s1}. Later we took the {transport} to {s2} and finished with "
    "{food}. | Day {n}: {city} was {mood}. {S1} was busy, but {s2} felt calm in the evening light. {tip_cap}. | "
    "Notes from {city}: buy a day pass for the {transport}, see {s1} before ten, and leave room for {food}. {S2} is "
    "worth a second visit. | "
    "Our last day in {city} began with a slow walk past {s1}. {bad_weather}, so we skipped {s2} and ended the trip "
    "with {food} instead.")


def _travel(rng: random.Random) -> str:
    city, sights, foods, transport = rng.choice(_CITIES)
    s1, s2 = rng.sample(sights, 2)
    weather = rng.choice(_opts("the sky was clear | it rained on and off | it was hot by noon | "
                               "a cold wind was blowing"))
    tip = rng.choice(_opts("book tickets online the night before | wear comfortable shoes | "
                           "arrive early to avoid the queues | carry a refillable water bottle | "
                           "keep some cash for small cafes"))
    return _fill(rng, rng.choice(_TRAVEL_FRAMES), {
        "city": city, "City": city, "s1": s1, "s2": s2, "S1": _cap(s1), "S2": _cap(s2), "food": rng.choice(foods),
        "transport": transport, "n": rng.randint(1, 9), "weather": weather, "weather_cap": _cap(weather), "tip": tip,
        "tip_cap": _cap(tip),
        "bad_weather": _opts("It started to pour | The wind was bitter | It was far too hot by noon"),
        "mood": _opts("busier than expected | full of surprises | easy to explore on foot | lovely")})


# topic, question, explanation
_SCIENCE = _rows("""
why the sky is blue | Why is the sky blue? | Air molecules scatter short blue wavelengths of sunlight much more than
    red ones, so blue light reaches our eyes from every part of the sky.
red sunsets | Why are sunsets red? | Near sunset, light crosses much more air, most of the blue is scattered away and
    the remaining light looks orange and red.
floating ice | Why does ice float? | Water expands as it freezes, so ice is less dense than liquid water and floats on
    top of it.
the seasons | What causes the seasons? | Earth's axis is tilted by about 23.5 degrees, so each hemisphere gets more
    direct sunlight for part of the year; the seasons come from this tilt, not from the distance to the Sun.
tides | What causes tides? | The Moon's gravity pulls on the oceans and raises bulges of water that Earth rotates
    through, which gives most coasts two high tides a day.
photosynthesis | How do plants make food? | Plants use the energy of light to turn carbon dioxide and water into
    sugar, releasing oxygen as a by-product.
rainbows | How does a rainbow form? | Raindrops bend and reflect sunlight, and because each color bends by a slightly
    different amount, white light spreads into a band of colors.
magnets | How do magnets behave? | Every magnet has a north and a south pole; opposite poles attract each other and
    like poles push each other away.
friction | What is friction? | Friction is a force that resists sliding between two surfaces, and it turns some motion
    into heat, which is why rubbing your hands warms them.
sound | How does sound travel? | Sound is a vibration passed through a material such as air or water, which is why
    there is no sound in the vacuum of space.
sweating | Why do we sweat? | When sweat evaporates from the skin it carries heat away, which cools the body down.
the phases of the Moon | Why does the Moon have phases? | The Moon makes no light of its own; we see the part lit by
    the Sun, and that part changes as the Moon orbits Earth.
falling objects | Do heavy objects fall faster? | Without air resistance, a heavy ball and a light ball dropped
    together land at the same time, because gravity accelerates all objects equally.
DNA | What does DNA do? | DNA carries the instructions a living thing uses to grow and function, written in a code of
    four chemical bases.
vaccines | How do vaccines work? | A vaccine trains the immune system to recognize a germ, so the body can respond
    quickly if it meets the real germ later.
batteries | How does a battery work? | A battery stores energy in chemical form and releases it as an electric current
    when a circuit connects its two terminals.
conductors | Why do metals conduct electricity? | In metals some electrons are free to move through the material, so
    an electric current can flow easily.
the greenhouse effect | What is the greenhouse effect? | Gases such as carbon dioxide absorb heat given off by Earth's
    surface and send part of it back down, keeping the planet warmer than it would otherwise be.
plate tectonics | Why do earthquakes happen? | Earth's outer shell is broken into plates that move a few centimeters a
    year, and where they grind past each other the built-up strain is released as earthquakes.
melting | What happens when a solid melts? | Heating a solid gives its particles more energy, and at the melting point
    they break free of their fixed positions and the solid becomes a liquid.
the speed of light | How fast is light? | Light travels about 300,000 kilometers per second, so sunlight takes a
    little over eight minutes to reach Earth.
solar eclipses | What is a solar eclipse? | A solar eclipse happens when the Moon passes between the Sun and Earth and
    casts its shadow on part of Earth.
antibiotics | What do antibiotics treat? | Antibiotics kill bacteria or stop them from growing, but they do not work
    against viruses such as those that cause colds.
levers | How does a lever help? | A lever lets a small force move a heavy load when the force is applied farther from
    the pivot than the load is.
condensation | Why does a cold glass get wet outside? | Air touching the cold glass cools down and cannot hold as much
    water vapor, so the vapor condenses into droplets.
twinkling stars | Why do stars twinkle? | Moving layers of air bend starlight slightly in changing directions, which
    makes the point of light seem to flicker.
road salt | Why is salt spread on icy roads? | Salt lowers the freezing point of water, so ice melts even when the air
    is a little below zero degrees Celsius.
cells | What are living things made of? | All living things are made of cells, and many bacteria consist of just a
    single cell.
evaporation | Why do puddles disappear? | Water molecules at the surface gain enough energy to escape into the air as
    vapor, so a puddle slowly evaporates.
""")
_SCIENCE_FRAMES = _opts(
    "{question} {expl} | Science note on {topic}: {expl} | {question} In simple terms: {expl} | "
    "A short explanation of {topic}. {expl} | Students often ask: {question} The answer: {expl} | "
    "Explaining {topic} in one breath: {expl}")
_SCIENCE_EXTRAS = _opts("You can see this for yourself with a simple experiment at home. | "
                        "Teachers often demonstrate this with everyday objects. | "
                        "The same idea explains several other things we see every day. | "
                        "Scientists have measured this carefully for more than a century.")


def _science(rng: random.Random) -> str:
    topic, question, expl = rng.choice(_SCIENCE)
    line = rng.choice(_SCIENCE_FRAMES).format(topic=topic, question=question, expl=expl)
    return line + (" " + rng.choice(_SCIENCE_EXTRAS) if rng.random() < 0.4 else "")


def _email(rng: random.Random) -> str:
    day, day2 = rng.sample(WEEKDAYS[:5], 2)
    name, sender = rng.sample(FIRST_NAMES, 2)
    return _fill(rng, rng.choice(_EMAILS), _EMAIL_SLOTS | {"day": day, "day2": day2, "name": name, "sender": sender})


def mixed_domain_line(rng: random.Random) -> str:
    """A business e-mail, recipe, sports summary, travel note or science explanation."""
    return rng.choice((_email, _recipe, _sports, _travel, _science))(rng)


# ---------------------------------------------------------------------------------------
# general: wikitext (encyclopedia-style prose about fictional places and people)
# ---------------------------------------------------------------------------------------

# fictional countries and their adjectives
_NATIONS = _rows("""
Aurenland | Aurenlandic
Kalvenia | Kalvenian
Vellmark | Vellmarkish
Sundria | Sundrian
Estmoor | Estmoorish
Terravale | Terravalian
Norrhaven | Norrhavenish
Dravonia | Dravonian
""")
_PREFIXES = _opts("Ash | Bel | Bram | Cal | Dun | Elder | Fen | Gal | Hart | Ivel | Kel | Lang | Mor | Nor | Orm | "
                  "Pel | Quen | Rav | Sel | Tarn | Ulver | Vel | Wen | Yar | Corr | Hollin")
_SUFFIXES = _opts("ford | bury | wick | ton | mere | stead | holm | by | dale | field | more | haven | bridge | wold")
_RIVER_ROOTS = _opts("Orl | Vess | Tarr | Keld | Brann | Sulv | Mald | Ern | Lyss | Cadd | Wyth | Ostr | Fenn | Ardw")
_RIVER_ENDS = _opts("en | a | ow | ey | ith | ane | ock")
_DIRECTIONS = _opts("north | south | east | west | north-east | south-west | north-west | south-east")
_REGION_KINDS = _opts("province | district | region | county")


def _town(rng: random.Random) -> str:
    return rng.choice(_PREFIXES) + rng.choice(_SUFFIXES)


def _river(rng: random.Random) -> str:
    return rng.choice(_RIVER_ROOTS) + rng.choice(_RIVER_ENDS)


def _entity(kind: str, name: str) -> random.Random:
    """The fixed facts of one fictional entity come from its own stream, so every line that
    mentions, say, the river Orlen agrees on where it flows and how long it is."""
    return random.Random(zlib.crc32(f"{kind}:{name}".encode("ascii")))


def _place(rng: random.Random) -> str:
    """'the northern district of Fenmere in Aurenland'."""
    side = rng.choice(_opts("northern | southern | eastern | western | central"))
    return f"the {side} {rng.choice(_REGION_KINDS)} of {_town(rng)} in {rng.choice(_NATIONS)[0]}"


def _wiki_river(rng: random.Random) -> str:
    river = _river(rng)
    e = _entity("river", river)
    place, source, mouth, direction = _place(e), _town(e), _town(e), e.choice(_DIRECTIONS)
    other = next(r for r in iter(lambda: _river(e), None) if r != river)
    length, year = e.randint(18, 340), rng.randint(1420, 1960)
    t2, t3 = _town(rng), _town(rng)
    history = rng.choice((
        f"The river was used to float timber down to {t2} until the early {_nth(year // 100 + 1)} century.",
        f"The river was first bridged at {t2} in {year}, and the stone bridge still stands.",
        f"The river was canalised between {t2} and {t3} in {year} to carry coal and grain.",
        f"The river flooded severely in {year}, destroying much of the old quarter of {t2}.", ""))
    extra = rng.choice(_opts("Otters and kingfishers are found along its upper reaches. | "
                             "Its lower course is navigable by small boats. | "
                             "Several water mills once stood on its banks. | "
                             "A long-distance footpath follows the valley for most of its length. | "
                             "The valley is known for its orchards and vineyards. | "))
    course = rng.choice((
        f"It rises in the hills near {source} and flows {direction} for about {length} kilometres before joining the "
        f"{other} at {mouth}.",
        f"From its source near {source} it runs {direction} for some {length} kilometres and enters the {other} at "
        f"{mouth}.",
        f"The river is about {length} kilometres long and is a tributary of the {other}."))
    return " ".join(filter(None, (f"The {river} is a river in {place}.", course, history, extra)))


def _wiki_town(rng: random.Random) -> str:
    town = _town(rng)
    e = _entity("town", town)
    kind = e.choice(_opts("market town | small town | port town | former mining town | spa town | village"))
    place, river, city = _place(e), _river(e), _town(e)
    distance, direction = e.randint(6, 90), e.choice(_DIRECTIONS)
    census, population = e.choice((2001, 2011, 2021)), e.randint(900, 48000)
    origin = e.choice(_opts("a monastery | a ford | a castle | a river crossing | a trading post | a royal manor"))
    founded = e.randint(900, 1650)
    charter = founded + e.randint(40, 250)
    industry = e.choice(_opts("wool and cloth | fishing | coal mining | brewing | paper making | salt trading | "
                              "clock making | pottery"))
    facts = [f"It lies on the river {river}, about {distance} kilometres {direction} of {city}.",
             f"At the {census} census it had a population of {_num(population)}.",
             f"The settlement grew up around {origin} in about {founded} and received a town charter in {charter}.",
             f"Its economy was long based on {industry}."]
    kept = sorted(rng.sample(range(len(facts)), rng.randint(2, 4)))
    landmark = rng.choice((f"Its parish church dates from the {_nth(charter // 100 + 1)} century.",
                           f"The town hall, completed in {charter + e.randint(30, 200)}, overlooks the market square.",
                           "A weekly market is still held in the main square.", ""))
    return " ".join(filter(None, [f"{town} is {_a(kind)} in {place}."] + [facts[i] for i in kept] + [landmark]))


_PROFESSIONS = _rows("""
painter | landscapes of the {river} valley | his | art at the academy in {city}
painter | portraits of rural families | her | painting in {city}
composer | three symphonies and a large body of choral music | his | music at the conservatory of {city}
composer | her string quartets and songs for children | her | the organ in {city}
engineer | the railway viaduct over the {river} | his | engineering in {city}
botanist | a survey of the wild flowers of the coastal marshes | her | natural history in {city}
novelist | the novel The {adj} {noun} | his | law in {city}
poet | a collection of poems about the sea | her | languages in {city}
architect | the town hall of {town} and several bridges | his | architecture in {city}
astronomer | a catalogue of variable stars | her | mathematics in {city}
historian | a history of the river trade of {nation} | his | history in {city}
mathematician | work on the geometry of curved surfaces | her | mathematics in {city}
""")
_SURNAME_ENDS = _opts("ley | son | ard | er | ing | holt | strom | an")
_GIVEN_NAMES = {"his": _opts("Edvard | Matthias | Tomas | Anselm | Henrik | Oskar | Felix | Leopold"),
                "her": _opts("Ilse | Marta | Clara | Agnes | Sofia | Helena | Liv | Margit")}


def _wiki_person(rng: random.Random) -> str:
    pron = rng.choice(("his", "her"))
    given, surname = rng.choice(_GIVEN_NAMES[pron]), rng.choice(_PREFIXES) + rng.choice(_SURNAME_ENDS)
    name = f"{given} {surname}"
    e = _entity("person", name)
    nation, adj = e.choice(_NATIONS)
    prof, work_t, _, study_t = e.choice([row for row in _PROFESSIONS if row[2] == pron])
    slots = {"river": _river(e), "city": _town(e), "town": _town(e), "nation": nation,
             "adj": e.choice(_opts("Silent | Winter | Broken | Golden | Long | Narrow")),
             "noun": e.choice(_opts("Harbour | Orchard | Road | Lantern | Garden | Tide"))}
    born = e.randint(1700, 1930)
    died = min(born + e.randint(45, 92), 2019)
    birthplace, workplace = _town(e), _town(e)
    honour, married, children = born + e.randint(35, 44), born + e.randint(22, 35), e.randint(1, 5)
    he = "He" if pron == "his" else "She"
    later = rng.choice((f"{he} spent most of {pron} working life in {workplace}.",
                        f"{he} received the national order of merit in {honour}.",
                        f"{he} married in {married} and had {_words(children)} "
                        f"{'child' if children == 1 else 'children'}.",
                        f"{_cap(pron)} papers are kept in the national library of {nation}.", ""))
    return " ".join(filter(None, (
        f"{name} ({born}-{died}) was {_a(adj)} {prof} known for {work_t.format(**slots)}.",
        f"Born in {birthplace}, {he.lower()} studied {study_t.format(**slots)} before settling in {slots['town']}.",
        later, rng.choice((f"{he} died in {died}.", f"{he} died in {slots['town']} in {died}.", "")))))


def _wiki_landmark(rng: random.Random) -> str:
    kind, town = rng.choice(("castle", "lake", "mountain", "railway", "abbey", "newspaper")), _town(rng)
    if kind == "mountain":
        town = "Mount " + rng.choice(_PREFIXES) + rng.choice(("horn", "peak", "fell"))
    e = _entity(kind, town)
    place = _place(e)
    if kind == "castle":
        built = e.randint(1050, 1480)
        return (f"{town} Castle is a ruined castle near the town of {town} in {place}. It was built in the "
                f"{_nth(built // 100 + 1)} century and was besieged in {built + e.randint(20, 200)}. "
                + rng.choice(("The ruins are a protected monument and are open to visitors in summer.",
                              "Only the gatehouse and part of the keep survive.", "")))
    if kind == "lake":
        return (f"Lake {town} is a freshwater lake in {place}. "
                f"It covers about {e.randint(2, 140)} square kilometres and reaches a depth of {e.randint(12, 190)} "
                f"metres. The lake is fed by the {_river(e)} and "
                + rng.choice(("is popular with anglers and sailors.", "freezes over in most winters.",
                              "is an important stop for migrating birds.")))
    if kind == "mountain":
        return (f"{town} is a mountain in {place}, rising to {_num(e.randint(900, 4200))} metres above sea level. "
                f"It was first climbed in {e.randint(1790, 1935)}, and "
                + rng.choice((f"a marked trail now leads to the summit from {_town(e)}.",
                              "its north face is still rarely climbed.",
                              "a small hut below the summit offers shelter to walkers.")))
    if kind == "railway":
        opened = e.randint(1840, 1910)
        return (f"The {town} and {_town(e)} Railway is a {e.randint(9, 120)}-kilometre railway line in {place}. "
                f"It opened in {opened} to carry "
                f"{e.choice(_opts('slate | timber | grain | passengers and mail | coal'))}. "
                + rng.choice((f"Passenger services ended in {opened + e.randint(40, 100)}, but part of the line is "
                              f"run by volunteers.",
                              "Several of its original stations survive.", "")))
    if kind == "abbey":
        founded = e.randint(1050, 1400)
        return (f"{town} Abbey is a former monastery in {place}. It was founded in {founded} and dissolved in "
                f"{founded + e.randint(150, 400)}. "
                + rng.choice(("The surviving church is still used for services and concerts.",
                              "Its library was moved to the cathedral in the same year.", "")))
    start = e.randint(1780, 1950)
    return (f"The {town} Gazette was a weekly newspaper published in {town}, in {place}, from {start} to "
            f"{start + e.randint(12, 70)}. "
            + rng.choice(("It reported on local politics, farming and the river trade.",
                          "Its complete archive survives in the town library.", "")))


def wikitext_line(rng: random.Random) -> str:
    """An encyclopedia-style paragraph about a fictional river, town, person or landmark."""
    return rng.choice((_wiki_river, _wiki_town, _wiki_person, _wiki_landmark))(rng)


# ---------------------------------------------------------------------------------------
# tasks: sentiment (positive and negative reviews over the same subjects)
# ---------------------------------------------------------------------------------------

_PRODUCTS = _rows("""
blender | blenders | on the kitchen counter
coffee maker | coffee makers | on the kitchen counter
air fryer | air fryers | in my kitchen
electric kettle | electric kettles | in my kitchen
toaster | toasters | on the kitchen counter
hiking backpack | hiking backpacks | on the trail
rain jacket | rain jackets | on rainy walks
desk lamp | desk lamps | on my desk
office chair | office chairs | in my study
robot vacuum | robot vacuums | in the living room
bluetooth speaker | bluetooth speakers | in the living room
smart watch | smart watches | on my wrist
e-reader | e-readers | in my hands
suitcase | suitcases | at the airport
yoga mat | yoga mats | in the gym
""")
_RESTAURANTS = _rows("""
Luna Trattoria | the mushroom risotto | the tiramisu
The Copper Pot | the braised short rib | the apple crumble
Saffron House | the lamb curry | the mango lassi
Blue Harbor Grill | the grilled sea bass | the fish tacos
Casa Verde | the enchiladas | the churros
The Little Dumpling | the pork dumplings | the hot and sour soup
Maple Street Diner | the blueberry pancakes | the cheeseburger
Golden Noodle Bar | the spicy ramen | the crispy gyoza
Olive and Thyme | the mezze platter | the baklava
""")
_FILMS = _rows("""
The Silent Harbor | thriller
Midnight Orchard | drama
Paper Lanterns | animated film
The Last Cartographer | adventure film
Iron Meadow | science fiction film
Echoes of Winter | documentary
The Glass Bridge | mystery
Saltwater Kings | comedy
A Map of Small Things | romantic comedy
""")
_HOTELS = _opts("the Harborview Hotel | the Grand Alder | Pinecrest Lodge | the Seaside Inn | Hotel Mirabel | "
                "the Cedar House | the Old Mill Hotel | the Lakeside Retreat")
_BOOKS = _rows("""
The Glass Orchard | novel
River of Lanterns | fantasy novel
Salt and Starlight | memoir
The Winter Keeper | mystery
Notes from a Small Kitchen | cookbook
The Long Road North | travel book
A History of Quiet Towns | history book
The Lighthouse Accounts | novel
""")

# kind -> (noun plural, 'ever ...' verb, aspect pairs (positive, negative))
_REVIEW_ASPECTS = {
    "product": ("{plural}", "bought", [
        ("It feels solid and well made.", "It feels flimsy and cheaply made."),
        ("Setup took less than five minutes.", "Setup took over an hour and the instructions were useless."),
        ("It does exactly what the description promised.", "It does almost nothing the description promised."),
        ("For the price, the quality is outstanding.", "For the price, the quality is shocking."),
        ("Delivery was quick and the packaging was neat.", "Delivery was late and the box arrived crushed."),
        ("The design is sleek and looks great {place}.", "The design is clunky and looks cheap {place}."),
        ("Customer support answered my question within an hour.", "Customer support never answered my emails."),
        ("It is so easy to use that my kids figured it out right away.",
         "It is so confusing that I gave up on half the features."),
        ("After three months of daily use it still works like new.",
         "After three weeks of light use it already stopped working."),
    ]),
    "restaurant": ("restaurants", "eaten at", [
        ("{dish1} was perfectly cooked and full of flavor.", "{dish1} was bland and arrived lukewarm."),
        ("Our server was warm, attentive and quick with recommendations.",
         "Our server was rude and forgot half of our order."),
        ("The dining room is cozy and beautifully lit.", "The dining room was cramped, noisy and far too dark."),
        ("The prices are fair for such generous portions.", "The prices are outrageous for such tiny portions."),
        ("We were seated right away even on a busy Friday.",
         "We waited forty minutes for a table despite our booking."),
        ("{dish2} was the best I have had in years.", "{dish2} tasted stale and was clearly not made fresh."),
        ("Everything on the table was fresh and carefully presented.",
         "The table was sticky and the cutlery was dirty."),
    ]),
    "film": ("films", "seen", [
        ("The lead actor gives a moving, completely believable performance.",
         "The lead actor looks bored and delivers every line flatly."),
        ("The plot is clever and kept me guessing until the end.", "The plot is predictable and full of holes."),
        ("The soundtrack is gorgeous and fits every scene.", "The soundtrack is loud, generic and distracting."),
        ("Every shot looks like a painting.", "The camera work is shaky and the scenes are badly lit."),
        ("The pacing is perfect and the two hours flew by.",
         "The pacing is painfully slow and the two hours dragged on."),
        ("The ending is surprising and deeply satisfying.", "The ending is rushed and makes no sense."),
        ("The dialogue is sharp and often very funny.", "The dialogue is clumsy and often unintentionally funny."),
    ]),
    "hotel": ("hotels", "stayed at", [
        ("Our room was spotless, spacious and quiet.", "Our room was dirty, cramped and noisy."),
        ("The staff at the front desk were friendly and helpful.",
         "The staff at the front desk were unfriendly and unhelpful."),
        ("Breakfast had a wonderful choice of fresh food.",
         "Breakfast was a sad tray of stale pastries and cold eggs."),
        ("The location is ideal, right next to the old town.",
         "The location is awkward, a long bus ride from everything."),
        ("The bed was so comfortable that I slept like a baby.", "The bed was so lumpy that I hardly slept at all."),
        ("The view from our balcony was breathtaking.", "The view from our window was a wall and a row of bins."),
        ("Check-in took two minutes and our room was ready early.",
         "Check-in took an hour and our room was still not ready."),
    ]),
    "book": ("books", "read", [
        ("The writing is elegant and a pleasure to read.", "The writing is clumsy and a chore to read."),
        ("The characters feel real and I cared about every one of them.",
         "The characters are flat and I did not care about any of them."),
        ("The story moves at a perfect pace.", "The story crawls along and goes nowhere."),
        ("The ending is beautiful and stayed with me for days.", "The ending is lazy and left me annoyed."),
        ("It is clearly well researched and full of fascinating detail.",
         "It is full of errors and padded with pointless detail."),
        ("Every chapter left me wanting to read the next one.", "Every chapter felt longer than the one before."),
    ]),
}
_OPENERS = {
    "positive": _opts(
        "I loved {ref}! | Absolutely wonderful {what}. | What a delight {ref} turned out to be. | "
        "{Ref} exceeded every expectation I had. | I am thrilled with {ref}. | Five stars for {ref}. | "
        "{Ref} is a real gem. | I cannot say enough good things about {ref}. | "
        "Honestly, {ref} is one of the best {plural} I have ever {verb}. | Wow, {ref} blew me away. | "
        "I was so impressed by {ref}."),
    "negative": _opts(
        "I really wanted to like {ref}, but it was a letdown. | Absolutely dreadful {what}. | "
        "What a disappointment {ref} turned out to be. | {Ref} fell far short of every expectation I had. | "
        "I regret choosing {ref}. | One star for {ref}, and that is generous. | {Ref} is a real dud. | "
        "I cannot say one good thing about {ref}. | "
        "Honestly, {ref} is one of the worst {plural} I have ever {verb}. | Wow, {ref} was awful. | "
        "I was so let down by {ref}."),
}
_CLOSERS = {
    "positive": {
        "any": _opts("Highly recommended! | I would happily do it all again. | I have already told all my friends. | "
                     "Ten out of ten. | An easy five stars from me."),
        "product": _opts("Worth every penny. | I would buy it again in a heartbeat."),
        "restaurant": _opts("We will definitely be back. | Book a table, you will not regret it."),
        "film": _opts("I would happily watch it again tomorrow. | Go and see it on the big screen."),
        "hotel": _opts("We are already planning our next stay. | I would stay here again without hesitation."),
        "book": _opts("I could not put it down. | I finished it in one weekend and want more."),
    },
    "negative": {
        "any": _opts("Not recommended at all. | I would never do it again. | I have already warned all my friends. | "
                     "Zero out of ten. | One star is all it deserves."),
        "product": _opts("Save your money. | I returned it the next day."),
        "restaurant": _opts("We will not be going back. | Eat somewhere else, you will not regret it."),
        "film": _opts("I nearly walked out halfway through. | Wait until it is free, or skip it."),
        "hotel": _opts("We checked out a day early. | I would not stay here again if it were free."),
        "book": _opts("I gave up after three chapters. | I donated it to the charity shop the next day."),
    },
}


def _review_subject(rng: random.Random, kind: str) -> dict:
    """Slot values naming one subject of a review of the given kind."""
    if kind == "product":
        item, plural, place = rng.choice(_PRODUCTS)
        this = rng.choice(("this", "my new", "the"))
        return {"ref": f"{this} {item}", "what": item, "plural": plural, "place": place}
    if kind == "restaurant":
        name, dish1, dish2 = rng.choice(_RESTAURANTS)
        return {"ref": name, "what": f"dinner at {name}", "plural": "restaurants", "dish1": _cap(dish1),
                "dish2": _cap(dish2)}
    if kind == "film":
        title, genre = rng.choice(_FILMS)
        return {"ref": rng.choice((title, f"the {genre} {title}")), "what": genre, "plural": "films"}
    if kind == "hotel":
        name = rng.choice(_HOTELS)
        return {"ref": name, "what": f"stay at {name}", "plural": "hotels"}
    title, genre = rng.choice(_BOOKS)
    return {"ref": rng.choice((title, f"the {genre} {title}")), "what": genre, "plural": "books"}


def _review(rng: random.Random, polarity: str) -> str:
    kind = rng.choice(list(_REVIEW_ASPECTS))
    _, verb, aspects = _REVIEW_ASPECTS[kind]
    slots = _review_subject(rng, kind) | {"verb": verb}
    slots["Ref"] = _cap(slots["ref"])
    side = 0 if polarity == "positive" else 1
    chosen = rng.sample(aspects, rng.choice((1, 2, 2, 3)))
    closers = _CLOSERS[polarity]
    parts = [rng.choice(_OPENERS[polarity])] + [pair[side] for pair in chosen]
    if rng.random() < 0.8:
        parts.append(rng.choice(closers["any"] + closers[kind]))
    return " ".join(parts).format(**slots)


def sentiment_positive_line(rng: random.Random) -> str:
    """An enthusiastic review of a product, restaurant, film, hotel or book."""
    return _review(rng, "positive")


def sentiment_negative_line(rng: random.Random) -> str:
    """The negative counterpart: same kinds of subjects and aspects, opposite sentiment."""
    return _review(rng, "negative")


# ---------------------------------------------------------------------------------------
# tasks: qa_factual (correct facts from the tables, varied phrasings)
# ---------------------------------------------------------------------------------------

ELEMENTS = _rows("""
hydrogen | H | 1
helium | He | 2
lithium | Li | 3
carbon | C | 6
nitrogen | N | 7
oxygen | O | 8
fluorine | F | 9
neon | Ne | 10
sodium | Na | 11
magnesium | Mg | 12
aluminum | Al | 13
silicon | Si | 14
phosphorus | P | 15
sulfur | S | 16
chlorine | Cl | 17
argon | Ar | 18
potassium | K | 19
calcium | Ca | 20
titanium | Ti | 22
chromium | Cr | 24
iron | Fe | 26
nickel | Ni | 28
copper | Cu | 29
zinc | Zn | 30
silver | Ag | 47
tin | Sn | 50
iodine | I | 53
tungsten | W | 74
platinum | Pt | 78
gold | Au | 79
mercury | Hg | 80
lead | Pb | 82
uranium | U | 92
""")
PLANETS = _opts("Mercury | Venus | Earth | Mars | Jupiter | Saturn | Uranus | Neptune")
BOOKS = _rows("""
Pride and Prejudice | Jane Austen | novel
Emma | Jane Austen | novel
Nineteen Eighty-Four | George Orwell | novel
Animal Farm | George Orwell | novella
Hamlet | William Shakespeare | play
Romeo and Juliet | William Shakespeare | play
Macbeth | William Shakespeare | play
Moby-Dick | Herman Melville | novel
War and Peace | Leo Tolstoy | novel
Anna Karenina | Leo Tolstoy | novel
Crime and Punishment | Fyodor Dostoevsky | novel
The Great Gatsby | F. Scott Fitzgerald | novel
To Kill a Mockingbird | Harper Lee | novel
Don Quixote | Miguel de Cervantes | novel
Jane Eyre | Charlotte Bronte | novel
Wuthering Heights | Emily Bronte | novel
Great Expectations | Charles Dickens | novel
Oliver Twist | Charles Dickens | novel
A Tale of Two Cities | Charles Dickens | novel
Adventures of Huckleberry Finn | Mark Twain | novel
Frankenstein | Mary Shelley | novel
Dracula | Bram Stoker | novel
The Odyssey | Homer | epic poem
The Old Man and the Sea | Ernest Hemingway | novella
Brave New World | Aldous Huxley | novel
The Hobbit | J. R. R. Tolkien | novel
Alice's Adventures in Wonderland | Lewis Carroll | novel
Les Miserables | Victor Hugo | novel
Madame Bovary | Gustave Flaubert | novel
The Divine Comedy | Dante Alighieri | poem
Treasure Island | Robert Louis Stevenson | novel
Robinson Crusoe | Daniel Defoe | novel
Gulliver's Travels | Jonathan Swift | novel
Little Women | Louisa May Alcott | novel
The Picture of Dorian Gray | Oscar Wilde | novel
Of Mice and Men | John Steinbeck | novella
Fahrenheit 451 | Ray Bradbury | novel
The Time Machine | H. G. Wells | novella
Around the World in Eighty Days | Jules Verne | novel
One Hundred Years of Solitude | Gabriel Garcia Marquez | novel
""")
EVENTS = _rows("""
the first crewed Moon landing | 1969
the end of World War II | 1945
the start of World War II | 1939
the start of World War I | 1914
the end of World War I | 1918
the fall of the Berlin Wall | 1989
the adoption of the United States Declaration of Independence | 1776
the sinking of the Titanic | 1912
Columbus's first voyage to the Americas | 1492
the storming of the Bastille | 1789
the sealing of Magna Carta | 1215
the Battle of Hastings | 1066
the Wright brothers' first powered flight | 1903
the launch of Sputnik 1 | 1957
Yuri Gagarin's flight into space | 1961
the dissolution of the Soviet Union | 1991
the Great Fire of London | 1666
the completion of the Eiffel Tower | 1889
the Wall Street Crash | 1929
the end of the American Civil War | 1865
""")
PLANET_FACTS = _rows("""
Which planet is the largest in our solar system? | Jupiter is the largest planet in our solar system.
Which planet is known as the Red Planet? | Mars is known as the Red Planet.
Which planet is closest to the Sun? | Mercury is the planet closest to the Sun.
Which planet is the hottest in our solar system? | Venus is the hottest planet in our solar system.
Which planet is famous for its bright rings? | Saturn is famous for its rings.
Which planet has the Great Red Spot? | Jupiter has the Great Red Spot, a giant storm.
Which planet is the smallest in our solar system? | Mercury is the smallest planet in our solar system.
Which planet rotates tipped over on its side? | Uranus rotates on its side.
How many planets are in our solar system? | There are eight planets in our solar system.
What is the name of Earth's natural satellite? | Earth's natural satellite is the Moon.
What star is at the center of our solar system? | The Sun is at the center of our solar system.
""")
MISC_FACTS = _rows("""
How many continents are there? | There are seven continents.
What is the largest ocean on Earth? | The Pacific Ocean is the largest ocean on Earth.
What is the highest mountain above sea level? | Mount Everest is the highest mountain above sea level.
At what temperature does water freeze on the Celsius scale? | Water freezes at 0 degrees Celsius.
At what temperature does water boil at sea level, in Celsius? | Water boils at 100 degrees Celsius at sea level.
Which gas do plants take in from the air for photosynthesis? | Plants take in carbon dioxide.
Which gas do humans need to breathe in to live? | Humans need oxygen.
How many bones are in the adult human body? | The adult human body has 206 bones.
What is the chemical formula for water? | The chemical formula for water is H2O.
What is the hardest natural substance? | Diamond is the hardest natural substance.
Who painted the Mona Lisa? | Leonardo da Vinci painted the Mona Lisa.
Who developed the theory of relativity? | Albert Einstein developed the theory of relativity.
Who formulated the laws of motion and universal gravitation? | Isaac Newton formulated them.
What is the currency of Japan? | The currency of Japan is the yen.
What is the currency of the United Kingdom? | The currency of the United Kingdom is the pound sterling.
What is the currency of India? | The currency of India is the rupee.
What is the currency of Mexico? | The currency of Mexico is the peso.
What language is mainly spoken in Brazil? | Portuguese is the main language of Brazil.
What language is mainly spoken in Argentina? | Spanish is the main language of Argentina.
How many days are there in a leap year? | A leap year has 366 days.
How many sides does a hexagon have? | A hexagon has six sides.
How many sides does an octagon have? | An octagon has eight sides.
How many legs does a spider have? | A spider has eight legs.
How many legs does an insect have? | An insect has six legs.
What is the largest animal on Earth? | The blue whale is the largest animal on Earth.
What is the fastest land animal? | The cheetah is the fastest land animal.
What is the tallest living animal? | The giraffe is the tallest living animal.
What is the largest living bird? | The ostrich is the largest living bird.
How many hearts does an octopus have? | An octopus has three hearts.
Which mammal is capable of true flight? | The bat is the only mammal capable of true flight.
""")


_QA_CAPITAL_QUESTIONS = _opts(
    "What is the capital of {c}? | Which city is the capital of {c}? | What city serves as the capital of {c}? | "
    "The capital of {c} is which city? | Can you name the capital city of {c}? | "
    "What is the name of the capital of {c}?")


def _qa_capital(rng: random.Random) -> tuple[str, str]:
    country, capital, _ = rng.choice(COUNTRIES)
    q = rng.choice(_QA_CAPITAL_QUESTIONS).format(c=country)
    a = rng.choice((f"The capital of {country} is {capital}.", f"{capital}.", f"It is {capital}.",
                    f"{capital} is the capital of {country}."))
    return q, a


def _qa_element(rng: random.Random) -> tuple[str, str]:
    name, symbol, number = rng.choice(ELEMENTS)
    return rng.choice((
        (f"What is the chemical symbol for {name}?",
         rng.choice((f"The chemical symbol for {name} is {symbol}.", f"{symbol}."))),
        (f"Which element has the chemical symbol {symbol}?", f"{_cap(name)} has the chemical symbol {symbol}."),
        (f"What is the atomic number of {name}?", f"The atomic number of {name} is {number}."),
        (f"Which element has atomic number {number}?", f"Element number {number} is {name}."),
        (f"Which chemical element is written as {symbol}?", f"The symbol {symbol} stands for {name}.")))


def _qa_planet(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.45:
        return rng.choice(PLANET_FACTS)
    i = rng.randrange(8)
    planet, nth = PLANETS[i], _ORDINALS[i + 1]
    return rng.choice((
        (f"Which planet is {nth} from the Sun?", f"{planet} is the {nth} planet from the Sun."),
        (f"Counting outward from the Sun, which planet comes {nth}?", f"{planet} comes {nth}."),
        (f"What is the position of {planet} in order from the Sun?", f"{planet} is the {nth} planet from the Sun.")))


def _qa_author(rng: random.Random) -> tuple[str, str]:
    title, author, kind = rng.choice(BOOKS)
    q = rng.choice((f"Who wrote {title}?", f"Who is the author of the {kind} {title}?", f"Which writer wrote {title}?",
                    f"{title} was written by whom?"))
    a = rng.choice((f"{title} was written by {author}.", f"{author}.", f"{author} wrote {title}.",
                    f"It was written by {author}."))
    return q, a


def _qa_units(rng: random.Random) -> tuple[str, str]:
    unit, _, small, factor = rng.choice(UNITS)
    factor = _num(int(factor))
    q = rng.choice((f"How many {small} are in one {unit}?", f"How many {small} make up a {unit}?",
                    f"One {unit} is equal to how many {small}?"))
    return q, rng.choice((f"There are {factor} {small} in one {unit}.", f"One {unit} equals {factor} {small}.",
                          f"{factor}."))


def _qa_arithmetic(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randint(2, 99), rng.randint(2, 99)
    op = rng.choice(("plus", "minus", "times", "divided by", "square"))
    if op == "plus":
        q = rng.choice((f"What is {a} plus {b}?", f"What is the sum of {a} and {b}?", f"How much is {a} plus {b}?"))
        return q, rng.choice((f"{a} plus {b} equals {a + b}.", f"The sum is {a + b}.", f"{a + b}."))
    if op == "minus":
        a, b = max(a, b), min(a, b)
        q = rng.choice((f"What is {a} minus {b}?", f"What do you get if you subtract {b} from {a}?"))
        return q, rng.choice((f"{a} minus {b} equals {a - b}.", f"The result is {a - b}.", f"{a - b}."))
    if op == "times":
        a, b = rng.randint(2, 15), rng.randint(2, 15)
        q = rng.choice((f"What is {a} times {b}?", f"What is {a} multiplied by {b}?",
                        f"What is the product of {a} and {b}?"))
        return q, rng.choice((f"{a} times {b} equals {a * b}.", f"The product is {a * b}.", f"{a * b}."))
    if op == "divided by":
        b, quotient = rng.randint(2, 12), rng.randint(2, 12)
        q = rng.choice((f"What is {b * quotient} divided by {b}?", f"How many times does {b} go into {b * quotient}?"))
        return q, rng.choice((f"{b * quotient} divided by {b} equals {quotient}.", f"The answer is {quotient}.",
                              f"{quotient}."))
    n = rng.randint(2, 20)
    return rng.choice(((f"What is the square of {n}?", f"The square of {n} is {n * n}."),
                       (f"What is the square root of {n * n}?", f"The square root of {n * n} is {n}.")))


def _qa_animal(rng: random.Random) -> tuple[str, str]:
    name, plural, cls, young, group, _ = rng.choice(ANIMALS)
    options = [(f"What is a baby {name} called?", f"A baby {name} is called {_a(young)}."),
               (f"What do we call a young {name}?", f"A young {name} is called {_a(young)}."),
               (f"What kind of animal is {_a(name)}?", f"{_cap(_a(name))} is {_a(cls)}.")]
    if group:
        options.append((f"What is a group of {plural} called?", f"A group of {plural} is called {_a(group)}."))
    return rng.choice(options)


def _qa_event(rng: random.Random) -> tuple[str, str]:
    event, year = rng.choice(EVENTS)
    q = rng.choice((f"In what year did {event} take place?", f"When did {event} happen?",
                    f"In which year did {event} happen?", f"What year saw {event}?"))
    return q, rng.choice((f"{_cap(event)} took place in {year}.", f"It happened in {year}.", f"In {year}."))


_QA_KINDS = ((_qa_capital, 4), (_qa_element, 2), (_qa_planet, 1), (_qa_author, 2), (_qa_units, 1),
             (_qa_arithmetic, 2), (_qa_animal, 1), (_qa_event, 2), (lambda rng: rng.choice(MISC_FACTS), 2))


def qa_factual_line(rng: random.Random) -> str:
    """'Question: ... Answer: ...' from the fact tables above."""
    makers, weights = zip(*_QA_KINDS)
    question, answer = rng.choices(makers, weights)[0](rng)
    return f"Question: {question} Answer: {answer}"


# ---------------------------------------------------------------------------------------
# tasks: instruction_following (responses computed here, so they are correct)
# ---------------------------------------------------------------------------------------

_LISTS = {
    "fruits": FRUITS, "vegetables": VEGETABLES,
    "colors": _opts("red | orange | yellow | green | blue | purple | pink | brown | black | white | gray"),
    "mammals": _opts("dog | cat | horse | cow | elephant | whale | dolphin | bat | lion | tiger | rabbit | bear"),
    "birds": _opts("robin | sparrow | eagle | owl | penguin | parrot | pigeon | swan | ostrich | flamingo | crow | "
                   "duck"),
    "musical instruments": _opts("piano | violin | guitar | flute | trumpet | drums | cello | clarinet | harp | "
                                 "saxophone"),
    "countries in Europe": _opts("France | Germany | Italy | Spain | Portugal | Poland | Sweden | Norway | Greece | "
                                 "Ireland | Austria | Belgium"),
    "sports played with a ball": _opts("soccer | basketball | tennis | volleyball | baseball | cricket | golf | rugby"),
    "kitchen utensils": _opts("spatula | whisk | ladle | colander | peeler | tongs | grater | rolling pin"),
    "programming languages": _opts("Python | Java | C | JavaScript | Rust | Go | Ruby | Kotlin | Swift"),
    "planets in our solar system": PLANETS,
}

# base, third person, past, objects
_VERBS = _rows("""
walk | walks | walked | to the market; along the river; to school
play | plays | played | the piano after dinner; football in the park
cook | cooks | cooked | dinner for the family; pasta on Fridays
write | writes | wrote | a letter to a friend; notes in a small notebook
eat | eats | ate | breakfast at seven; lunch at the office
go | goes | went | to the library; to bed early
read | reads | read | the newspaper; a chapter every night
buy | buys | bought | fresh bread; flowers for the table
drive | drives | drove | to work; the old truck to the farm
swim | swims | swam | in the lake; twenty lengths of the pool
teach | teaches | taught | math at the village school; a dance class
sing | sings | sang | in the choir; a song for the guests
take | takes | took | the early train; photos of the birds
watch | watches | watched | the sunrise; a film with friends
study | studies | studied | for the exam; French in the evenings
carry | carries | carried | the groceries home; a heavy bag up the hill
build | builds | built | a small boat; a bookshelf for the hall
catch | catches | caught | the last bus; a fish in the river
run | runs | ran | five kilometers; around the park
visit | visits | visited | the museum; the old harbor
fix | fixes | fixed | the bike; the leaking tap
clean | cleans | cleaned | the kitchen; the windows
""")
_SUBJECTS = (("I", 0), ("We", 0), ("They", 0), ("The children", 0), ("My parents", 0),
             ("She", 1), ("He", 1), ("My brother", 1), ("Our neighbor", 1), ("Maria", 1), ("Tom", 1))
_TIMES = _opts("every morning | on Saturdays | after work | every day | in the summer | ")

_CONVERSIONS = [u for u in UNITS if u[0] not in ("decade", "century", "year")]
_SYNONYMS = _rows("""
happy | glad | cheerful | joyful
big | large | huge
small | little | tiny
fast | quick | rapid
begin | start | commence
end | finish | conclude
smart | clever | intelligent
difficult | hard | challenging
easy | simple | effortless
sad | unhappy | sorrowful
beautiful | lovely | pretty
brave | courageous | bold
rich | wealthy | affluent
tired | weary | sleepy
help | assist | aid
buy | purchase | acquire
choose | select | pick
fix | repair | mend
angry | irate | cross
quiet | silent | hushed
""")
_ANTONYMS = _rows("""
hot | cold
tall | short
early | late
open | closed
full | empty
heavy | light
ancient | modern
strong | weak
wet | dry
loud | quiet
rich | poor
arrive | depart
accept | refuse
increase | decrease
remember | forget
win | lose
inside | outside
cheap | expensive
above | below
push | pull
""")
_PLURALS = _rows("""
child | children
mouse | mice
tooth | teeth
foot | feet
person | people
woman | women
goose | geese
ox | oxen
leaf | leaves
knife | knives
wolf | wolves
city | cities
box | boxes
bus | buses
potato | potatoes
sheep | sheep
deer | deer
half | halves
baby | babies
church | churches
""")
_ACRONYMS = _opts("portable document format | as soon as possible | frequently asked questions | "
                  "central processing unit | random access memory | universal serial bus | "
                  "personal identification number | do it yourself | unidentified flying object | "
                  "very important person | automated teller machine")
_PHRASES = _opts("a walk along the quiet river | the best bakery in town | notes from the spring meeting | "
                 "a guide to growing tomatoes | the history of the old bridge | a letter to my future self | "
                 "ten tips for better sleep | the secret life of city birds")
_WORDS_POOL = _opts("garden | window | planet | orange | pencil | rainbow | library | kitchen | mountain | blanket | "
                    "octopus | umbrella | journey | lantern | festival")
_SUMMARY_PARTS = {
    "pre": _opts("After months of planning and several delays | Despite the heavy rain that fell all morning | "
                 "Following a long debate at the public meeting | To the surprise of many local residents | "
                 "After a busy week of preparations | Although the budget was smaller than expected"),
    "actor": _opts("the town council | a group of volunteers | the school science club | the city museum | "
                   "a small software company | the local rowing club | the public library | "
                   "a neighborhood association"),
    "action": _opts("opened a new community garden | planted two hundred trees along the river | "
                    "hosted a charity concert in the park | raised ten thousand dollars for the food bank | "
                    "repainted the old railway station | organized a free coding workshop for teenagers | "
                    "cleaned up the beach | launched a weekly farmers' market"),
    "tail": _opts("on Saturday morning | in front of a large crowd | last weekend | "
                  "with help from dozens of local families | just before the start of the summer holidays"),
}


def _ins_list(rng: random.Random) -> tuple[str, str]:
    category = rng.choice(list(_LISTS))
    n = rng.randint(3, 5)
    items = rng.sample(_LISTS[category], n)
    ins = rng.choice(("List {n} {c}.", "Name {n} {c}.", "Give me {n} examples of {c}.", "Write a list of {n} {c}.",
                      "Can you name {n} {c}?")).format(n=_words(n), c=category)
    if rng.random() < 0.5:
        return ins, "\n".join(f"{i}. {_cap(item)}" for i, item in enumerate(items, 1))
    return ins, f"Here are {_words(n)} {category}: {_join(items)}."


def _ins_past_tense(rng: random.Random) -> tuple[str, str]:
    base, third, past, objects = rng.choice(_VERBS)
    subject, is_third = rng.choice(_SUBJECTS)
    obj = rng.choice(objects.split("; "))
    time = rng.choice(_TIMES)
    tail = f"{obj} {time}".strip()
    present = f"{subject} {third if is_third else base} {tail}."
    ins = rng.choice(("Rewrite this sentence in the past tense: {s}",
                      "Change the following sentence to the past tense: {s}",
                      "Put this sentence into the simple past: {s}")).format(s=present)
    return ins, rng.choice(("{s}", "In the past tense: {s}")).format(s=f"{subject} {past} {tail}.")


def _ins_convert(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.2:
        c = rng.randrange(-20, 105, 5)
        f = c * 9 // 5 + 32
        return (rng.choice((f"Convert {c} degrees Celsius to Fahrenheit.",
                            f"What is {c} degrees Celsius in Fahrenheit?")),
                f"{c} degrees Celsius is {f} degrees Fahrenheit, because {c} times 9/5 plus 32 equals {f}.")
    unit, units, small, factor = rng.choice(_CONVERSIONS)
    k = rng.randint(2, 15)
    total = _num(k * int(factor))
    if rng.random() < 0.5:
        return (rng.choice((f"Convert {k} {units} to {small}.", f"How many {small} are in {k} {units}?")),
                f"{k} {units} is {total} {small}, since one {unit} is {_num(int(factor))} {small}.")
    return (rng.choice((f"Convert {total} {small} to {units}.", f"How many {units} is {total} {small}?")),
            f"{total} {small} is {k} {units}, since one {unit} is {_num(int(factor))} {small}.")


def _ins_summary(rng: random.Random) -> tuple[str, str]:
    p = {k: rng.choice(v) for k, v in _SUMMARY_PARTS.items()}
    sentence = f"{p['pre']}, {p['actor']} finally {p['action']} {p['tail']}."
    ins = rng.choice(("Summarize this sentence in a few words: {s}",
                      "Give a short summary of the following sentence: {s}",
                      "Shorten this sentence to its main point: {s}")).format(s=sentence)
    return ins, rng.choice(("{a} {b}.", "In short, {l} {b}.")).format(a=_cap(p["actor"]), l=p["actor"], b=p["action"])


def _ins_sort(rng: random.Random) -> tuple[str, str]:
    nums = rng.sample(range(1, 100), rng.randint(4, 7))
    shown = ", ".join(map(str, nums))
    if rng.random() < 0.5:
        return (rng.choice(("Sort these numbers from smallest to largest: {s}.",
                            "Put these numbers in ascending order: {s}.")).format(s=shown),
                "From smallest to largest: " + ", ".join(map(str, sorted(nums))) + ".")
    return (rng.choice(("Sort these numbers from largest to smallest: {s}.",
                        "Put these numbers in descending order: {s}.")).format(s=shown),
            "From largest to smallest: " + ", ".join(map(str, sorted(nums, reverse=True))) + ".")


def _ins_words(rng: random.Random) -> tuple[str, str]:
    kind = rng.choice(("synonym", "antonym", "plural", "reverse", "vowels", "acronym"))
    if kind == "synonym":
        word, *syns = rng.choice(_SYNONYMS)
        syn = rng.choice(syns)
        return (rng.choice((f"Give a synonym for the word '{word}'.", f"What is another word for '{word}'?")),
                rng.choice((f"A synonym for '{word}' is '{syn}'.", f"You could use '{syn}' instead of '{word}'.")))
    if kind == "antonym":
        word, opposite = rng.choice(_ANTONYMS)
        if rng.random() < 0.5:
            word, opposite = opposite, word
        return (rng.choice((f"What is the opposite of '{word}'?", f"Give an antonym for the word '{word}'.")),
                f"The opposite of '{word}' is '{opposite}'.")
    if kind == "plural":
        word, plural = rng.choice(_PLURALS)
        return (rng.choice((f"What is the plural of '{word}'?", f"Write the plural form of the noun '{word}'.")),
                f"The plural of '{word}' is '{plural}'.")
    if kind == "reverse":
        word = rng.choice(_WORDS_POOL)
        return (rng.choice((f"Spell the word '{word}' backwards.", f"Reverse the letters of the word '{word}'.")),
                f"The word '{word}' spelled backwards is '{word[::-1]}'.")
    if kind == "vowels":
        word = rng.choice(_WORDS_POOL)
        count = sum(ch in "aeiou" for ch in word)
        return (f"How many vowels are in the word '{word}'?",
                f"The word '{word}' has {_words(count)} vowel{'s' if count != 1 else ''}: "
                f"{_join([ch for ch in word if ch in 'aeiou'])}.")
    phrase = rng.choice(_ACRONYMS)
    return (rng.choice((f"Write the acronym for '{phrase}'.", f"What are the initials of the phrase '{phrase}'?")),
            f"The acronym for '{phrase}' is {''.join(w[0] for w in phrase.split()).upper()}.")


def _ins_numbers(rng: random.Random) -> tuple[str, str]:
    kind = rng.choice(("largest", "parity", "average", "spell", "evens"))
    nums = rng.sample(range(1, 100), rng.randint(4, 6))
    shown = ", ".join(map(str, nums))
    if kind == "largest":
        if rng.random() < 0.5:
            return f"Which is the largest number in this list: {shown}?", f"The largest number is {max(nums)}."
        return f"Find the smallest number in this list: {shown}.", f"The smallest number is {min(nums)}."
    if kind == "parity":
        n = rng.randint(10, 999)
        return (rng.choice((f"Is {n} odd or even?", f"Tell me whether {n} is an odd or an even number.")),
                f"{n} is {'even' if n % 2 == 0 else 'odd'}, because its last digit is {n % 10}.")
    if kind == "average":
        while sum(nums) % len(nums):
            nums = rng.sample(range(1, 100), len(nums))
        shown = ", ".join(map(str, nums))
        total, mean = sum(nums), sum(nums) // len(nums)
        return (f"What is the average of these numbers: {shown}?",
                f"The numbers add up to {total}, and {total} divided by {len(nums)} is {mean}, "
                f"so the average is {mean}.")
    if kind == "spell":
        n = rng.randint(21, 999)
        return (rng.choice((f"Write the number {n} in words.", f"Spell out the number {n}.")),
                f"{n} in words is {_words(n)}.")
    evens = [n for n in nums if n % 2 == 0]
    return (f"List only the even numbers from: {shown}.",
            f"The even numbers are {', '.join(map(str, evens))}." if evens else "None of those numbers is even.")


def _ins_text(rng: random.Random) -> tuple[str, str]:
    kind = rng.choice(("upper", "title", "count", "alphabet", "classify", "weekday"))
    if kind == "upper":
        phrase = rng.choice(_PHRASES)
        return f"Convert this phrase to upper case: {phrase}", phrase.upper()
    if kind == "title":
        phrase = rng.choice(_PHRASES)
        return (f"Capitalize the first letter of every word in: {phrase}",
                " ".join(w[:1].upper() + w[1:] for w in phrase.split()))
    if kind == "count":
        _, sentence = _ins_past_tense(rng)
        sentence = sentence.removeprefix("In the past tense: ")
        count = _words(len(sentence.split()))
        return f"How many words are in this sentence? {sentence}", f"That sentence has {count} words."
    if kind == "alphabet":
        words = rng.sample(_WORDS_POOL, rng.randint(4, 6))
        return (rng.choice(("Put these words in alphabetical order: {w}.",
                            "Sort these words alphabetically: {w}.")).format(w=", ".join(words)),
                "In alphabetical order: " + ", ".join(sorted(words)) + ".")
    if kind == "classify":
        item, kind_name = rng.choice([(f, "fruit") for f in FRUITS] + [(v, "vegetable") for v in VEGETABLES])
        return f"Is {item} a fruit or a vegetable?", f"{_cap(item)} is {_a(kind_name)}."
    d, k = rng.randrange(7), rng.randint(1, 30)
    return (f"What day of the week is it {k} day{'s' if k > 1 else ''} after {WEEKDAYS[d]}?",
            f"{k} day{'s' if k > 1 else ''} after {WEEKDAYS[d]} it is {WEEKDAYS[(d + k) % 7]}.")


def _ins_word_problem(rng: random.Random) -> tuple[str, str]:
    name, pron = rng.choice((("Tom", "he"), ("Maria", "she"), ("Kofi", "he"), ("Lena", "she"), ("Samir", "he"),
                             ("Grace", "she")))
    things = rng.choice(_opts("apples | marbles | stickers | books | pencils | cookies"))
    a, b = rng.randint(3, 40), rng.randint(2, 20)
    kind = rng.choice(("more", "fewer", "boxes", "share"))
    if kind == "more":
        return (f"Solve: {name} has {a} {things} and gets {b} more. How many {things} does {pron} have now?",
                f"{_cap(pron)} has {a} + {b} = {a + b} {things}.")
    if kind == "fewer":
        a = a + b
        return (f"Solve: {name} had {a} {things} and gave {b} to a friend. How many {things} are left?",
                f"{a} - {b} = {a - b}, so {name} has {a - b} {things} left.")
    if kind == "boxes":
        a, b = rng.randint(2, 12), rng.randint(2, 12)
        return (f"Solve: a box holds {a} {things}. How many {things} are in {b} boxes?",
                f"{b} boxes hold {b} x {a} = {a * b} {things}.")
    a, b = rng.randint(2, 10), rng.randint(2, 8)
    return (f"Solve: {name} shares {a * b} {things} equally among {b} friends. How many does each friend get?",
            f"{a * b} divided by {b} is {a}, so each friend gets {a} {things}.")


def _ins_note(rng: random.Random) -> tuple[str, str]:
    name = rng.choice(FIRST_NAMES)
    favor = rng.choice(_opts("helping me move house | lending me your ladder | the birthday flowers | "
                             "covering my shift on Friday | the delicious soup | your advice on my essay"))
    kind = rng.choice(("thanks", "reminder", "apology"))
    if kind == "thanks":
        return (rng.choice((f"Write a one-sentence thank-you note to {name} for {favor}.",
                            f"Thank {name} for {favor} in one friendly sentence.")),
                rng.choice((f"Dear {name}, thank you so much for {favor}; it really made my week.",
                            f"Thank you, {name}, for {favor}; I am truly grateful.",
                            f"{name}, I just wanted to say a big thank you for {favor}.")))
    event = rng.choice(_opts("the team meeting | the dentist appointment | the book club | the school concert"))
    day = rng.choice(WEEKDAYS)
    if kind == "reminder":
        return (f"Write a short reminder to {name} about {event} on {day}.",
                f"Hi {name}, just a friendly reminder that {event} is on {day}. See you there!")
    return (f"Write a polite one-sentence apology to {name} for missing {event}.",
            f"Dear {name}, I am sorry I missed {event}, and I hope to make it up to you soon.")


_INSTRUCTION_KINDS = (_ins_list, _ins_past_tense, _ins_convert, _ins_summary, _ins_sort, _ins_words, _ins_words,
                      _ins_numbers, _ins_numbers, _ins_text, _ins_text, _ins_word_problem, _ins_note)


def instruction_following_line(rng: random.Random) -> str:
    """'Instruction: ...' newline 'Response: ...' with a computed, correct response."""
    instruction, response = rng.choice(_INSTRUCTION_KINDS)(rng)
    return f"Instruction: {instruction}\nResponse: {response}"


# ---------------------------------------------------------------------------------------
# collection, splitting and writing
# ---------------------------------------------------------------------------------------

MAKERS: dict[str, Maker] = {
    "coding": coding_line, "common_knowledge": common_knowledge_line, "mixed_domain": mixed_domain_line,
    "wikitext": wikitext_line, "sentiment_positive": sentiment_positive_line,
    "sentiment_negative": sentiment_negative_line, "qa_factual": qa_factual_line,
    "instruction_following": instruction_following_line,
}


def _rng(name: str) -> random.Random:
    """An independent, reproducible stream per set (crc32 is stable across runs and platforms)."""
    return random.Random(SEED * 7919 + zlib.crc32(name.encode("ascii")))


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def collect(name: str, count: int, seen: set[str] | None = None) -> list[str]:
    """`count` distinct lines of one set, each within its word limits, in generation order."""
    make, (lo, hi) = MAKERS[name], WORD_LIMITS[name]
    rng, seen = _rng(name), set() if seen is None else seen
    out: list[str] = []
    misses = 0
    while len(out) < count:
        text = " ".join(part for part in make(rng).split(" ") if part).replace("D.C..", "D.C.")
        if not text.isascii():
            raise ValueError(f"{name}: non-ASCII text {text!r}")
        key = _norm(text)
        if key in seen or not lo <= len(text.split()) <= hi:
            misses += 1
            if misses > 20 * count:
                raise RuntimeError(f"{name}: only {len(out)} distinct lines after {misses} rejected draws")
            continue
        seen.add(key)
        out.append(text)
    return out


def build_sets() -> dict[str, dict[str, list[dict]]]:
    """{'general': {'train': rows, 'eval': rows}, task: {...}} -- deduped first, then split."""
    sets: dict[str, dict[str, list[dict]]] = {}
    n_train, n_eval = GENERAL_SIZES["train"], GENERAL_SIZES["eval"]
    general: dict[str, list[dict]] = {"train": [], "eval": []}
    seen: set[str] = set()
    for category in CATEGORIES:
        lines = collect(category, n_train + n_eval, seen)
        general["train"] += [{"text": t, "category": category} for t in lines[:n_train]]
        general["eval"] += [{"text": t, "category": category} for t in lines[n_train:]]
    n_train, n_eval = TASK_SIZES["train"], TASK_SIZES["eval"]
    for task in TASKS:
        lines = collect(task, n_train + n_eval + TASK_STYLE_LINES)
        end = n_train + n_eval
        sets[task] = {"train": [{"text": t} for t in lines[:n_train]], "eval": [{"text": t} for t in lines[n_train:end]]}
        general["eval"] += [{"text": t, "category": TASK_STYLES} for t in lines[end:]]
    order = _rng("general:order")
    for split in SPLITS:
        order.shuffle(general[split])
    sets = {"general": general, **sets}
    return sets


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def generate(out_dir: Path | str = EMBEDDED_DATA_DIR) -> dict[str, int]:
    """(Re)write every embedded jsonl file into out_dir; returns {file name: line count}."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, splits in build_sets().items():
        for split, rows in splits.items():
            path = data_file(name, split, root=out)
            write_jsonl(path, rows)
            written[path.name] = len(rows)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) > 1 or any(a in ("-h", "--help") for a in args):
        print("usage: python -m sitv_dist.embedded.corpus [OUT_DIR]  (default: the package data folder)")
        return 0 if args and args[0] in ("-h", "--help") else 2
    out = Path(args[0]) if args else EMBEDDED_DATA_DIR
    for file, count in generate(out).items():
        print(f"{out / file}: {count} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
