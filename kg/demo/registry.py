"""A synthetic registry at ClinicalTrials.gov scale: the demo's study generator over a whole loaded MeSH vocabulary.

``kg.demo.synthetic`` draws from ~90 curated concepts and ~60 sponsors: right for a demo, too small a world for
600,000 trials. Here the same generator draws conditions from every disease descriptor (trees C and F03) and
interventions from every drug, biological, device, procedure and behavioural descriptor and supplementary concept
of the MeSH files given (default: the demo's subset), each therapeutic area with its own Zipf-skewed popularity,
and the registry-style ancestor lists (descriptors on a tree-number prefix; for supplementary concepts their
pharmacological actions and those descriptors' ancestors). Sponsors get a long procedural tail and sites a campus
name, so shared nodes grow with the corpus as in the real registry. Records are marked synthetic as the demo's are
(``NCT99…`` ids, a top-level ``"synthetic"`` object, a ``"[Synthetic] "`` title prefix).

    registry_studies(600_000, seed=1, mesh=[Path("d2024.bin"), Path("c2024.bin")])
"""

from __future__ import annotations

import gzip
import itertools
import json
import logging
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Final

from kg.atomic import replacing
from kg.ctgov.mapping import RawStudy
from kg.demo import demo_mesh_file
from kg.demo.make_vocabulary import registry_id, tree_ancestors
from kg.demo.places import COUNTRIES, SPONSOR_CLASS_WEIGHTS, SPONSORS
from kg.demo.synthetic import (
    DEFAULT_SEED,
    MAX_STUDIES,
    Catalog,
    Concept,
    Sponsor,
    stream_studies,
)
from kg.demo.tables import FAMILY_BY_AREA, PHASED_TYPES
from kg.demo.weighted import Weighted, skewed
from kg.mesh.files import iter_mesh_file, iter_trees
from kg.mesh.mapping import MeshIndex

__all__ = [
    "GENERATOR",
    "REGISTRY_AREAS",
    "SHARD_SIZE",
    "read_mesh",
    "registry_catalog",
    "registry_studies",
    "write_registry",
]

logger = logging.getLogger(__name__)

GENERATOR: Final[str] = "kg.demo.registry"
SHARD_SIZE: Final[int] = 25_000
SHARD_PATTERN: Final[str] = "synthetic-registry-{:05d}.jsonl.gz"
#: gzip level 3: a third of level 6's time for 15 % of the JSON's size instead of 12 %.
COMPRESSION: Final[int] = 3
#: Radioligand trials are rare in the registry (the demo's 10 % makes its seed trial a neighbourhood).
SEED_SHARE: Final[float] = 0.005
LUTETIUM: Final[str] = "D008187"
#: Area → (family, share of trials, headings anchoring it). A condition belongs to the area of its deepest
#: anchor (Lung Neoplasms is lung-oncology, not oncology); disease descriptors under no anchor go to "other".
REGISTRY_AREAS: Final[dict[str, tuple[str, float, tuple[str, ...]]]] = {
    "oncology": ("oncology", 14, ("Neoplasms",)),
    "digestive-oncology": ("oncology", 4, ("Digestive System Neoplasms",)),
    "lung-oncology": ("oncology", 3, ("Lung Neoplasms",)),
    "prostate-oncology": ("oncology", 1.5, ("Prostatic Neoplasms",)),
    "cardiology": ("cardiometabolic", 9, ("Cardiovascular Diseases",)),
    "diabetes": ("cardiometabolic", 8, ("Nutritional and Metabolic Diseases", "Endocrine System Diseases")),
    "neurology": ("neuro", 9, ("Nervous System Diseases",)),
    "pain": ("neuro", 3, ("Pain",)),
    "mental-health": ("neuro", 7, ("Mental Disorders", "Behavior and Behavior Mechanisms")),
    "infectious-disease": ("infectious", 8, ("Infections",)),
    "urology": ("chronic", 5, ("Urogenital Diseases", "Female Urogenital Diseases and Pregnancy Complications")),
    "respiratory": ("chronic", 5, ("Respiratory Tract Diseases",)),
    "immunology": ("chronic", 6, ("Immune System Diseases", "Skin and Connective Tissue Diseases")),
    "musculoskeletal": ("chronic", 5, ("Musculoskeletal Diseases", "Wounds and Injuries")),
    "digestive": ("chronic", 4, ("Digestive System Diseases", "Stomatognathic Diseases")),
    "other": ("chronic", 8, ()),
}
#: Tree-number starts of disease descriptors (animal diseases, C22, left out).
CONDITION_TREES: Final = (*(f"C{n:02d}" for n in range(1, 27) if n != 22), "F03")
#: Intervention type by anchoring heading (deepest wins), else by tree-number start; supplementary concepts: DRUG.
INTERVENTION_ANCHORS: Final[dict[str, str]] = {
    "Vaccines": "BIOLOGICAL",
    "Antibodies": "BIOLOGICAL",
    "Biological Products": "BIOLOGICAL",
    "Radiotherapy": "RADIATION",
    "Equipment and Supplies": "DEVICE",
}
INTERVENTION_TREES: Final[dict[str, str]] = {
    "D": "DRUG",
    "E02": "PROCEDURE",
    "E04": "PROCEDURE",
    "E07": "DEVICE",
    "F04": "BEHAVIORAL",
}
#: Zipf exponents: a few concepts and sponsors are very common, most are rare.
CONCEPT_SKEW: Final[float] = 1.0
SPONSOR_SKEW: Final[float] = 1.0
SPONSOR_STEMS: Final = (
    "Acer", "Alba", "Arden", "Aster", "Bel", "Cardo", "Cela", "Corin", "Dex", "Elara", "Enzo", "Fera", "Gala",
    "Helix", "Iona", "Juno", "Kali", "Lyra", "Mira", "Nova", "Orla", "Pax", "Quill", "Rhea", "Sola", "Tavi",
    "Umbr", "Vela", "Wren", "Xeno", "Yara", "Zeph",
)  # fmt: skip
SPONSOR_ENDINGS: Final = ("gen", "thera", "vance", "mab", "cor", "lix", "neuro", "pharm", "bio", "medix")
INDUSTRY_FORMS: Final = ("{stem}{ending} Therapeutics", "{stem}{ending} Pharma", "{stem}{ending}, Inc.",
                         "{stem}{ending} Biosciences")  # fmt: skip
ACADEMIC_FORMS: Final = ("{city} University Hospital", "University of {city}", "{city} Medical University",
                         "{city} Clinical Research Institute", "{city} Children's Hospital")  # fmt: skip
CAMPUSES: Final = tuple(
    f"{side} {kind}"
    for side in ("North", "South", "East", "West", "Central", "Riverside", "Hillside", "Lakeside")
    for kind in ("Campus", "Site", "Pavilion", "Clinic", "Wing")
)


def _rank(key: str) -> int:
    """A stable pseudo-random rank (no dependence on hash randomisation), to order pools by popularity."""
    return zlib.crc32(key.encode("utf-8"))


def _ref(index: MeshIndex, ui: str) -> tuple[str, str]:
    return registry_id(ui), index.descriptors[ui].heading


def _concept(index: MeshIndex, ui: str, kind: str) -> Concept:
    if ui in index.descriptors:
        ancestors = [_ref(index, a) for a in tree_ancestors(index, ui)]
        term = index.descriptors[ui].heading
    else:
        found: dict[str, None] = {}
        for action in index.actions(ui):
            found.setdefault(action)
            found.update(dict.fromkeys(tree_ancestors(index, action)))
        ancestors = [_ref(index, a) for a in found]
        term = index.concepts[ui].name
    name = term[0].upper() + term[1:] if term else term
    return Concept(registry_id(ui), term, kind, name, (), tuple(ancestors))


def _anchored(index: MeshIndex, anchors: dict[str, str]) -> list[tuple[str, str]]:
    """(tree number, label) pairs of the anchoring headings present in the vocabulary, deepest first."""
    pairs = [
        (tree, label)
        for heading, label in anchors.items()
        if (ui := index.by_heading.get(heading.casefold())) is not None
        for tree in index.descriptors[ui].tree_numbers
    ]
    return sorted(pairs, key=lambda pair: -pair[0].count("."))


def _deepest(trees: Iterable[str], anchored: list[tuple[str, str]]) -> str | None:
    best: tuple[int, str] | None = None
    for tree in trees:
        for anchor, label in anchored:
            if (tree == anchor or tree.startswith(anchor + ".")) and (best is None or anchor.count(".") > best[0]):
                best = (anchor.count("."), label)
                break
    return None if best is None else best[1]


def _condition_areas(index: MeshIndex) -> dict[str, list[str]]:
    anchored = _anchored(index, {h: area for area, (_, _, hs) in REGISTRY_AREAS.items() for h in hs})
    areas: dict[str, list[str]] = {}
    for ui in sorted(index.descriptors):
        trees = index.descriptors[ui].tree_numbers
        if any(tree.startswith(CONDITION_TREES) for tree in trees):
            areas.setdefault(_deepest(trees, anchored) or "other", []).append(ui)
    return areas


def _intervention_types(index: MeshIndex) -> dict[str, str]:
    anchored = _anchored(index, INTERVENTION_ANCHORS)
    types: dict[str, str] = {}
    for ui in sorted(index.descriptors):
        trees = index.descriptors[ui].tree_numbers
        kind = _deepest(trees, anchored) or next(
            (t for tree in trees for start, t in INTERVENTION_TREES.items() if tree.startswith(start)), None
        )
        if kind is not None:
            types[ui] = kind
    types.update(dict.fromkeys(sorted(index.concepts), "DRUG"))
    return types


def _popular(concepts: Sequence[Concept], area: str) -> Weighted[Concept]:
    """Each area ranks the pool its own way (oncology's favourite drugs are not cardiology's), Zipf-skewed."""
    return skewed(sorted(concepts, key=lambda c: (_rank(f"{area}:{c.id}"), c.id)), CONCEPT_SKEW)


def _sponsors() -> dict[str, Weighted[Sponsor]]:
    """The demo's sponsors first (the most active), then a long procedural tail per class."""
    cities = [(city[0], country) for country, _, cities in COUNTRIES for city in cities]
    industry = [
        (form.format(stem=stem, ending=ending), "INDUSTRY", cities[_rank(stem + ending) % len(cities)][1])
        for stem, ending in itertools.product(SPONSOR_STEMS, SPONSOR_ENDINGS)
        for form in INDUSTRY_FORMS[_rank(stem + ending) % len(INDUSTRY_FORMS) :][:2]
    ]
    academic = [(form.format(city=city), "OTHER", country) for city, country in cities for form in ACADEMIC_FORMS]
    tail = sorted(industry + academic, key=lambda s: (_rank(s[0]), s[0]))
    pools: dict[str, Weighted[Sponsor]] = {}
    for klass in SPONSOR_CLASS_WEIGHTS:
        members = [s for s in SPONSORS if s[1] == klass] + [s for s in tail if s[1] == klass]
        pools[klass] = skewed(members, SPONSOR_SKEW)
    return pools


def read_mesh(paths: Sequence[Path]) -> MeshIndex:
    """Descriptor, supplementary and mtrees files (any order), as ``kg build --mesh`` reads them."""
    records = itertools.chain.from_iterable(
        iter_trees(path) if path.name.startswith("mtrees") else iter_mesh_file(path) for path in paths
    )
    return MeshIndex.from_records(records)


def registry_catalog(mesh: Sequence[Path] | None = None) -> Catalog:
    """The generator's world over the given MeSH files (default: the demo's subset)."""
    index = read_mesh(list(mesh or [demo_mesh_file()]))
    conditions = {area: [_concept(index, ui, "") for ui in uis] for area, uis in _condition_areas(index).items() if uis}
    if not conditions:
        raise ValueError("the MeSH files hold no disease descriptors (tree C or F03): nothing to draw conditions from")
    kinds = _intervention_types(index)
    interventions = [_concept(index, ui, kind) for ui, kind in kinds.items()]
    phased = [c for c in interventions if c.type in PHASED_TYPES]
    unphased = [c for c in interventions if c.type not in PHASED_TYPES]
    if not phased:
        raise ValueError("the MeSH files hold no drug descriptors (tree D) or supplementary concepts")
    areas = [area for area in REGISTRY_AREAS if area in conditions]
    lutetium = next((c for c in interventions if c.id == LUTETIUM), None)
    seed_conditions = conditions.get("digestive-oncology") or conditions.get("oncology") or []
    sponsors = _sponsors()
    logger.info(
        "registry catalog: %d conditions in %d areas, %d phased and %d other interventions",
        sum(map(len, conditions.values())),
        len(areas),
        len(phased),
        len(unphased),
    )
    return Catalog(
        conditions={area: _popular(conditions[area], area) for area in areas},
        phased={area: _popular(phased, area) for area in areas},
        unphased={area: _popular(unphased, area) for area in areas} if unphased else {},
        seed_conditions=skewed(seed_conditions or conditions[areas[0]], CONCEPT_SKEW),
        seed_interventions=skewed([lutetium] if lutetium else phased[:1], CONCEPT_SKEW),
        lutetium=lutetium if seed_conditions else None,
        areas=Weighted(areas, [REGISTRY_AREAS[area][1] for area in areas]),
        families={**FAMILY_BY_AREA, **{area: family for area, (family, _, _) in REGISTRY_AREAS.items()}},
        sponsors=sponsors,
        seed_sponsors=sponsors["INDUSTRY"],
        seed_share=SEED_SHARE,
        generator=GENERATOR,
        campuses=skewed(CAMPUSES, 0.8),
        results=True,
    )


def registry_studies(
    n: int, *, seed: int = DEFAULT_SEED, mesh: Sequence[Path] | None = None, catalog: Catalog | None = None
) -> Iterator[RawStudy]:
    """Stream ``n`` registry-scale synthetic studies; the same ``n``, ``seed`` and MeSH files give the same records."""
    if not 0 <= n <= MAX_STUDIES:
        raise ValueError(f"n must be between 0 and {MAX_STUDIES} (NCT99 + 6 digits), got {n}")
    return stream_studies(n, seed, catalog or registry_catalog(mesh))


def write_registry(
    directory: Path,
    n: int,
    *,
    seed: int = DEFAULT_SEED,
    mesh: Sequence[Path] | None = None,
    shard_size: int = SHARD_SIZE,
    on_study: Callable[[], None] | None = None,
) -> list[Path]:
    """Write ``n`` studies as gzip'd JSON Lines shards of ``shard_size`` into ``directory`` (earlier shards there
    are removed first, so the folder holds exactly one corpus), streaming; return the shard paths in order."""
    studies = registry_studies(n, seed=seed, mesh=mesh)  # fails on a bad n before anything is removed
    if shard_size < 1:
        raise ValueError(f"shard size must be positive, got {shard_size}")
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob(SHARD_PATTERN.replace("{:05d}", "*")):
        stale.unlink()
    paths: list[Path] = []
    for shard in itertools.count():
        batch = list(itertools.islice(studies, shard_size))
        if not batch:
            break
        path = directory / SHARD_PATTERN.format(shard)
        with replacing(path) as partial, gzip.open(partial, "wt", encoding="utf-8", compresslevel=COMPRESSION) as out:
            for study in batch:
                out.write(json.dumps(study, ensure_ascii=False) + "\n")
                if on_study is not None:
                    on_study()
        paths.append(path)
    logger.info("wrote %d synthetic studies in %d shard(s) to %s", n, len(paths), directory)
    return paths
