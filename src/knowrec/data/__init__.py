"""Data stage: the ``Dataset`` model, its knowledge graph, file formats, built-in datasets (found, downloaded,
loaded), splits, negative sampling and the catalogue of ids a service serves."""

from knowrec.data.builtin import DATASETS, load_dataset
from knowrec.data.dataset import TEST, TRAIN, VALID, Dataset
from knowrec.data.formats.kgat import load_kgat
from knowrec.data.formats.recbole import export_recbole, load_recbole
from knowrec.data.formats.ripplenet import load_ripplenet
from knowrec.data.formats.table import ImportReport, attribute_kg, import_dataset
from knowrec.data.split import Split, SplitKind, split
from knowrec.data.triples import KnowledgeGraph

__all__ = [
    "DATASETS", "TEST", "TRAIN", "VALID", "Dataset", "ImportReport", "KnowledgeGraph", "Split", "SplitKind",
    "attribute_kg", "export_recbole", "import_dataset", "load_dataset", "load_kgat", "load_recbole",
    "load_ripplenet", "split",
]
