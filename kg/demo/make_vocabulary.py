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
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

__all__ = [
    "CONDITIONS",
    "INTERVENTIONS",
    "ConceptSpec",
    "MeshIndex",
    "build_vocabulary",
    "main",
    "parse_mesh_records",
    "registry_id",
]

logger = logging.getLogger(__name__)

MeshRecord = dict[str, list[str]]
Concept = dict[str, Any]

DEFAULT_MESH_DIR: Final[Path] = Path(__file__).resolve().parents[3] / "shared" / "data" / "mesh"
DEFAULT_OUTPUT: Final[Path] = Path(__file__).resolve().parent / "data" / "vocabulary.json"
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


def parse_mesh_records(lines: Iterable[str]) -> Iterator[MeshRecord]:
    """Yield MeSH ASCII records (``*NEWRECORD`` blocks) as field → values; repeated fields keep order."""
    record: MeshRecord = {}
    for raw in lines:
        line = raw.rstrip("\n")
        if line == "*NEWRECORD":
            if record:
                yield record
            record = {}
        elif " = " in line:
            key, value = line.split(" = ", 1)
            record.setdefault(key, []).append(value)
    if record:
        yield record


def registry_id(ui: str) -> str:
    """Spell a MeSH UI as ClinicalTrials.gov does: descriptors unchanged, supplementary concepts as C + 9 digits."""
    if ui.startswith("C"):
        return "C" + ui[1:].zfill(REGISTRY_C_DIGITS)
    return ui


class MeshIndex:
    """Descriptors and supplementary concepts looked up by name, UI and tree number."""

    def __init__(self, descriptors: Iterable[MeshRecord], supplements: Iterable[MeshRecord]) -> None:
        self.descriptors: dict[str, MeshRecord] = {}
        self.by_tree: dict[str, str] = {}
        self.by_heading: dict[str, str] = {}
        for record in descriptors:
            ui = record["UI"][0]
            self.descriptors[ui] = record
            self.by_heading[record["MH"][0].casefold()] = ui
            for tree in record.get("MN", []):
                self.by_tree[tree] = ui
        self.supplements: dict[str, MeshRecord] = {}
        self.by_name: dict[str, str] = {}
        for record in supplements:
            ui = record["UI"][0]
            self.supplements[ui] = record
            self.by_name[record["NM"][0].casefold()] = ui

    @classmethod
    def from_dir(cls, mesh_dir: Path) -> MeshIndex:
        """Read the descriptor and supplementary-concept files of one MeSH year from ``mesh_dir``."""
        with (
            (mesh_dir / DESCRIPTOR_FILE).open(encoding="utf-8") as d,
            (mesh_dir / SUPPLEMENT_FILE).open(encoding="utf-8") as c,
        ):
            return cls(parse_mesh_records(d), parse_mesh_records(c))

    def term(self, ui: str) -> str:
        return self.descriptors[ui]["MH"][0]

    def ref(self, ui: str) -> dict[str, str]:
        return {"id": registry_id(ui), "term": self.term(ui)}

    def tree_ancestors(self, ui: str) -> list[str]:
        """Descriptors on a proper tree-number prefix, nearest first per tree number, as the registry lists them."""
        seen: dict[str, None] = {}
        for tree in self.descriptors[ui].get("MN", []):
            parts = tree.split(".")
            for depth in range(len(parts) - 1, 0, -1):
                ancestor = self.by_tree.get(".".join(parts[:depth]))
                if ancestor is not None and ancestor != ui:
                    seen.setdefault(ancestor)
        return list(seen)

    def pharmacological_actions(self, record: MeshRecord) -> list[str]:
        """Descriptor UIs of a record's PA names; a name with no descriptor (renamed since) is skipped."""
        found = []
        for name in record.get("PA", []):
            ui = self.by_heading.get(name.casefold())
            if ui is None:
                logger.warning("pharmacological action %r of %s has no descriptor", name, record["UI"][0])
            else:
                found.append(ui)
        return found

    def concept(self, spec: ConceptSpec) -> Concept:
        """Resolve one curated heading to its vocabulary entry; unknown headings are an error, never a guess."""
        key = spec.heading.casefold()
        if key in self.by_heading:
            return self._descriptor_concept(self.by_heading[key])
        if key in self.by_name:
            return self._supplement_concept(self.by_name[key])
        raise KeyError(f"{spec.heading!r} is neither a descriptor (MH) nor a supplementary concept (NM)")

    def _descriptor_concept(self, ui: str) -> Concept:
        record = self.descriptors[ui]
        return {
            "id": registry_id(ui),
            "term": self.term(ui),
            "recordType": "descriptor",
            "treeNumbers": list(record.get("MN", [])),
            "pharmacologicalActions": [self.ref(pa) for pa in self.pharmacological_actions(record)],
            "ancestors": [self.ref(a) for a in self.tree_ancestors(ui)],
        }

    def _supplement_concept(self, ui: str) -> Concept:
        record = self.supplements[ui]
        actions = self.pharmacological_actions(record)
        ancestors: dict[str, None] = {}
        for pa in actions:
            ancestors.setdefault(pa)
            for ancestor in self.tree_ancestors(pa):
                ancestors.setdefault(ancestor)
        return {
            "id": registry_id(ui),
            "term": record["NM"][0],
            "recordType": "supplementary",
            "treeNumbers": [],  # supplementary concepts have none; see their pharmacological actions
            "pharmacologicalActions": [
                {**self.ref(pa), "treeNumbers": list(self.descriptors[pa].get("MN", []))} for pa in actions
            ],
            "ancestors": [self.ref(a) for a in ancestors],
        }


def _entry(index: MeshIndex, spec: ConceptSpec, *, with_type: bool) -> Concept:
    entry = index.concept(spec)
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


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point: write the vocabulary JSON and report its size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mesh-dir", type=Path, default=DEFAULT_MESH_DIR, help="folder with the MeSH .bin files")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write vocabulary.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    vocabulary = build_vocabulary(MeshIndex.from_dir(args.mesh_dir))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(vocabulary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    logger.info(
        "wrote %s: %d conditions, %d interventions",
        args.output,
        len(vocabulary["conditions"]),
        len(vocabulary["interventions"]),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
