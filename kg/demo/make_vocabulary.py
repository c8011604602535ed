"""Build ``kg/demo/data/vocabulary.json``, the curated MeSH vocabulary behind the synthetic trial generator.

The synthetic corpus must carry real MeSH ids and registry-style ancestor lists so the graph built from it
behaves like one built from ClinicalTrials.gov, yet the package must work offline without the MeSH files.
So a small, hand-picked list of headings (``CONDITIONS``, ``INTERVENTIONS``) is resolved against the MeSH
ASCII files once, here, and the result is committed as JSON. Re-run after changing the lists::

    python -m kg.demo.make_vocabulary                       # reads ../shared/data/mesh beside the repo
    python -m kg.demo.make_vocabulary --mesh-dir DIR --output PATH

It reads both the reduced files in ``shared/data/mesh`` and NLM's full ``d20xx.bin``/``c20xx.bin`` (unknown
fields are ignored). A heading that is not in the files is an error, so every id in the output is real.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from kg.identifiers import normalize_mesh_id
from kg.mesh.files import iter_mesh_file
from kg.mesh.mapping import MeshIndex

__all__ = [
    "CONDITIONS",
    "INTERVENTIONS",
    "ConceptSpec",
    "build_vocabulary",
    "demo_mesh_subset",
    "load_index",
    "main",
    "registry_id",
    "resolve",
    "tree_ancestors",
]

logger = logging.getLogger(__name__)

Concept = dict[str, Any]

DEFAULT_MESH_DIR: Final[Path] = Path(__file__).resolve().parents[3] / "shared" / "data" / "mesh"
DEFAULT_OUTPUT: Final[Path] = Path(__file__).resolve().parent / "data" / "vocabulary.json"
DEMO_MESH: Final[Path] = Path(__file__).resolve().parent / "data" / "mesh-demo.bin"
SEED: Final[Path] = Path(__file__).resolve().parent / "data" / "NCT07232407.json"
DESCRIPTOR_FILE: Final[str] = "d2024-reduced.bin"
SUPPLEMENT_FILE: Final[str] = "c2024-reduced.bin"
REGISTRY_C_DIGITS: Final[int] = 9  # ClinicalTrials.gov writes C447941 as C000447941


@dataclass(frozen=True)
class ConceptSpec:
    """One curated heading: the MeSH name (MH or NM) plus what the generator needs to use it."""

    heading: str
    areas: tuple[str, ...]
    variants: tuple[str, ...] = ()  # free-text spellings seen in registrations
    type: str = "DRUG"  # ClinicalTrials.gov intervention type; ignored for conditions


def _c(heading: str, *areas: str, variants: tuple[str, ...] = ()) -> ConceptSpec:
    return ConceptSpec(heading, areas, variants)


def _i(heading: str, type_: str, *areas: str, variants: tuple[str, ...] = ()) -> ConceptSpec:
    return ConceptSpec(heading, areas, variants, type_)


CONDITIONS: Final[tuple[ConceptSpec, ...]] = (
    _c("Digestive System Neoplasms", "digestive-oncology", variants=("Digestive System Cancer", "GI Cancer")),
    _c("Stomach Neoplasms", "digestive-oncology", variants=("Gastric Cancer", "Gastric Adenocarcinoma")),
    _c("Pancreatic Neoplasms", "digestive-oncology", variants=("Pancreatic Cancer",)),
    _c("Liver Neoplasms", "digestive-oncology", variants=("Liver Cancer", "Liver Metastases")),
    _c("Carcinoma, Hepatocellular", "digestive-oncology", variants=("Hepatocellular Carcinoma", "HCC")),
    _c("Colorectal Neoplasms", "digestive-oncology", variants=("Colorectal Cancer", "mCRC")),
    _c("Esophageal Neoplasms", "digestive-oncology", variants=("Esophageal Cancer", "Oesophageal Cancer")),
    _c("Biliary Tract Neoplasms", "digestive-oncology", variants=("Biliary Tract Cancer", "Cholangiocarcinoma")),
    _c("Neuroendocrine Tumors", "digestive-oncology", "solid-tumour", variants=("NET", "GEP-NET")),
    _c("Carcinoid Tumor", "digestive-oncology", variants=("Carcinoid Tumour",)),
    _c("Neoplasms", "solid-tumour", variants=("Solid Tumor", "Advanced Solid Tumors", "Cancer")),
    _c("Carcinoma, Non-Small-Cell Lung", "lung-oncology", variants=("NSCLC", "Non-small Cell Lung Cancer")),
    _c("Lung Neoplasms", "lung-oncology", variants=("Lung Cancer",)),
    _c("Small Cell Lung Carcinoma", "lung-oncology", variants=("SCLC", "Small Cell Lung Cancer")),
    _c("Prostatic Neoplasms", "prostate-oncology", variants=("Prostate Cancer", "Prostate Adenocarcinoma")),
    _c("Prostatic Neoplasms, Castration-Resistant", "prostate-oncology", variants=("mCRPC", "CRPC")),
    _c("Breast Neoplasms", "oncology", variants=("Breast Cancer", "HER2-positive Breast Cancer")),
    _c("Melanoma", "oncology", variants=("Metastatic Melanoma",)),
    _c("Lymphoma, Large B-Cell, Diffuse", "oncology", variants=("DLBCL",)),
    _c("Multiple Myeloma", "oncology", variants=("Myeloma",)),
    _c("Heart Failure", "cardiology", variants=("HFrEF", "Chronic Heart Failure")),
    _c("Atrial Fibrillation", "cardiology", variants=("AF", "Atrial Fibrillation, Paroxysmal")),
    _c("Hypertension", "cardiology", variants=("High Blood Pressure", "Essential Hypertension")),
    _c("Coronary Artery Disease", "cardiology", variants=("CAD",)),
    _c("Myocardial Infarction", "cardiology", variants=("Acute Myocardial Infarction", "STEMI")),
    _c("Diabetes Mellitus, Type 2", "diabetes", variants=("Type 2 Diabetes", "T2DM")),
    _c("Diabetes Mellitus, Type 1", "diabetes", variants=("Type 1 Diabetes", "T1D")),
    _c("Obesity", "diabetes", variants=("Overweight and Obesity",)),
    _c("Alzheimer Disease", "neurology", variants=("Alzheimer's Disease", "Early Alzheimer's Disease")),
    _c("Parkinson Disease", "neurology", variants=("Parkinson's Disease",)),
    _c("Multiple Sclerosis", "neurology", variants=("Relapsing Multiple Sclerosis", "RMS")),
    _c("Stroke", "neurology", variants=("Acute Ischemic Stroke",)),
    _c("Migraine Disorders", "neurology", variants=("Migraine", "Chronic Migraine")),
    _c("COVID-19", "infectious-disease", variants=("SARS-CoV-2 Infection",)),
    _c("HIV Infections", "infectious-disease", variants=("HIV-1 Infection", "HIV")),
    _c("Hepatitis B", "infectious-disease", variants=("Chronic Hepatitis B", "HBV")),
    _c("Tuberculosis", "infectious-disease", variants=("Pulmonary Tuberculosis",)),
    _c("Influenza, Human", "infectious-disease", variants=("Influenza", "Seasonal Influenza")),
    _c("Prostatic Hyperplasia", "urology", variants=("Benign Prostatic Hyperplasia", "BPH")),
    _c("Urinary Bladder, Overactive", "urology", variants=("Overactive Bladder", "OAB")),
    _c("Kidney Calculi", "urology", variants=("Kidney Stones", "Nephrolithiasis")),
    _c("Depressive Disorder, Major", "mental-health", variants=("Major Depressive Disorder", "MDD")),
    _c("Schizophrenia", "mental-health"),
    _c("Anxiety Disorders", "mental-health", variants=("Generalized Anxiety Disorder", "Anxiety")),
    _c("Asthma", "respiratory", variants=("Severe Asthma",)),
    _c("Pulmonary Disease, Chronic Obstructive", "respiratory", variants=("COPD",)),
    _c("Arthritis, Rheumatoid", "immunology", variants=("Rheumatoid Arthritis", "RA")),
    _c("Psoriasis", "immunology", variants=("Plaque Psoriasis",)),
    _c("Intervertebral Disc Displacement", "pain", variants=("Herniated Disc", "Lumbar Disc Herniation")),
    _c("Chronic Pain", "pain"),
)

INTERVENTIONS: Final[tuple[ConceptSpec, ...]] = (
    # The seed trial's world: lutetium-based radioligands and their relatives.
    _i("Lutetium", "DRUG", "radioligand", variants=("177Lu", "Lu-177", "Lutetium-177")),
    _i("Lutetium Lu 177 dotatate", "DRUG", "radioligand", variants=("Lutathera", "177Lu-DOTATATE")),
    _i("edotreotide lutetium LU-177", "DRUG", "radioligand", variants=("177Lu-edotreotide", "177Lu-DOTATOC")),
    _i("177Lu-PSMA-617", "DRUG", "prostate-oncology", "radioligand", variants=("Lu-PSMA-617", "Pluvicto")),
    _i("gallium 68 PSMA-11", "DRUG", "prostate-oncology", variants=("68Ga-PSMA-11", "Ga-68 PSMA PET")),
    _i("radium Ra 223 dichloride", "DRUG", "prostate-oncology", variants=("Radium-223", "Xofigo")),
    _i("Yttrium Radioisotopes", "RADIATION", "digestive-oncology", variants=("Y-90 Radioembolization",)),
    _i("Octreotide", "DRUG", "digestive-oncology", "radioligand", variants=("Octreotide LAR",)),
    # Oncology
    _i("Oxaliplatin", "DRUG", "digestive-oncology"),
    _i("Fluorouracil", "DRUG", "digestive-oncology", variants=("5-FU",)),
    _i("Capecitabine", "DRUG", "digestive-oncology", variants=("Xeloda",)),
    _i("Gemcitabine", "DRUG", "digestive-oncology", "lung-oncology", variants=("Gemzar",)),
    _i("Everolimus", "DRUG", "digestive-oncology", "oncology"),
    _i("Sunitinib", "DRUG", "digestive-oncology", "oncology", variants=("Sutent",)),
    _i("Bevacizumab", "BIOLOGICAL", "digestive-oncology", "oncology", variants=("Avastin",)),
    _i("Pembrolizumab", "BIOLOGICAL", "lung-oncology", "oncology", "digestive-oncology", variants=("Keytruda",)),
    _i("Nivolumab", "BIOLOGICAL", "lung-oncology", "oncology", "digestive-oncology", variants=("Opdivo",)),
    _i("Durvalumab", "BIOLOGICAL", "lung-oncology", variants=("Imfinzi",)),
    _i("Atezolizumab", "BIOLOGICAL", "lung-oncology", "digestive-oncology", variants=("Tecentriq",)),
    _i("Osimertinib", "DRUG", "lung-oncology", variants=("Tagrisso", "AZD9291")),
    _i("Sotorasib", "DRUG", "lung-oncology", variants=("AMG 510",)),
    _i("Docetaxel", "DRUG", "lung-oncology", "prostate-oncology", variants=("Taxotere",)),
    _i("Paclitaxel", "DRUG", "lung-oncology", "oncology", "digestive-oncology"),
    _i("Cisplatin", "DRUG", "lung-oncology", "digestive-oncology"),
    _i("Abiraterone Acetate", "DRUG", "prostate-oncology", variants=("Zytiga",)),
    _i("Trastuzumab", "BIOLOGICAL", "oncology", variants=("Herceptin",)),
    _i("Denosumab", "BIOLOGICAL", "prostate-oncology", "oncology", variants=("Xgeva",)),
    _i("Radiotherapy", "RADIATION", "lung-oncology", "prostate-oncology", "digestive-oncology", "oncology"),
    _i("Brachytherapy", "RADIATION", "prostate-oncology"),
    _i("Prostatectomy", "PROCEDURE", "prostate-oncology", variants=("Radical Prostatectomy",)),
    # Cardiology, diabetes and metabolism
    _i("Metoprolol", "DRUG", "cardiology"),
    _i("Apixaban", "DRUG", "cardiology", variants=("Eliquis",)),
    _i("Atorvastatin", "DRUG", "cardiology", variants=("Lipitor",)),
    _i("Aspirin", "DRUG", "cardiology", "neurology", variants=("Acetylsalicylic Acid",)),
    _i("Sacubitril and valsartan sodium hydrate drug combination", "DRUG", "cardiology", variants=("Entresto",)),
    _i("Empagliflozin", "DRUG", "cardiology", "diabetes", variants=("Jardiance",)),
    _i("Dapagliflozin", "DRUG", "cardiology", "diabetes", variants=("Farxiga",)),
    _i("Stents", "DEVICE", "cardiology", "urology", variants=("Drug-eluting Stent",)),
    _i("Metformin", "DRUG", "diabetes"),
    _i("Insulin Glargine", "DRUG", "diabetes", variants=("Lantus",)),
    _i("Liraglutide", "DRUG", "diabetes", variants=("Victoza",)),
    _i("Tirzepatide", "DRUG", "diabetes", variants=("Mounjaro",)),
    _i("Exercise Therapy", "BEHAVIORAL", "cardiology", "diabetes", "pain", variants=("Supervised Exercise",)),
    _i("Telemedicine", "OTHER", "diabetes", "cardiology", "mental-health", variants=("Telehealth",)),
    # Neurology, mental health
    _i("Levodopa", "DRUG", "neurology"),
    _i("Donepezil", "DRUG", "neurology"),
    _i("Interferon beta-1a", "BIOLOGICAL", "neurology"),
    _i("Botulinum Toxins, Type A", "BIOLOGICAL", "neurology", "urology", variants=("OnabotulinumtoxinA",)),
    _i("Sertraline", "DRUG", "mental-health"),
    _i("Escitalopram", "DRUG", "mental-health"),
    _i("Aripiprazole", "DRUG", "mental-health"),
    _i("Ketamine", "DRUG", "mental-health", variants=("Esketamine",)),
    _i("Cognitive Behavioral Therapy", "BEHAVIORAL", "mental-health", "pain", variants=("CBT",)),
    # Infectious disease
    _i("COVID-19 Vaccines", "BIOLOGICAL", "infectious-disease", variants=("mRNA COVID-19 Vaccine",)),
    _i("Influenza Vaccines", "BIOLOGICAL", "infectious-disease", variants=("Quadrivalent Influenza Vaccine",)),
    _i("Remdesivir", "DRUG", "infectious-disease"),
    _i("Tenofovir", "DRUG", "infectious-disease", variants=("TDF",)),
    _i("Oseltamivir", "DRUG", "infectious-disease", variants=("Tamiflu",)),
    # Urology
    _i("Tamsulosin", "DRUG", "urology"),
    _i("Mirabegron", "DRUG", "urology"),
    # Respiratory, immunology, pain
    _i("Tiotropium Bromide", "DRUG", "respiratory", variants=("Tiotropium",)),
    _i("Albuterol", "DRUG", "respiratory", variants=("Salbutamol",)),
    _i("Adalimumab", "BIOLOGICAL", "immunology", variants=("Humira",)),
    _i("Methotrexate", "DRUG", "immunology"),
    _i("Ustekinumab", "BIOLOGICAL", "immunology"),
    _i("Pregabalin", "DRUG", "pain"),
    _i("Duloxetine Hydrochloride", "DRUG", "pain", "mental-health", variants=("Duloxetine",)),
    _i("Dexamethasone", "DRUG", "pain", "oncology"),
    _i("Physical Therapy Modalities", "OTHER", "pain", "neurology", variants=("Physiotherapy",)),
    _i("Acupuncture Therapy", "PROCEDURE", "pain", variants=("Acupuncture",)),
)


def registry_id(ui: str) -> str:
    """Spell a MeSH UI as ClinicalTrials.gov does: descriptors unchanged, supplementary concepts as C + 9 digits."""
    if ui.startswith("C"):
        return "C" + ui[1:].zfill(REGISTRY_C_DIGITS)
    return ui


def load_index(mesh_dir: Path) -> MeshIndex:
    """The descriptor and supplementary-concept files of one MeSH year, read by the package's own loader."""
    return MeshIndex.from_records(
        itertools.chain(iter_mesh_file(mesh_dir / DESCRIPTOR_FILE), iter_mesh_file(mesh_dir / SUPPLEMENT_FILE))
    )


def _ref(index: MeshIndex, ui: str) -> dict[str, str]:
    return {"id": registry_id(ui), "term": index.descriptors[ui].heading}


def tree_ancestors(index: MeshIndex, ui: str) -> list[str]:
    """Descriptors on a proper tree-number prefix, nearest first per tree number, as the registry lists them."""
    seen: dict[str, None] = {}
    for tree in index.descriptors[ui].tree_numbers:
        parts = tree.split(".")
        for depth in range(len(parts) - 1, 0, -1):
            ancestor = index.by_tree_number.get(".".join(parts[:depth]))
            if ancestor is not None and ancestor != ui:
                seen.setdefault(ancestor)
    return list(seen)


def resolve(index: MeshIndex, spec: ConceptSpec) -> Concept:
    """One curated heading as a vocabulary entry; unknown headings are an error, never a guess."""
    key = spec.heading.casefold()
    if key in index.by_heading:
        ui = index.by_heading[key]
        return {
            "id": registry_id(ui),
            "term": index.descriptors[ui].heading,
            "recordType": "descriptor",
            "treeNumbers": list(index.descriptors[ui].tree_numbers),
            "pharmacologicalActions": [_ref(index, pa) for pa in index.actions(ui)],
            "ancestors": [_ref(index, a) for a in tree_ancestors(index, ui)],
        }
    by_name = {concept.name.casefold(): ui for ui, concept in index.concepts.items()}
    if key not in by_name:
        raise KeyError(f"{spec.heading!r} is neither a descriptor (MH) nor a supplementary concept (NM)")
    ui = by_name[key]
    actions = index.actions(ui)
    ancestors: dict[str, None] = {}
    for pa in actions:
        ancestors.setdefault(pa)
        for ancestor in tree_ancestors(index, pa):
            ancestors.setdefault(ancestor)
    return {
        "id": registry_id(ui),
        "term": index.concepts[ui].name,
        "recordType": "supplementary",
        "treeNumbers": [],  # supplementary concepts have none; see their pharmacological actions
        "pharmacologicalActions": [
            {**_ref(index, pa), "treeNumbers": list(index.descriptors[pa].tree_numbers)} for pa in actions
        ],
        "ancestors": [_ref(index, a) for a in ancestors],
    }


def demo_mesh_subset(index: MeshIndex, uis: Iterable[str]) -> str:
    """The given concepts and everything above them (ancestors, pharmacological actions and theirs), written in
    NLM's ASCII format so the demo loads its hierarchy through the same loader as the real files. The set is
    closed under parents, so every tree number's parent is in it."""
    wanted_concepts = {ui for ui in uis if ui in index.concepts}
    wanted = {ui for ui in uis if ui in index.descriptors}
    for ui in [*wanted, *wanted_concepts]:
        wanted |= index.hierarchy(ui) | set(index.mapped(ui)) | set(index.actions(ui))
    for ui in list(wanted):
        wanted |= index.ancestors(ui)
    lines: list[str] = []
    for ui in sorted(wanted):
        descriptor = index.descriptors[ui]
        lines += ["*NEWRECORD", "RECTYPE = D", f"MH = {descriptor.heading}"]
        lines += [f"MN = {tree}" for tree in descriptor.tree_numbers]
        lines += [f"PA = {index.descriptors[pa].heading}" for pa in index.actions(ui) if pa in wanted]
        lines += [f"UI = {ui}", ""]
    for ui in sorted(wanted_concepts):
        concept = index.concepts[ui]
        lines += ["*NEWRECORD", "RECTYPE = C", f"NM = {concept.name}"]
        lines += [f"HM = {'*' if major else ''}{heading}" for heading, major in concept.mapped_to]
        lines += [f"PA = {name}" for name in concept.pharmacological_actions]
        lines += [f"UI = {ui}", ""]
    return "\n".join(lines)


def _entry(index: MeshIndex, spec: ConceptSpec, *, with_type: bool) -> Concept:
    entry = resolve(index, spec)
    entry["areas"] = list(spec.areas)
    entry["variants"] = list(spec.variants)
    if with_type:
        entry["type"] = spec.type
    return entry


def build_vocabulary(
    index: MeshIndex,
    conditions: Sequence[ConceptSpec] = CONDITIONS,
    interventions: Sequence[ConceptSpec] = INTERVENTIONS,
) -> dict[str, Any]:
    """Resolve the curated lists into the JSON document ``kg.demo.synthetic`` reads."""
    return {
        "description": (
            "Curated MeSH concepts for kg.demo.synthetic. ids use ClinicalTrials.gov spelling (supplementary "
            "concepts as C + 9 digits); ancestors are every descriptor on a tree-number prefix (for "
            "supplementary concepts: their pharmacological actions and those descriptors' ancestors)."
        ),
        "source": f"MeSH 2024 ({DESCRIPTOR_FILE}, {SUPPLEMENT_FILE}), U.S. National Library of Medicine",
        "generatedBy": "python -m kg.demo.make_vocabulary",
        "conditions": [_entry(index, spec, with_type=False) for spec in conditions],
        "interventions": [_entry(index, spec, with_type=True) for spec in interventions],
    }


def demo_mesh_ids(vocabulary: dict[str, Any]) -> list[str]:
    """The MeSH ids the demo corpus uses: the vocabulary's and the seed trial's (normalised)."""
    seed = json.loads(SEED.read_text(encoding="utf-8"))["derivedSection"]
    entries = vocabulary["conditions"] + vocabulary["interventions"]
    seed_terms = [term for module in seed.values() for term in module.get("meshes", [])]
    return sorted({normalize_mesh_id(item["id"]) for item in entries + seed_terms})


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point: write the vocabulary JSON and report its size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mesh-dir", type=Path, default=DEFAULT_MESH_DIR, help="folder with the MeSH .bin files")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write vocabulary.json")
    parser.add_argument("--demo-mesh", type=Path, default=DEMO_MESH, help="where to write the demo's MeSH subset")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    index = load_index(args.mesh_dir)
    vocabulary = build_vocabulary(index)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(vocabulary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    args.demo_mesh.write_text(demo_mesh_subset(index, demo_mesh_ids(vocabulary)), encoding="utf-8")
    logger.info(
        "wrote %s: %d conditions, %d interventions",
        args.output,
        len(vocabulary["conditions"]),
        len(vocabulary["interventions"]),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
