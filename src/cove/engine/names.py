"""Container names: validation and Docker-style random names ("brave_turing")."""

from __future__ import annotations

import random
import re

from cove.errors import InvalidParameter

_VALID = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")

_LEFT = (
    "admiring adoring affectionate agitated amazing angry awesome blissful bold boring brave "
    "busy charming clever cool compassionate competent confident cranky crazy dazzling "
    "determined distracted dreamy eager ecstatic elastic elated elegant eloquent epic fervent "
    "festive flamboyant focused friendly frosty gallant gifted goofy gracious happy hardcore "
    "heuristic hopeful hungry infallible inspiring jolly jovial keen kind laughing loving lucid "
    "magical modest musing mystifying naughty nervous nice nifty nostalgic objective optimistic "
    "peaceful pedantic pensive practical priceless quirky quizzical relaxed reverent romantic "
    "sad serene sharp silly sleepy stoic strange stupefied suspicious sweet tender thirsty "
    "trusting unruffled upbeat vibrant vigilant vigorous wizardly wonderful xenodochial "
    "youthful zealous zen"
).split()
_RIGHT = (
    "albattani allen almeida archimedes ardinghelli babbage banach bardeen bartik bassi bell "
    "benz bhabha bose brahmagupta brown carson cerf chandrasekhar chatelet curie darwin davinci "
    "dijkstra einstein elion engelbart euclid euler fermat fermi feynman franklin galileo gauss "
    "goldberg goodall hamilton hawking heisenberg hertz hodgkin hopper hypatia jang jennings "
    "kalam kepler khorana knuth kowalevski lalande lamport leakey lovelace lumiere mahavira "
    "mayer mccarthy mcclintock meitner mendel merkle minsky mirzakhani montalcini morse napier "
    "newton nobel noether pare pascal pasteur perlman pike poincare ptolemy raman ramanujan "
    "ritchie rosalind saha shannon shirley sinoussi spence stonebraker swartz tesla thompson "
    "torvalds turing varahamihira villani wescoff wiles williams wilson wing wozniak wright yalow "
    "yonath"
).split()


def validate_name(name: str) -> str:
    """Return the name without a leading '/', or raise InvalidParameter as Docker does."""
    if not _VALID.match(name):
        raise InvalidParameter(
            f'Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed'
        )
    return name.lstrip("/")


def random_name(taken: set[str]) -> str:
    """A free ``adjective_surname`` name; a digit is appended after collisions."""
    for attempt in range(100):
        name = f"{random.choice(_LEFT)}_{random.choice(_RIGHT)}"
        if attempt > 5:
            name += str(random.randint(0, 99))
        if name not in taken:
            return name
    raise RuntimeError("no free container name")  # pragma: no cover - astronomically unlikely
